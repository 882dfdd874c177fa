"""The back-office service: classify, forward (routing + deadline), accept, respond, close,
reopen, reassign, escalate, duplicates and merge, transfer between 1022 and 115, and 115
dispatch. Pure domain: it talks to storage through the ``BackofficeStore`` port; every change
is one ticket event (who, when, what) written in the same transaction as the change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from tickets.agencies import Province
from tickets.dispatch import (
    DEFAULT_TIMEOUT,
    MILESTONES,
    SUCCESSFUL_OUTCOMES,
    Attempt,
    DispatchResult,
    Outcome,
    Point,
    next_facility,
)
from tickets.duplicates import DEFAULT_WINDOW, Candidate, Suggestion, suggest
from tickets.errors import (
    AgencyNotFound,
    CategoryNotFound,
    InvalidRequest,
    InvalidTransition,
    LocalityNotFound,
    NoFacilityAvailable,
    NotYourTicket,
    TicketNotFound,
)
from tickets.events import EventKind
from tickets.lifecycle import EVENT_OF, Action, Closure, next_status
from tickets.model import Category, Line, Role, TicketStatus, User
from tickets.routing import Router

logger = logging.getLogger(__name__)

SYSTEM = "system"
SWEEP_INTERVAL = 15.0
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TicketState:
    """What the back office needs to know about a ticket to decide the next step."""

    id: int
    code: str
    line: Line
    category: Category
    subcategory: str | None
    status: TicketStatus
    locality: str | None
    agency_code: str | None
    caller_phone: str | None
    description: str | None
    location: str | None
    lat: float | None
    long: float | None
    created_at: datetime
    deadline_at: datetime | None
    responded_at: datetime | None
    dispatched_at: datetime | None
    merged_into: int | None


@dataclass(frozen=True)
class Change:
    """Column values to set and the event that records them."""

    action: EventKind
    actor: str
    at: datetime
    status: TicketStatus | None
    columns: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)


class BackofficeStore(Protocol):
    def atomic(self) -> AbstractAsyncContextManager[BackofficeStore]:
        """A store whose every change commits together when the block ends, or none does."""
        ...

    async def province(self) -> Province: ...

    async def state(self, ticket_id: int) -> TicketState | None: ...

    async def apply(self, ticket: TicketState, change: Change) -> TicketState:
        """Apply if the ticket is still in ``ticket.status`` (else ``InvalidTransition``)."""
        ...

    async def note(self, ticket_id: int, change: Change) -> None:
        """An event without a status change (e.g. on the ticket a duplicate was merged into)."""
        ...

    async def candidates(self, ticket: TicketState, window: timedelta) -> list[Candidate]:
        """Open tickets of the same category and locality created within ``window`` of it."""
        ...

    async def transfer(self, ticket: TicketState, line: Line, change: Change) -> TicketState:
        """Create the ticket on ``line`` (history linked) and apply ``change`` to the old one."""
        ...

    async def overdue(self, now: datetime) -> list[TicketState]: ...

    async def attempts(self, ticket_id: int) -> list[Attempt]: ...

    async def add_attempt(self, ticket_id: int, attempt: Attempt) -> None: ...

    async def answer_attempt(
        self, ticket_id: int, seq: int, result: DispatchResult, at: datetime, reason: str | None
    ) -> bool:
        """Settle a pending attempt; ``False`` when it was no longer pending."""
        ...

    async def expired_attempts(self, now: datetime) -> list[tuple[int, Attempt]]: ...


class BackofficeService:
    def __init__(
        self,
        store: BackofficeStore,
        *,
        clock: Clock = utc_now,
        dispatch_timeout: timedelta = DEFAULT_TIMEOUT,
        duplicate_window: timedelta = DEFAULT_WINDOW,
    ) -> None:
        self._store = store
        self._clock = clock
        self._dispatch_timeout = dispatch_timeout
        self._duplicate_window = duplicate_window

    def _on(self, store: BackofficeStore) -> BackofficeService:
        """This service over ``store`` (one transaction of the store: ``atomic``)."""
        return BackofficeService(
            store,
            clock=self._clock,
            dispatch_timeout=self._dispatch_timeout,
            duplicate_window=self._duplicate_window,
        )

    # ---------------------------------------------------------------- helpers
    async def ticket(self, ticket_id: int, viewer: User | None = None) -> TicketState:
        ticket = await self._store.state(ticket_id)
        if ticket is None:
            raise TicketNotFound(f"no ticket {ticket_id}")
        agency_user = viewer is not None and viewer.role is Role.AGENCY
        if agency_user and viewer is not None and ticket.agency_code != viewer.agency_code:
            raise NotYourTicket(f"no ticket {ticket_id}")
        return ticket

    async def _step(
        self,
        user: User,
        ticket_id: int,
        action: Action,
        columns: dict[str, Any] | None = None,
        **data: Any,
    ) -> TicketState:
        ticket = await self.ticket(ticket_id, user)
        target = next_status(ticket.status, action, user.role)
        change = Change(EVENT_OF[action], user.username, self._clock(), target, columns or {}, data)
        return await self._store.apply(ticket, change)

    # ---------------------------------------------------------------- lifecycle
    async def classify(
        self,
        user: User,
        ticket_id: int,
        category: Category,
        subcategory: str | None = None,
        locality: str | None = None,
        *,
        description: str | None = None,
        location: str | None = None,
        point: Point | None = None,
        public_summary: str | None = None,
    ) -> TicketState:
        """Category and subcategory, and what the operator learnt: where (locality, address,
        coordinates) and what (description); and what the public may read of it (Open311), a
        short summary ("" takes it back)."""
        province = await self._store.province()
        if subcategory is not None and not any(
            s.code == subcategory and s.category is category for s in province.subcategories
        ):
            raise CategoryNotFound(f"no subcategory {subcategory!r} in {category.value}")
        if locality is not None and locality not in {loc.code for loc in province.localities}:
            raise LocalityNotFound(f"no locality {locality!r}")
        ticket = await self.ticket(ticket_id, user)
        expected_line = Line.MEDICAL if category is Category.MEDICAL else Line.CITIZEN
        if category is not Category.UNCLASSIFIED and ticket.line is not expected_line:
            raise InvalidRequest(
                f"{category.value} belongs on line {expected_line.value}: transfer the ticket"
            )
        now = self._clock()
        columns: dict[str, Any] = {
            "category": category.value,
            "subcategory": subcategory,
            "classified_at": now,
        }
        for name, value in (
            ("locality", locality),
            ("description", description),
            ("location", location),
            ("lat", point.lat if point else None),
            ("long", point.long if point else None),
        ):
            if value is not None:
                columns[name] = value
        data: dict[str, Any] = {
            "category": category.value,
            "subcategory": subcategory,
            "locality": locality,
        }
        if public_summary is not None:
            columns["public_summary"] = data["public_summary"] = public_summary or None
        target = next_status(ticket.status, Action.CLASSIFY, user.role)
        change = Change(EventKind.CLASSIFY, user.username, now, target, columns, data)
        return await self._store.apply(ticket, change)

    async def forward(self, user: User, ticket_id: int, agency: str | None = None) -> TicketState:
        """To ``agency``, or to the one the routing rules pick; the deadline counts working days."""
        ticket = await self.ticket(ticket_id, user)
        province = await self._store.province()
        target = next_status(ticket.status, Action.FORWARD, user.role)
        rule: str | None
        if agency is None:
            decision = Router.of(province).route(
                ticket.category, ticket.subcategory, ticket.locality
            )
            agency = decision.agency_code
            rule = "fallback" if decision.fallback else "rule"
        else:
            rule = "manual"
        if agency not in {a.code for a in province.agencies if a.active}:
            raise AgencyNotFound(f"no active agency {agency!r}")
        now = self._clock()
        columns: dict[str, Any] = {"agency_code": agency, "forwarded_at": now}
        days = province.deadline_days(ticket.category, ticket.subcategory)
        deadline = None
        if days is not None:
            deadline = province.calendar().deadline(now, days)
            columns["deadline_at"] = deadline
        data = {
            "agency": agency,
            "routing": rule,
            "deadline": deadline.isoformat() if deadline else None,
        }
        change = Change(EventKind.FORWARD, user.username, now, target, columns, data)
        return await self._store.apply(ticket, change)

    async def accept(self, user: User, ticket_id: int) -> TicketState:
        return await self._step(user, ticket_id, Action.ACCEPT, {"accepted_at": self._clock()})

    async def respond(self, user: User, ticket_id: int, response: str) -> TicketState:
        text = response.strip()
        if not text:
            raise InvalidRequest("the response must not be empty")
        now = self._clock()
        return await self._step(
            user,
            ticket_id,
            Action.RESPOND,
            {"responded_at": now, "response": text},
            response=text,
        )

    async def close(self, user: User, ticket_id: int, closure: Closure | None) -> TicketState:
        ticket = await self.ticket(ticket_id, user)
        if ticket.status is TicketStatus.RESPONDED and closure is None:
            raise InvalidRequest("a responded ticket closes with the citizen's rating")
        target = next_status(ticket.status, Action.CLOSE, user.role)
        now = self._clock()
        columns: dict[str, Any] = {"closed_at": now, "closure": closure.value if closure else None}
        change = Change(
            EventKind.CLOSE,
            user.username,
            now,
            target,
            columns,
            {"closure": closure.value if closure else None},
        )
        return await self._store.apply(ticket, change)

    async def reopen(self, user: User, ticket_id: int, reason: str) -> TicketState:
        """Back to the same agency with a fresh deadline; the earlier response stays in the
        timeline."""
        ticket = await self.ticket(ticket_id, user)
        target = next_status(ticket.status, Action.REOPEN, user.role)
        province = await self._store.province()
        now = self._clock()
        columns: dict[str, Any] = {
            "responded_at": None,
            "closed_at": None,
            "closure": None,
            "escalated_at": None,
            "forwarded_at": now,
        }
        days = province.deadline_days(ticket.category, ticket.subcategory)
        if days is not None:
            columns["deadline_at"] = province.calendar().deadline(now, days)
        change = Change(EventKind.REOPEN, user.username, now, target, columns, {"reason": reason})
        return await self._store.apply(ticket, change)

    async def reassign(self, user: User, ticket_id: int, agency: str, reason: str) -> TicketState:
        province = await self._store.province()
        if agency not in {a.code for a in province.agencies if a.active}:
            raise AgencyNotFound(f"no active agency {agency!r}")
        ticket = await self.ticket(ticket_id, user)
        if ticket.agency_code == agency:
            raise InvalidRequest(f"the ticket is already with {agency}")
        return await self._step(
            user,
            ticket_id,
            Action.REASSIGN,
            {"agency_code": agency, "accepted_at": None},
            previous=ticket.agency_code,
            agency=agency,
            reason=reason,
        )

    async def escalate_overdue(self) -> list[TicketState]:
        """Mark every forwarded ticket past its deadline without a response (once each)."""
        now = self._clock()
        escalated = []
        for ticket in await self._store.overdue(now):
            change = Change(
                EventKind.ESCALATED,
                SYSTEM,
                now,
                None,
                {"escalated_at": now},
                {
                    "deadline": ticket.deadline_at.isoformat() if ticket.deadline_at else None,
                    "agency": ticket.agency_code,
                },
            )
            try:
                escalated.append(await self._store.apply(ticket, change))
            except InvalidTransition:
                continue  # escalated or answered meanwhile (another instance, an agency)
            logger.info("ticket %s overdue at %s: escalated", ticket.code, ticket.agency_code)
        return escalated

    # ---------------------------------------------------------------- duplicates
    async def duplicates(self, user: User, ticket_id: int) -> list[Suggestion]:
        ticket = await self.ticket(ticket_id, user)
        text = " ".join(filter(None, (ticket.description, ticket.location)))
        candidates = await self._store.candidates(ticket, self._duplicate_window)
        return suggest(text, candidates)

    async def merge(self, user: User, ticket_id: int, into_id: int) -> TicketState:
        """``ticket_id`` becomes a duplicate of ``into_id``; its caller is added to the surviving
        ticket's callers, so both hear about every later step."""
        if ticket_id == into_id:
            raise InvalidRequest("a ticket cannot be merged into itself")
        target = await self.ticket(into_id, user)
        if target.status in (TicketStatus.MERGED, TicketStatus.TRANSFERRED):
            raise InvalidTransition(f"{target.code} is {target.status.value}")
        source = await self.ticket(ticket_id, user)
        status = next_status(source.status, Action.MERGE, user.role)
        now = self._clock()
        merged = await self._store.apply(
            source,
            Change(
                EventKind.MERGE,
                user.username,
                now,
                status,
                {"merged_into": target.id},
                {"into": target.code},
            ),
        )
        await self._store.note(
            target.id,
            Change(
                EventKind.MERGED_FROM,
                user.username,
                now,
                None,
                {},
                {"ticket": source.code, "caller_phone": source.caller_phone, "notify": True},
            ),
        )
        return merged

    # ---------------------------------------------------------------- transfer
    async def transfer(self, user: User, ticket_id: int) -> TicketState:
        """1022 ⇄ 115: a new ticket on the other line, linked to this one and its timeline."""
        ticket = await self.ticket(ticket_id, user)
        status = next_status(ticket.status, Action.TRANSFER, user.role)
        line = Line.MEDICAL if ticket.line is Line.CITIZEN else Line.CITIZEN
        change = Change(
            EventKind.TRANSFERRED,
            user.username,
            self._clock(),
            status,
            {},
            {"to_line": line.value},
        )
        return await self._store.transfer(ticket, line, change)

    # ---------------------------------------------------------------- 115 dispatch
    async def dispatch(self, user: User, ticket_id: int) -> Attempt:
        """Ask the nearest available facility that has not been asked yet."""
        ticket = await self.ticket(ticket_id, user)
        if ticket.line is not Line.MEDICAL:
            raise InvalidRequest("only 115 tickets are dispatched")
        if ticket.status not in (TicketStatus.NEW, TicketStatus.CLASSIFIED):
            raise InvalidTransition(f"cannot dispatch a ticket that is {ticket.status.value}")
        attempts = await self._store.attempts(ticket.id)
        if any(a.result in (DispatchResult.PENDING, DispatchResult.ACCEPTED) for a in attempts):
            raise InvalidTransition("a dispatch request is already pending or accepted")
        attempt = await self._next_attempt(ticket, attempts, user.username)
        if attempt is None:
            raise NoFacilityAvailable("no facility with a free ambulance is left to ask")
        return attempt

    @staticmethod
    def _where(ticket: TicketState, province: Province) -> Point:
        if ticket.lat is not None and ticket.long is not None:
            return Point(ticket.lat, ticket.long)
        lineage = Router.of(province).lineage(ticket.locality)
        by_code = {loc.code: loc for loc in province.localities}
        for code in lineage:
            loc = by_code.get(code) if code else None
            if loc is not None and loc.lat is not None and loc.long is not None:
                return Point(loc.lat, loc.long)
        raise InvalidRequest("the caller's location is unknown: set coordinates or a locality")

    async def _next_attempt(
        self, ticket: TicketState, attempts: list[Attempt], actor: str
    ) -> Attempt | None:
        province = await self._store.province()
        where = self._where(ticket, province)
        facility = next_facility(province.facilities, where, attempts)
        now = self._clock()
        if facility is None:
            await self._store.apply(
                ticket,
                Change(
                    EventKind.DISPATCH_FAILED,
                    SYSTEM,
                    now,
                    None,
                    {"outcome": Outcome.NO_VEHICLE.value},
                    {"asked": [a.facility_code for a in attempts]},
                ),
            )
            return None
        attempt = Attempt(
            len(attempts) + 1,
            facility.code,
            now,
            now + self._dispatch_timeout,
            DispatchResult.PENDING,
        )
        await self._store.add_attempt(ticket.id, attempt)
        columns: dict[str, Any] = {} if ticket.dispatched_at else {"dispatched_at": now}
        await self._store.apply(
            ticket,
            Change(
                EventKind.DISPATCH_REQUESTED,
                actor,
                now,
                None,
                columns,
                {"facility": facility.code, "seq": attempt.seq, "due": attempt.due_at.isoformat()},
            ),
        )
        return attempt

    async def answer_dispatch(
        self, user: User, ticket_id: int, accepted: bool, reason: str | None = None
    ) -> Attempt | None:
        """The facility's answer to the pending request. A decline moves on to the next
        facility at once, in the same transaction; returns the new pending attempt then
        (``None`` when accepted, or when nobody is left ⇒ outcome ``no_vehicle``)."""
        ticket = await self.ticket(ticket_id, user)
        async with self._store.atomic() as store:
            return await self._on(store)._answer(user, ticket, accepted, reason)

    async def _answer(
        self, user: User, ticket: TicketState, accepted: bool, reason: str | None
    ) -> Attempt | None:
        attempts = await self._store.attempts(ticket.id)
        pending = [a for a in attempts if a.result is DispatchResult.PENDING]
        if not pending:
            raise InvalidTransition("no dispatch request is pending")
        current = pending[-1]
        now = self._clock()
        result = DispatchResult.ACCEPTED if accepted else DispatchResult.DECLINED
        if not await self._store.answer_attempt(ticket.id, current.seq, result, now, reason):
            raise InvalidTransition("the dispatch request was already answered or timed out")
        columns: dict[str, Any] = {"facility_code": current.facility_code, "accepted_at": now}
        await self._store.apply(
            ticket,
            Change(
                EventKind.DISPATCH_ACCEPTED if accepted else EventKind.DISPATCH_DECLINED,
                user.username,
                now,
                None,
                columns if accepted else {},
                {"facility": current.facility_code, "seq": current.seq, "reason": reason},
            ),
        )
        if accepted:
            return None
        refreshed = await self.ticket(ticket.id)
        return await self._next_attempt(refreshed, await self._store.attempts(ticket.id), SYSTEM)

    async def expire_dispatches(self) -> int:
        """Time out pending requests past their due time and ask the next facility. For each
        ticket both happen in one transaction: if asking the next one fails, the request is
        still pending (the next sweep times it out again), never a 115 ticket left with no
        request pending. One ticket's failure is logged and does not hold up the others."""
        now = self._clock()
        moved = 0
        for ticket_id, attempt in await self._store.expired_attempts(now):
            try:
                async with self._store.atomic() as store:
                    moved += await self._on(store)._expire(ticket_id, attempt, now)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception(
                    "dispatch request %d of ticket %d not moved on; the next sweep retries",
                    attempt.seq,
                    ticket_id,
                )
        return moved

    async def _expire(self, ticket_id: int, attempt: Attempt, now: datetime) -> int:
        if not await self._store.answer_attempt(
            ticket_id, attempt.seq, DispatchResult.TIMED_OUT, now, None
        ):
            return 0  # answered, or moved on by another instance, meanwhile
        ticket = await self.ticket(ticket_id)
        await self._store.apply(
            ticket,
            Change(
                EventKind.DISPATCH_TIMED_OUT,
                SYSTEM,
                now,
                None,
                {},
                {"facility": attempt.facility_code, "seq": attempt.seq},
            ),
        )
        refreshed = await self.ticket(ticket_id)
        await self._next_attempt(refreshed, await self._store.attempts(ticket_id), SYSTEM)
        return 1

    async def run_sweeper(self, stop: asyncio.Event, interval: float = SWEEP_INTERVAL) -> None:
        """Until ``stop``: escalate overdue tickets and move timed-out dispatch requests on to
        the next facility, every ``interval`` seconds. A failed sweep is logged and retried."""
        while not stop.is_set():
            try:
                await self.escalate_overdue()
                await self.expire_dispatches()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("back-office sweep failed; retrying in %.0f s", interval)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def milestone(self, user: User, ticket_id: int, kind: str) -> TicketState:
        """``answered`` or ``on_scene``: a time stamp on a 115 ticket."""
        if kind not in MILESTONES:
            raise InvalidRequest(f"milestone must be one of {', '.join(MILESTONES)}")
        ticket = await self.ticket(ticket_id, user)
        if ticket.line is not Line.MEDICAL:
            raise InvalidRequest("only 115 tickets have dispatch milestones")
        now = self._clock()
        return await self._store.apply(
            ticket,
            Change(EventKind(kind), user.username, now, None, {f"{kind}_at": now}, {}),
        )

    async def complete(self, user: User, ticket_id: int, outcome: Outcome) -> TicketState:
        """Close a 115 ticket with its outcome code."""
        ticket = await self.ticket(ticket_id, user)
        if ticket.line is not Line.MEDICAL:
            raise InvalidRequest("only 115 tickets have outcome codes")
        target = next_status(ticket.status, Action.CLOSE, user.role)
        now = self._clock()
        return await self._store.apply(
            ticket,
            Change(
                EventKind.COMPLETED,
                user.username,
                now,
                target,
                {"completed_at": now, "closed_at": now, "outcome": outcome.value},
                {"outcome": outcome.value, "successful": outcome in SUCCESSFUL_OUTCOMES},
            ),
        )
