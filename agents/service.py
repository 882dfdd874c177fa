"""Operators and queues: applies AMI events to the live model, pushes live events and the
operator's screen pop, and carries out operators' and supervisors' actions through Asterisk.
Nothing is persisted from AMI events: what happened in the queues is Asterisk's queue_log,
applied by ``agents/applier.py``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from agents.ami import AmiItem, Reconnected
from agents.callbacks import (
    Callback,
    CallbackStatus,
    InvalidTransition,
    finish_attempt,
    start_attempt,
)
from agents.errors import (
    CallAlreadyOnLine,
    CallbackNotFound,
    CallNotFound,
    CallNotLive,
    NotLoggedIn,
    NotOnThisCall,
    OperatorNotOnCall,
    SpyNotConnected,
)
from agents.events import AmiEvent
from agents.model import CallAnswered, CallCompleted, Changed, LiveModel, Outcome
from agents.ports import (
    AgentsRepository,
    Answer,
    AsteriskControl,
    OperatorSession,
    Publisher,
    TicketTransfer,
)
from tickets.model import Line, Role, User
from tickets.phone import national_phone
from tickets.service import Clock, utc_now

logger = logging.getLogger(__name__)

TRANSFER_CONTEXT = "hotline-transfer"  # asterisk_conf/extensions.conf: one extension per line
OVERSEERS = frozenset({Role.SUPERVISOR, Role.ADMIN})  # may move any live caller
RESYNC_FIRST_RETRY, RESYNC_LAST_RETRY = 1.0, 30.0  # seconds between attempts of a failed resync


class SpyMode(StrEnum):
    """How a supervisor joins an operator's call (app_chanspy, Asterisk 20)."""

    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"

    @property
    def options(self) -> str:
        """ChanSpy options for this mode.

        Always ``b``: spy only on a channel in a bridged call (never the operator's phone while
        it merely rings); ``q``: no beep and no channel name spoken, so neither the citizen nor
        the operator hears the supervisor arrive; ``E``: exit (the supervisor's phone hangs up)
        when the spied-on channel hangs up, rather than scanning for the operator's next call;
        ``S``: stop when nothing is left to spy on, so a call that ended while the supervisor's
        phone rang leaves no ChanSpy scanning forever. Then ``w`` (whisper: only the operator
        hears the supervisor; not ``W``, which would also stop the supervisor hearing the
        call) or ``B`` (barge: the citizen and the operator both hear the supervisor).
        Listening adds nothing: ChanSpy only listens by default.
        """
        extra = {SpyMode.LISTEN: "", SpyMode.WHISPER: "w", SpyMode.BARGE: "B"}[self]
        return f"bq{extra}ES"


# What the supervisor is told when their softphone did not join the call.
_NOT_CONNECTED = {
    Answer.NO_ANSWER: "did not answer within 30 s",
    Answer.BUSY: "was busy",
    Answer.CONGESTION: "could not be reached (congestion)",
    Answer.HUNG_UP: "hung up while ringing",
    Answer.UNAVAILABLE: "is not available (not registered, or no such phone)",
}


