"""Operators and queues: applies AMI events to the live model, persists what they mean (queue
outcomes, callbacks, interval statistics), pushes live events and the operator's screen pop, and
carries out operators' and supervisors' actions through Asterisk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime

from agents.ami import AmiItem, Reconnected
from agents.callbacks import Callback, CallbackStatus, finish_attempt, start_attempt
from agents.errors import CallbackNotFound, NotLoggedIn
from agents.events import AmiEvent
from agents.model import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallerJoined,
    Changed,
    LiveModel,
    Outcome,
)
from agents.ports import (
    AgentsRepository,
    AsteriskControl,
    IntakeSaver,
    OperatorSession,
    Publisher,
)
from agents.stats import ServiceLevels, delta_for
from tickets.intake import CallIntake
from tickets.model import CallDisposition, Category, Line, User
from tickets.phone import national_phone, normalize_phone

logger = logging.getLogger(__name__)


class AgentsService:
    def __init__(
        self,
        *,
        control: AsteriskControl,
        repository: AgentsRepository,
        model: LiveModel,
        publisher: Publisher,
        intake: IntakeSaver,
        queue_lines: Mapping[str, Line],
        levels: ServiceLevels,
        callback_context: str = "operators",
    ) -> None:
        self._control = control
        self._repository = repository
        self.model = model
        self._publisher = publisher
        self._intake = intake
        self._queue_lines = dict(queue_lines)
        self._levels = levels
        self._callback_context = callback_context
        self._outcomes: asyncio.Queue[Outcome] = asyncio.Queue()
        self.applied = 0  # events applied to the live model
        self.persisted = 0  # outcomes written to the database

    @property
    def connected(self) -> bool:
        return self._control.connected

    @property
    def queues(self) -> list[str]:
        return sorted(self._queue_lines)

    # -- the event loop --------------------------------------------------------------------

    async def run(self, inbox: asyncio.Queue[AmiItem]) -> None:
        """Drain AMI events forever (cancelled at shutdown); one bad event never stops it.
        The live model and the consoles are updated at once; what the events mean for the
        database goes to ``run_persistence`` in order, so a slow database never delays them."""
        while True:
            item = await inbox.get()
            try:
                if isinstance(item, Reconnected):
                    await self.resync()
                else:
                    await self.handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("AMI event not applied: %r", item)

    async def resync(self) -> None:
        items = await self._control.snapshot()
        outcomes = self.model.resync(items, datetime.now(UTC))
        logger.info(
            "live model rebuilt from Asterisk: %d queues, %d operators, %d waiting callers",
            len(self.model.queues),
            len(self.model.operators),
            sum(len(q.waiting) for q in self.model.queues.values()),
        )
        self._publish_changes(outcomes)
        self._publisher.emit("queues", "resync", {})

    async def handle(self, event: AmiEvent) -> None:
        if not event.name:
            logger.warning("AMI message without Event ignored: %s", dict(event.fields))
            return
        outcomes = self.model.apply(event)
        self.applied += 1
        self._publish_changes(outcomes)
        for outcome in outcomes:
            if not isinstance(outcome, Changed):
                self._outcomes.put_nowait(outcome)

    async def run_persistence(self) -> None:
        """Write queue outcomes, callbacks and statistics, in event order, forever."""
        while True:
            outcome = await self._outcomes.get()
            try:
                await self._persist(outcome)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("queue outcome not stored: %r", outcome)
            self.persisted += 1

    @property
    def backlog(self) -> int:
        return self._outcomes.qsize()

    async def _persist(self, outcome: Outcome) -> None:
        delta = delta_for(outcome, self._levels)
        if delta is not None:
            await self._repository.add_to_intervals(delta)
        match outcome:
            case CallerJoined():
                await self._ensure_ticket(outcome)
                await self._repository.record_join(outcome.uniqueid, outcome.at)
            case CallAnswered():
                await self._repository.record_answer(
                    outcome.uniqueid, outcome.at, outcome.hold_seconds, outcome.interface
                )
                await self._screen_pop(outcome)
            case CallAbandoned():
                await self._repository.record_abandon(
                    outcome.uniqueid, outcome.at, outcome.hold_seconds
                )
                callback = await self._repository.add_callback(
                    outcome.uniqueid,
                    outcome.queue,
                    self._line(outcome.queue).value,
                    outcome.caller,
                    normalize_phone(outcome.caller),
                    outcome.hold_seconds,
                    outcome.at,
                )
                if callback is not None:
                    self._publisher.emit("calls", "callback_added", callback.to_json())
            case CallCompleted():
                self._publisher.emit(
                    "calls",
                    "completed",
                    {"uniqueid": outcome.uniqueid, "talk_seconds": outcome.talk_seconds},
                )

    def _line(self, queue: str) -> Line:
        return self._queue_lines.get(queue, Line.CITIZEN)

    async def _ensure_ticket(self, joined: CallerJoined) -> None:
        """A call the IVR never saw (backend unreachable: the dialplan's fallback) still
        becomes a ticket, from what the queue event tells."""
        if await self._repository.call_known(joined.uniqueid):
            return
        line = self._line(joined.queue)
        intake = CallIntake(
            uniqueid=joined.uniqueid,
            linkedid=joined.uniqueid,
            line=line,
            caller_raw=joined.caller or "unknown",
            channel="",
            started_at=joined.at,
            category=Category.MEDICAL if line is Line.MEDICAL else Category.UNCLASSIFIED,
            disposition=CallDisposition.FALLBACK,
            queue=joined.queue,
        ).step("seen_in_queue", {"queue": joined.queue})
        code = await self._intake.save(intake)
        logger.warning(
            "call %s joined %s without passing the IVR; ticket %s created from the queue",
            joined.uniqueid,
            joined.queue,
            code or "(spooled)",
        )

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
        now = datetime.now(UTC)
        seen: set[tuple[str, str]] = set()
        for outcome in outcomes:
            if not isinstance(outcome, Changed) or (outcome.topic, outcome.key) in seen:
                continue
            seen.add((outcome.topic, outcome.key))
            if outcome.topic == "queues" and outcome.key in self.model.queues:
                self._publisher.emit("queues", "changed", self.model.queue_view(outcome.key, now))
            elif outcome.topic == "operators":
                if outcome.key in self.model.operators:
                    view = self.model.operator_view(outcome.key, now)
                    self._publisher.emit("operators", "changed", view)
                else:
                    self._publisher.emit("operators", "removed", {"interface": outcome.key})
            elif outcome.topic == "calls":
                self._publisher.emit("calls", "changed", {"uniqueid": outcome.key})

    # -- operators' actions ----------------------------------------------------------------

    async def login(self, user: User, extension: str, queues: list[str] | None) -> OperatorSession:
        interface = extension if "/" in extension else f"PJSIP/{extension}"
        chosen = queues or self.queues
        unknown = set(chosen) - set(self.queues)
        if unknown:
            raise ValueError(f"unknown queues: {sorted(unknown)}")
        for queue in chosen:
            try:
                await self._control.queue_add(queue, interface, user.username)
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
        for queue in session.queues:
            try:
                await self._control.queue_remove(queue, session.interface)
            except Exception as err:
                logger.warning("QueueRemove %s from %s: %s", session.interface, queue, err)
        logger.info("operator %s logged out of %s", session.username, session.interface)

    async def pause(self, user_id: int, paused: bool, reason: str = "") -> None:
        session = await self._repository.session_of_user(user_id)
        if session is None:
            raise NotLoggedIn("this operator is not logged in")
        await self._control.queue_pause(session.interface, paused, reason)

    async def session(self, user_id: int) -> OperatorSession | None:
        return await self._repository.session_of_user(user_id)

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
        await self._repository.update_callback(callback.id, status, user.id, attempt=True)
        answered = await self._control.originate(
            session.interface,
            context=self._callback_context,
            exten=national_phone(callback.phone),
            callerid=f"Hotline {callback.line} <{callback.line}>",
            variables={
                "HOTLINE_CALLBACK": str(callback.id),
                "HOTLINE_TICKET": callback.ticket_code or "",
            },
        )
        if not answered:
            logger.info("callback %d: operator %s did not pick up", callback.id, user.username)
            await self._repository.update_callback(
                callback.id, CallbackStatus.PENDING, user.id, attempt=False
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
        await self._repository.update_callback(callback.id, status, user.id, attempt=False)
        updated = await self._repository.callback(callback.id)
        assert updated is not None
        self._publisher.emit("calls", "callback_changed", updated.to_json())
        return updated