class AgentsService:
    def __init__(
        self,
        *,
        controls: Mapping[str, AsteriskControl],
        repository: AgentsRepository,
        model: LiveModel,
        publisher: Publisher,
        queue_lines: Mapping[str, Line],
        callback_context: str = "operators",
        callback_numbers: Mapping[Line, str] | None = None,
        clock: Clock = utc_now,
    ) -> None:
        # One AMI link per PBX, by name; an action goes to the PBX of the softphone or call it
        # is about (the first PBX when none has reported it yet).
        self._controls = dict(controls)
        self._first = next(iter(self._controls.values()))
        self._repository = repository
        self.model = model
        self._publisher = publisher
        self._queue_lines = dict(queue_lines)
        self._callback_context = callback_context
        # The caller ID a citizen sees when called back: the line's public number.
        self._callback_numbers = {line: line.value for line in Line} | dict(callback_numbers or {})
        self._pops: asyncio.Queue[CallAnswered | CallCompleted] = asyncio.Queue()
        self._clock = clock
        self.applied = 0  # events applied to the live model
        self._changed: dict[tuple[str, str], None] = {}  # (topic, key) whose view is due
        self._views: asyncio.Handle | None = None  # the call that publishes them

    @property
    def connected(self) -> bool:
        """Every PBX's AMI link is up."""
        return all(control.connected for control in self._controls.values())

    def _control(self, pbx: str | None) -> AsteriskControl:
        return self._controls.get(pbx or "", self._first)

    def _control_of(self, interface: str) -> AsteriskControl:
        """The AMI link of the PBX where this softphone is registered."""
        return self._control(self.model.pbx_of(interface))

    @property
    def queues(self) -> list[str]:
        return sorted(self._queue_lines)

    # -- the event loop --------------------------------------------------------------------

    async def run(self, inbox: asyncio.Queue[AmiItem]) -> None:
        """Drain AMI events forever (cancelled at shutdown); one bad event never stops it.
        The live model and the consoles are updated at once; screen pops (which read the
        ticket) go to ``run_screen_pops`` in order, so a slow database never delays them.
        A PBX's resync that fails is tried again after 1 s, then 2, 4 … up to 30 s, in this
        same loop (so a listing and the events around it keep their order) while events go on
        being applied; a new login's resync supersedes the pending one."""
        retry_at: dict[str, float] = {}  # PBX → when to try its resync again
        delays: dict[str, float] = {}
        loop = asyncio.get_running_loop()
        while True:
            item: AmiItem
            due = min(retry_at.values(), default=None)
            if due is not None and due <= loop.time():
                item = Reconnected(min(retry_at, key=retry_at.__getitem__))
            elif not inbox.empty():  # a busy link: no timer per event
                item = inbox.get_nowait()
            else:
                try:
                    async with asyncio.timeout_at(due):
                        item = await inbox.get()
                except TimeoutError:
                    item = Reconnected(min(retry_at, key=retry_at.__getitem__))
            try:
                if isinstance(item, Reconnected):
                    retry_at.pop(item.pbx, None)
                    await self.resync(item.pbx)
                    delays.pop(item.pbx, None)
                else:
                    await self.handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                if not isinstance(item, Reconnected):
                    logger.exception("AMI event not applied: %r", item)
                elif self._control(item.pbx).connected:
                    delay = delays.get(item.pbx, RESYNC_FIRST_RETRY)
                    logger.exception(
                        "live model of %s not rebuilt; trying again in %.0f s", item.pbx, delay
                    )
                    retry_at[item.pbx] = loop.time() + delay
                    delays[item.pbx] = min(delay * 2, RESYNC_LAST_RETRY)
                else:
                    logger.warning(
                        "live model of %s not rebuilt: AMI is down; the next login does it",
                        item.pbx,
                    )

    async def resync(self, pbx: str) -> None:
        items = await self._control(pbx).snapshot()
        outcomes = self.model.resync(items, self._clock(), pbx)
        logger.info(
            "live model rebuilt from Asterisk %s: %d queues, %d operators, %d waiting callers",
            pbx,
            len(self.model.queues),
            len(self.model.operators),
            sum(len(q.waiting) for q in self.model.queues.values()),
        )
        self._publish_changes(outcomes)
        self._publish_views()
        self._publisher.emit("queues", "resync", {})

    async def handle(self, event: AmiEvent) -> None:
        if not event.name:
            logger.warning("AMI message without Event ignored: %s", dict(event.fields))
            return
        outcomes = self.model.apply(event)
        self.applied += 1
        self._publish_changes(outcomes)
        for outcome in outcomes:
            if isinstance(outcome, CallAnswered | CallCompleted):
                self._pops.put_nowait(outcome)

    async def run_screen_pops(self) -> None:
        """The operator's screen pop for each answered call, in event order, forever."""
        while True:
            outcome = await self._pops.get()
            try:
                if isinstance(outcome, CallAnswered):
                    await self._screen_pop(outcome)
                else:
                    self._publisher.emit(
                        "calls",
                        "completed",
                        {"uniqueid": outcome.uniqueid, "talk_seconds": outcome.talk_seconds},
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("screen pop not shown: %r", outcome)

    @property
    def backlog(self) -> int:
        return self._pops.qsize()

    def _line(self, queue: str) -> Line:
        return self._queue_lines.get(queue, Line.CITIZEN)

    async def _screen_pop(self, answered: CallAnswered) -> None:
        session = await self._repository.session_of_interface(answered.interface)
        if session is None:
            logger.info(
                "call %s answered at %s, where nobody is logged in",
                answered.uniqueid,
                answered.interface,
            )
            return
        pop = await self._repository.screen_pop(answered.uniqueid) or {}
        phone = pop.get("caller_phone")
        self._publisher.emit(
            "me",
            "screen_pop",
            {
                "uniqueid": answered.uniqueid,
                "queue": answered.queue,
                "hold_seconds": answered.hold_seconds,
                "caller_phone_national": national_phone(phone) if phone else None,
                **pop,
            },
            user_id=session.user_id,
        )

    def _publish_changes(self, outcomes: list[Outcome]) -> None:
        """Note what changed; the views go out once the events at hand are applied (the next
        turn of the event loop): a burst that changes a queue a hundred times builds its view
        once."""
        for outcome in outcomes:
            if isinstance(outcome, Changed):
                self._changed[(outcome.topic, outcome.key)] = None
        if self._changed and self._views is None:
            self._views = asyncio.get_running_loop().call_soon(self._publish_views)

    def _publish_views(self) -> None:
        """The views of what changed since the last call, in the order they first changed."""
        if self._views is not None:
            self._views.cancel()
            self._views = None
        changed, self._changed = self._changed, {}
        now = self._clock()
        for topic, key in changed:
            # a queue's or operator's whole view: keyed, so a console's next frame holds the last
            if topic == "queues" and key in self.model.queues:
                view = self.model.queue_view(key, now)
                self._publisher.emit("queues", "changed", view, key=key)
            elif topic == "operators":
                if key in self.model.operators:
                    view = self.model.operator_view(key, now)
                    self._publisher.emit("operators", "changed", view, key=key)
                else:
                    self._publisher.emit("operators", "removed", {"interface": key}, key=key)
            elif topic == "calls":
                self._publisher.emit("calls", "changed", {"uniqueid": key})

    # -- operators' actions ----------------------------------------------------------------

    async def login(self, user: User, extension: str, queues: list[str] | None) -> OperatorSession:
        interface = extension if "/" in extension else f"PJSIP/{extension}"
        chosen = queues or self.queues
        unknown = set(chosen) - set(self.queues)
        if unknown:
            raise ValueError(f"unknown queues: {sorted(unknown)}")
        control = self._control_of(interface)
        for queue in chosen:
            try:
                await control.queue_add(queue, interface, user.username)
            except Exception as err:
                if "Already there" not in str(err):
                    raise
        await self._repository.open_session(user.id, interface, chosen)
        logger.info("operator %s logged in at %s to %s", user.username, interface, chosen)
        session = await self._repository.session_of_user(user.id)
        assert session is not None
        return session

    async def logout(self, user_id: int) -> None:
        session = await self._repository.close_session(user_id)
        if session is None:
            raise NotLoggedIn("this operator is not logged in")
        control = self._control_of(session.interface)
        for queue in session.queues:
            try:
                await control.queue_remove(queue, session.interface)
            except Exception as err:
                logger.warning("QueueRemove %s from %s: %s", session.interface, queue, err)
        logger.info("operator %s logged out of %s", session.username, session.interface)

    async def pause(self, user_id: int, paused: bool, reason: str = "") -> None:
        session = await self._repository.session_of_user(user_id)
        if session is None:
            raise NotLoggedIn("this operator is not logged in")
        await self._control_of(session.interface).queue_pause(session.interface, paused, reason)

    async def session(self, user_id: int) -> OperatorSession | None:
        return await self._repository.session_of_user(user_id)

    # -- supervision -----------------------------------------------------------------------

    async def spy(
        self, supervisor: User, target_interface: str, mode: SpyMode, extension: str
    ) -> dict[str, Any]:
        """Ring the supervisor's softphone; once answered it listens to, whispers to or barges
        into the operator's call (AMI Originate of ``Application: ChanSpy``).

        ChanSpy picks channels by name prefix: ``PJSIP/op101-`` (with the dash) matches the
        operator's legs ``PJSIP/op101-0000002b`` and never ``PJSIP/op1010-…``.
        """
        call = self.model.call_of(target_interface)
        if call is None:
            raise OperatorNotOnCall(f"{target_interface} is not on a call")
        spyer = extension if "/" in extension else f"PJSIP/{extension}"
        if spyer.lower() == target_interface.lower():
            raise ValueError("a supervisor cannot spy from the operator's own phone")
        data = f"{target_interface}-,{mode.options}"
        operator = self.model.operators.get(target_interface)
        name = operator.name if operator is not None else target_interface
        endpoint = target_interface.split("/", 1)[-1]
        logger.info(
            "supervisor %s: %s on %s (call %s) from %s",
            supervisor.username,
            mode.value,
            target_interface,
            call.uniqueid,
            spyer,
        )
        # ChanSpy runs on the PBX of the call: the supervisor's softphone must be there too.
        answer = await self._control(call.pbx).originate_application(
            spyer,
            application="ChanSpy",
            data=data,
            callerid=f"{mode.value.capitalize()} {name} <{endpoint}>",
            variables={"HOTLINE_SPY_MODE": mode.value, "HOTLINE_SPY_BY": supervisor.username},
        )
        if answer is not Answer.ANSWERED:
            logger.info("supervisor %s: %s rang, %s", supervisor.username, spyer, answer.value)
            raise SpyNotConnected(
                f"{spyer} {_NOT_CONNECTED[answer]}: nobody is listening to {target_interface}",
                why=answer.value,
                extension=spyer,
            )
        still = self.model.call_of(target_interface)
        if still is None or still.uniqueid != call.uniqueid:
            logger.info("supervisor %s: call %s ended first", supervisor.username, call.uniqueid)
            raise SpyNotConnected(
                f"the call of {target_interface} ended before {spyer} answered",
                why="call_ended",
                extension=spyer,
            )
        return {
            "interface": target_interface,
            "uniqueid": call.uniqueid,
            "mode": mode.value,
            "extension": spyer,
            "application_data": data,
            "answered": True,
        }

    # -- transfer between the lines --------------------------------------------------------

    async def transfer(
        self, user: User, uniqueid: str, line: Line, tickets: TicketTransfer
    ) -> dict[str, Any]:
        """Move a live caller to the other line: the ticket first (the back office's own
        transfer: a new ticket on ``line``, linked), then an AMI Redirect of the *caller's*
        channel to ``hotline-transfer,<line>,1`` (the first operator's leg is hung up by
        Asterisk; the caller joins the other line's queue ahead of its waiting callers).
        Only the operator talking to the caller may do it, or a supervisor (any caller, one
        still waiting too)."""
        where = self.model.caller_channel(uniqueid)
        if where is None:
            if not await self._repository.call_known(uniqueid):
                raise CallNotFound(f"no call {uniqueid}")
            raise CallNotLive(f"call {uniqueid} is over or not in a queue")
        if user.role not in OVERSEERS:
            await self._check_on_call(user, uniqueid)
        channel, queue, pbx = where
        from_line = self._line(queue)
        if from_line is line:
            raise CallAlreadyOnLine(f"call {uniqueid} is already on {line.value}")
        pop = await self._repository.screen_pop(uniqueid)
        old_code: str | None = None
        new_code: str | None = None
        if pop is not None:
            old_code = str(pop["code"])
            if pop["line"] != line.value:
                new_code = (await tickets.transfer(user, int(pop["id"]))).code
        else:
            logger.warning("call %s has no ticket yet (spooled?): only the call moves", uniqueid)
        await self._control(pbx).redirect(
            channel, context=TRANSFER_CONTEXT, exten=line.value, priority="1"
        )
        logger.info(
            "%s moved call %s (%s) from %s to %s; ticket %s -> %s",
            user.username,
            uniqueid,
            channel,
            from_line.value,
            line.value,
            old_code,
            new_code,
        )
        data = {
            "uniqueid": uniqueid,
            "channel": channel,
            "from_line": from_line.value,
            "to_line": line.value,
            "ticket": old_code,
            "new_ticket": new_code,
            "by": user.username,
        }
        self._publisher.emit("calls", "transferred", data)
        return data

    async def _check_on_call(self, user: User, uniqueid: str) -> None:
        session = await self._repository.session_of_user(user.id)
        live = self.model.calls.get(uniqueid)
        if session is None or live is None or live.interface.lower() != session.interface.lower():
            logger.warning(
                "%s may not move call %s: not the operator on it", user.username, uniqueid
            )
            raise NotOnThisCall("only the operator on this call, or a supervisor, may move it")

    # -- callbacks -------------------------------------------------------------------------

    async def call_back(self, callback_id: int, user: User) -> Callback:
        """Ring the operator's softphone; when they pick up, Asterisk dials the citizen."""
        callback = await self._repository.callback(callback_id)
        if callback is None:
            raise CallbackNotFound(f"no callback {callback_id}")
        session = await self._repository.session_of_user(user.id)
        if session is None:
            raise NotLoggedIn("log in with your softphone before calling back")
        status = start_attempt(callback)
        assert callback.phone is not None
        # Check and act in one statement: of two operators pressing "call back" at once, only
        # the one whose UPDATE still finds it pending rings the citizen.
        if not await self._repository.update_callback(
            callback.id, callback.status, status, user.id, attempt=True
        ):
            raise InvalidTransition(f"callback {callback.id} was taken meanwhile; reload")
        line = Line(callback.line)
        try:
            answer = await self._control_of(session.interface).originate(
                session.interface,
                context=self._callback_context,
                exten=national_phone(callback.phone),
                # What the operator's phone shows, and, through Dial's connected line
                # (app_dial.c), the From the carrier turns into the citizen's caller ID.
                callerid=f"Hotline {line.value} <{self._callback_numbers[line]}>",
                variables={
                    "HOTLINE_CALLBACK": str(callback.id),
                    "HOTLINE_TICKET": callback.ticket_code or "",
                },
            )
        except Exception:
            # Asterisk never took the call: the callback is free for the next attempt.
            await self._repository.update_callback(
                callback.id, status, CallbackStatus.PENDING, user.id, attempt=False
            )
            raise
        if answer is not Answer.ANSWERED:
            logger.info("callback %d: operator %s: %s", callback.id, user.username, answer.value)
            await self._repository.update_callback(
                callback.id, status, CallbackStatus.PENDING, user.id, attempt=False
            )
        updated = await self._repository.callback(callback.id)
        assert updated is not None
        self._publisher.emit("calls", "callback_changed", updated.to_json())
        return updated

    async def callback_result(self, callback_id: int, reached: bool, user: User) -> Callback:
        callback = await self._repository.callback(callback_id)
        if callback is None:
            raise CallbackNotFound(f"no callback {callback_id}")
        status = finish_attempt(callback, reached)
        if not await self._repository.update_callback(
            callback.id, callback.status, status, user.id, attempt=False
        ):
            raise InvalidTransition(f"callback {callback.id} changed meanwhile; reload")
        updated = await self._repository.callback(callback.id)
        assert updated is not None
        self._publisher.emit("calls", "callback_changed", updated.to_json())
        return updated
