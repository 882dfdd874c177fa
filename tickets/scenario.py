"""A replayable 7-month scenario (15 Nov 2019 – 14 Jun 2020) with the seed province's mix.

Everything is drawn from ``random.Random(seed)``; the counts of the mix hold by construction
(the categories, closures and 115 fates are shuffled lists of exact length), while the rest
(times, waits, localities, on-time responses) varies with the seed. Every status change goes
through ``tickets.lifecycle.next_status`` with the role that takes it, routing through
``tickets.routing``, deadlines through the province's working calendar, and 115 dispatch asks
facilities in the order ``tickets.dispatch.next_facility`` gives, as for live tickets. The
report never reads this module: it counts what was loaded into the database.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from tickets.agencies import Facility, Province
from tickets.codes import HOTLINE_TZ
from tickets.dispatch import (
    DEFAULT_TIMEOUT,
    Attempt,
    DispatchResult,
    Outcome,
    Point,
    next_facility,
)
from tickets.events import EventKind
from tickets.lifecycle import Action, Closure, next_status
from tickets.model import Category, Line, Role, TicketStatus
from tickets.routing import Router

START = date(2019, 11, 15)
END = date(2020, 6, 14)  # inclusive: 7 months
DEFAULT_SEED = 1022


class Fate(StrEnum):
    """What became of one 115 request in the scenario: the first eight were sent to the nearest
    hospital or health centre (at least one dispatch request), the last five were not."""

    HANDLED = "handled"  # treated on scene
    TRANSPORTED = "transported"  # taken to a hospital
    NO_VEHICLE = "no_vehicle"  # every facility asked declined or did not answer
    CANCELLED = "cancelled"  # the caller cancelled before the crew arrived
    REFUSED = "refused"  # the patient refused care on scene
    UNREACHABLE = "unreachable"  # the crew could not find or reach the patient
    FALSE_ALARM = "false_alarm"  # no emergency found on scene (prank or false alarm)
    RECALLED = "recalled"  # a second crew for an emergency already served, called back
    PRANK = "prank"
    WRONG_NUMBER = "wrong_number"
    DUPLICATE = "duplicate"  # another call about an emergency already being handled
    ADVICE = "advice"  # medical advice on the phone, no ambulance needed
    HUNG_UP = "hung_up"  # the caller hung up before giving a location


# Fate ⇒ (sent to a facility, outcome code on the ticket). ``tickets.dispatch.Outcome`` (and the
# database's CHECK) has no code for a wrong number or advice only: those tickets are closed
# without one, and every ticket keeps its exact fate in the ``closed`` event (``reason``).
FATES: dict[Fate, tuple[bool, Outcome | None]] = {
    Fate.HANDLED: (True, Outcome.HANDLED),
    Fate.TRANSPORTED: (True, Outcome.TRANSPORTED),
    Fate.NO_VEHICLE: (True, Outcome.NO_VEHICLE),
    Fate.CANCELLED: (True, Outcome.CANCELLED),
    Fate.REFUSED: (True, Outcome.CANCELLED),
    Fate.UNREACHABLE: (True, Outcome.UNREACHABLE),
    Fate.FALSE_ALARM: (True, Outcome.PRANK),
    Fate.RECALLED: (True, Outcome.DUPLICATE),
    Fate.PRANK: (False, Outcome.PRANK),
    Fate.WRONG_NUMBER: (False, None),
    Fate.DUPLICATE: (False, Outcome.DUPLICATE),
    Fate.ADVICE: (False, None),
    Fate.HUNG_UP: (False, Outcome.CANCELLED),
}
ON_SCENE = frozenset(
    {Fate.HANDLED, Fate.TRANSPORTED, Fate.REFUSED, Fate.UNREACHABLE, Fate.FALSE_ALARM}
)
NO_LOCATION = frozenset({Fate.WRONG_NUMBER, Fate.ADVICE, Fate.HUNG_UP})
PHONE_RESPONSE = {
    Fate.WRONG_NUMBER: "Người gọi nhầm số",
    Fate.ADVICE: "Tổng đài viên tư vấn y tế qua điện thoại, không cần xe cấp cứu",
    Fate.HUNG_UP: "Người gọi gác máy trước khi cho biết địa điểm",
    Fate.PRANK: "Cuộc gọi quấy rối",
    Fate.DUPLICATE: "Trùng với ca cấp cứu đang được xử lý",
}


@dataclass(frozen=True)
class Mix:
    """How many of each; the defaults are the seed province's first 7 months."""

    admin_procedure: int = 479
    field_report: int = 1025
    information: int = 1553
    satisfied: int = 789  # 789 / 1,025 = 76.98 % ⇒ "77 %"
    unsatisfied: int = 158
    no_answer: int = 78
    # 3,173 requests on 115: 2,785 sent to the nearest hospital or health centre, of which 1,482
    # handled successfully (598 + 884; 1,482 / 3,173 = 46.71 % ⇒ "46.7 %", the success rate
    # being successful / all 115 requests), and 388 not sent to any facility
    medical: dict[Fate, int] = field(
        default_factory=lambda: {
            Fate.HANDLED: 598,
            Fate.TRANSPORTED: 884,
            Fate.NO_VEHICLE: 212,
            Fate.CANCELLED: 301,
            Fate.REFUSED: 187,
            Fate.UNREACHABLE: 263,
            Fate.FALSE_ALARM: 212,
            Fate.RECALLED: 128,  # sent: 1,482 + 1,303 = 2,785
            Fate.PRANK: 142,
            Fate.WRONG_NUMBER: 52,
            Fate.DUPLICATE: 71,
            Fate.ADVICE: 55,
            Fate.HUNG_UP: 68,  # not sent: 388
        }
    )
    # callers who hung up in the operators' queue and called again: one more (abandoned) call
    # on the same ticket
    abandoned_1022: int = 214
    abandoned_115: int = 61
    on_time_share: float = 0.9

    def __post_init__(self) -> None:
        if self.satisfied + self.unsatisfied + self.no_answer != self.field_report:
            raise ValueError("closures must add up to the field reports")

    def drawn_requests(self, rng: random.Random) -> tuple[list[Category], list[Closure]]:
        """The 1022 requests' categories and the field reports' closures, each list shuffled."""
        categories = (
            [Category.ADMIN_PROCEDURE] * self.admin_procedure
            + [Category.FIELD_REPORT] * self.field_report
            + [Category.INFORMATION] * self.information
        )
        rng.shuffle(categories)
        closures = (
            [Closure.SATISFIED] * self.satisfied
            + [Closure.UNSATISFIED] * self.unsatisfied
            + [Closure.NO_ANSWER] * self.no_answer
        )
        rng.shuffle(closures)
        return categories, closures


@dataclass
class ScenarioTicket:
    key: int
    line: Line
    category: Category
    status: TicketStatus
    caller_raw: str
    caller_phone: str
    created_at: datetime
    updated_at: datetime
    subcategory: str | None = None
    description: str | None = None
    location: str | None = None
    locality: str | None = None
    lat: float | None = None
    long: float | None = None
    agency_code: str | None = None
    deadline_at: datetime | None = None
    classified_at: datetime | None = None
    forwarded_at: datetime | None = None
    accepted_at: datetime | None = None
    responded_at: datetime | None = None
    response: str | None = None
    closed_at: datetime | None = None
    closure: str | None = None
    escalated_at: datetime | None = None
    answered_at: datetime | None = None
    dispatched_at: datetime | None = None
    on_scene_at: datetime | None = None
    completed_at: datetime | None = None
    facility_code: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class ScenarioCall:
    ticket_key: int
    uniqueid: str
    line: Line
    channel: str
    caller_raw: str
    caller_phone: str
    started_at: datetime
    ended_at: datetime
    queue: str
    queue_joined_at: datetime
    answered_at: datetime | None
    abandoned_at: datetime | None
    queue_wait_seconds: float
    answered_by: str | None


@dataclass(frozen=True)
class ScenarioEvent:
    ticket_key: int
    at: datetime
    actor: str
    kind: EventKind
    data: dict[str, Any]


@dataclass(frozen=True)
class ScenarioDispatch:
    ticket_key: int
    seq: int
    facility_code: str
    sent_at: datetime
    due_at: datetime
    answered_at: datetime | None
    result: str
    reason: str | None


@dataclass
class Scenario:
    seed: int
    tickets: list[ScenarioTicket] = field(default_factory=list)
    calls: list[ScenarioCall] = field(default_factory=list)
    events: list[ScenarioEvent] = field(default_factory=list)
    dispatches: list[ScenarioDispatch] = field(default_factory=list)


STREETS = (
    "Nguyễn Văn Linh",
    "Hùng Vương",
    "Lê Duẩn",
    "Trần Phú",
    "Bạch Đằng",
    "Hoàng Diệu",
    "Ông Ích Khiêm",
    "Điện Biên Phủ",
    "Nguyễn Tri Phương",
    "Phan Châu Trinh",
    "Lê Văn Hiến",
    "Tôn Đức Thắng",
)
_FIELD_TEXT = {
    "flooding": "Đường {s} ngập sâu sau mưa lớn, xe máy không đi được",
    "roads": "Mặt đường {s} có ổ gà lớn, nguy hiểm cho người đi đường",
    "street_lighting": "Đèn đường trên đường {s} không sáng nhiều đêm nay",
    "rubbish": "Rác thải tập kết lâu ngày trên đường {s}, bốc mùi",
    "noise": "Quán karaoke trên đường {s} hát to sau 22 giờ",
    "trees": "Cây xanh trên đường {s} có nguy cơ gãy đổ",
    "water_supply": "Mất nước sinh hoạt khu vực đường {s} từ sáng",
    "power": "Mất điện khu vực đường {s}, chưa có thông báo",
    "public_order": "Nhóm thanh niên tụ tập gây mất trật tự trên đường {s}",
    "other": "Lấn chiếm vỉa hè kinh doanh trên đường {s}",
}
_FIELD_WEIGHTS = {
    "flooding": 9,
    "roads": 14,
    "street_lighting": 10,
    "rubbish": 16,
    "noise": 12,
    "trees": 8,
    "water_supply": 9,
    "power": 8,
    "public_order": 6,
    "other": 8,
}
_RESPONSE = "Đơn vị đã kiểm tra hiện trường và xử lý"
_OPERATORS = tuple(f"op{n:02d}" for n in range(1, 13))
_MOBILE_PREFIXES = ("90", "91", "93", "97", "98", "70", "86", "88")


def field_pairs(province: Province, rng: random.Random) -> Iterator[tuple[str, str]]:
    """(subcategory, locality) for each field report: first one per agency (so every agency
    that some rule reaches gets a ticket), then drawn by weight from ``rng``."""
    router = Router.of(province)
    localities = list(province.localities)
    reachable: dict[str, tuple[str, str]] = {}
    for sub in _FIELD_WEIGHTS:
        for loc in localities:
            agency = router.route(Category.FIELD_REPORT, sub, loc.code).agency_code
            reachable.setdefault(agency, (sub, loc.code))
    for code in sorted(reachable):
        yield reachable[code]
    subs = list(_FIELD_WEIGHTS)
    weights = list(_FIELD_WEIGHTS.values())
    while True:
        yield rng.choices(subs, weights)[0], rng.choice(localities).code


def field_text(subcategory: str, street: str) -> str:
    """What a citizen reports, in Vietnamese, for a field-report subcategory on ``street``."""
    return _FIELD_TEXT[subcategory].format(s=street)


def interface_of(operator: str) -> str:
    """The operator's softphone as the AMI adapter records it in ``calls.answered_by``."""
    return f"PJSIP/op1{operator.removeprefix('op')}"


def user_of(interface: str) -> str:
    return "op" + interface.removeprefix("PJSIP/op1")


def _days() -> list[date]:
    return [START + timedelta(days=n) for n in range((END - START).days + 1)]


class _Builder:
    def __init__(self, province: Province, seed: int, mix: Mix) -> None:
        self.rng = random.Random(seed)  # noqa: S311 (a replayable simulation, not a secret)
        self.province = province
        self.mix = mix
        self.calendar = province.calendar()
        self.router = Router.of(province)
        self.days = _days()
        self.scenario = Scenario(seed)
        self.places = [loc for loc in province.localities if loc.kind != "province"]

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def step(ticket: ScenarioTicket, action: Action, role: Role) -> None:
        """The ticket's next status, as the back office would set it (refused likewise)."""
        ticket.status = next_status(ticket.status, action, role)

    def moment(self, first_hour: int, last_hour: int) -> datetime:
        day = self.rng.choice(self.days)
        seconds = self.rng.randrange(first_hour * 3600, last_hour * 3600)
        local = datetime.combine(day, time(0), tzinfo=HOTLINE_TZ) + timedelta(seconds=seconds)
        return local.astimezone(UTC)

    def phone(self) -> tuple[str, str]:
        national = "0" + self.rng.choice(_MOBILE_PREFIXES) + f"{self.rng.randrange(10**7):07d}"
        return national, "+84" + national[1:]

    def point_near(self, locality_code: str) -> tuple[float | None, float | None]:
        loc = self.province.locality(locality_code)
        if loc.lat is None or loc.long is None:
            return None, None
        return (
            round(loc.lat + self.rng.uniform(-0.006, 0.006), 6),
            round(loc.long + self.rng.uniform(-0.006, 0.006), 6),
        )

    def call(
        self,
        ticket: ScenarioTicket,
        start: datetime,
        *,
        mean_wait: float,
        abandoned: bool,
        talk: tuple[int, int],
    ) -> ScenarioCall:
        rng = self.rng
        line = ticket.line
        joined = start + timedelta(seconds=rng.randint(15, 75))
        if abandoned:
            wait = round(rng.uniform(8.0, 150.0), 1)
            answered_at, abandoned_at, operator = None, joined + timedelta(seconds=wait), None
            ended = abandoned_at
        else:
            wait = round(min(rng.expovariate(1 / mean_wait), 240.0), 1)
            answered_at = joined + timedelta(seconds=wait)
            abandoned_at, operator = None, rng.choice(_OPERATORS)
            ended = answered_at + timedelta(seconds=rng.randint(*talk))
        call = ScenarioCall(
            ticket_key=ticket.key,
            uniqueid=f"scn{self.scenario.seed}.{len(self.scenario.calls) + 1}",
            line=line,
            channel=f"PJSIP/trunk-{ticket.key:08x}",
            caller_raw=ticket.caller_raw,
            caller_phone=ticket.caller_phone,
            started_at=start,
            ended_at=ended,
            queue="hotline-1022" if line is Line.CITIZEN else "emergency-115",
            queue_joined_at=joined,
            answered_at=answered_at,
            abandoned_at=abandoned_at,
            queue_wait_seconds=wait,
            answered_by=None if operator is None else interface_of(operator),
        )
        self.scenario.calls.append(call)
        return call

    def event(
        self, ticket: ScenarioTicket, at: datetime, actor: str, kind: EventKind, **data: Any
    ) -> None:
        self.scenario.events.append(ScenarioEvent(ticket.key, at, actor, kind, data))

    def new_ticket(self, line: Line, category: Category, created: datetime) -> ScenarioTicket:
        raw, e164 = self.phone()
        ticket = ScenarioTicket(
            key=len(self.scenario.tickets) + 1,
            line=line,
            category=category,
            status=TicketStatus.NEW,
            caller_raw=raw,
            caller_phone=e164,
            created_at=created,
            updated_at=created,
        )
        self.scenario.tickets.append(ticket)
        self.event(
            ticket, created, "ivr", EventKind.CREATED, line=line.value, category=category.value
        )
        return ticket

    # ---------------------------------------------------------------- 1022
    def citizen(self) -> None:
        mix, rng = self.mix, self.rng
        categories, closures = mix.drawn_requests(rng)
        pairs = field_pairs(self.province, self.rng)
        retried = set(rng.sample(range(len(categories)), mix.abandoned_1022))
        for index, category in enumerate(categories):
            ticket = self.new_ticket(Line.CITIZEN, category, self.moment(7, 21))
            call = self.answered_call(ticket, index in retried, mean_wait=9.0, talk=(60, 420))
            assert call.answered_at is not None
            assert call.answered_by is not None
            operator = user_of(call.answered_by)
            classified = call.answered_at + timedelta(seconds=rng.randint(20, 120))
            ticket.classified_at = classified
            self.step(ticket, Action.CLASSIFY, Role.OPERATOR)
            self.event(ticket, classified, operator, EventKind.CLASSIFY, category=category.value)
            if category is Category.FIELD_REPORT:
                sub, locality = next(pairs)
                self.field_report(ticket, call, operator, sub, locality, closures.pop())
            else:
                ticket.locality = rng.choice(self.places).code
                self.step(ticket, Action.CLOSE, Role.OPERATOR)
                ticket.closed_at = call.ended_at
                ticket.response = "Tổng đài viên đã hướng dẫn, trả lời trực tiếp"
                self.event(ticket, call.ended_at, operator, EventKind.CLOSE, answered_on_call=True)
            ticket.updated_at = ticket.closed_at or ticket.created_at

    def answered_call(
        self, ticket: ScenarioTicket, retried: bool, *, mean_wait: float, talk: tuple[int, int]
    ) -> ScenarioCall:
        """The call an operator answered, after an abandoned first attempt when ``retried``."""
        start = ticket.created_at
        if retried:
            first = self.call(ticket, start, mean_wait=mean_wait, abandoned=True, talk=(0, 0))
            self.event(ticket, first.ended_at, "system", EventKind.ABANDONED_IN_QUEUE)
            start = first.ended_at + timedelta(seconds=self.rng.randint(30, 600))
        return self.call(ticket, start, mean_wait=mean_wait, abandoned=False, talk=talk)

    def field_report(
        self,
        ticket: ScenarioTicket,
        call: ScenarioCall,
        operator: str,
        sub: str,
        locality: str,
        closure: Closure,
    ) -> None:
        rng = self.rng
        street = rng.choice(STREETS)
        ticket.subcategory = sub
        ticket.locality = locality
        ticket.description = field_text(sub, street)
        ticket.location = f"đường {street}, {self.province.locality(locality).name_vi}"
        ticket.lat, ticket.long = self.point_near(locality)
        decision = self.router.route(Category.FIELD_REPORT, sub, locality)
        agency = decision.agency_code
        forwarded = call.ended_at + timedelta(minutes=rng.randint(5, 120))
        days = self.province.deadline_days(Category.FIELD_REPORT, sub) or 3
        deadline = self.calendar.deadline(forwarded, days)
        self.step(ticket, Action.FORWARD, Role.OPERATOR)
        ticket.agency_code = agency
        ticket.forwarded_at = forwarded
        ticket.deadline_at = deadline
        self.event(
            ticket,
            forwarded,
            operator,
            EventKind.FORWARD,
            agency=agency,
            deadline=deadline.isoformat(),
        )
        accepted = forwarded + timedelta(minutes=rng.randint(10, 600))
        if accepted >= deadline:
            accepted = forwarded + (deadline - forwarded) / 4
        self.step(ticket, Action.ACCEPT, Role.AGENCY)
        ticket.accepted_at = accepted
        self.event(ticket, accepted, agency, EventKind.ACCEPT)
        if rng.random() < self.mix.on_time_share:
            responded = accepted + (deadline - accepted) * rng.uniform(0.05, 0.95)
        else:
            escalated = deadline + timedelta(minutes=rng.randint(1, 30))
            ticket.escalated_at = escalated
            self.event(
                ticket, escalated, "system", EventKind.ESCALATED, deadline=deadline.isoformat()
            )
            responded = deadline + timedelta(hours=rng.uniform(2, 120))
        self.step(ticket, Action.RESPOND, Role.AGENCY)
        ticket.responded_at = responded
        ticket.response = _RESPONSE
        self.event(ticket, responded, agency, EventKind.RESPOND, response=_RESPONSE)
        closed = responded + timedelta(hours=rng.uniform(4, 72))
        ticket.closed_at = closed
        ticket.closure = closure.value
        self.step(ticket, Action.CLOSE, Role.OPERATOR)
        self.event(ticket, closed, operator, EventKind.CLOSE, closure=closure.value)

    # ---------------------------------------------------------------- 115
    def ask(
        self,
        ticket: ScenarioTicket,
        attempts: list[Attempt],
        facility: Facility,
        sent: datetime,
        operator: str,
        answered: datetime,
        result: DispatchResult,
    ) -> None:
        """One dispatch request to ``facility`` and its answer."""
        attempt = Attempt(len(attempts) + 1, facility.code, sent, sent + DEFAULT_TIMEOUT, result)
        attempts.append(attempt)
        self.scenario.dispatches.append(
            ScenarioDispatch(
                ticket.key,
                attempt.seq,
                facility.code,
                sent,
                attempt.due_at,
                answered,
                result.value,
                "no_vehicle" if result is DispatchResult.DECLINED else None,
            )
        )
        self.event(
            ticket,
            sent,
            operator,
            EventKind.DISPATCH_REQUESTED,
            facility=facility.code,
            seq=attempt.seq,
        )

    def medical(self) -> None:
        rng = self.rng
        fates = [f for f, n in self.mix.medical.items() for _ in range(n)]
        rng.shuffle(fates)
        retried = set(rng.sample(range(len(fates)), self.mix.abandoned_115))
        for index, fate in enumerate(fates):
            sent, outcome = FATES[fate]
            ticket = self.new_ticket(Line.MEDICAL, Category.MEDICAL, self.moment(0, 24))
            talk = (45, 240) if sent or fate is Fate.ADVICE else (10, 60)
            call = self.answered_call(ticket, index in retried, mean_wait=5.0, talk=talk)
            assert call.answered_at is not None
            assert call.answered_by is not None
            operator = user_of(call.answered_by)
            if fate not in NO_LOCATION:
                loc = rng.choice(self.places)
                ticket.locality = loc.code
                street = rng.choice(STREETS)
                ticket.location = f"{rng.randint(1, 300)} đường {street}, {loc.name_vi}"
                ticket.lat, ticket.long = self.point_near(loc.code)
            ticket.answered_at = call.answered_at
            ticket.classified_at = call.answered_at
            self.step(ticket, Action.CLASSIFY, Role.OPERATOR)
            self.event(ticket, call.answered_at, operator, EventKind.ANSWERED)
            if sent:
                end = self.dispatch(ticket, call.answered_at, operator, fate)
            else:
                end = call.ended_at
                ticket.response = PHONE_RESPONSE[fate]
            ticket.outcome = None if outcome is None else outcome.value
            self.step(ticket, Action.CLOSE, Role.OPERATOR)
            ticket.closed_at = end
            ticket.updated_at = end
            self.event(
                ticket, end, operator, EventKind.CLOSE, outcome=ticket.outcome, reason=fate.value
            )

    def dispatch(
        self, ticket: ScenarioTicket, answered: datetime, operator: str, fate: Fate
    ) -> datetime:
        """Ask facilities in the order ``tickets.dispatch.next_facility`` gives (nearest
        available not asked yet); every request sent to a facility has at least one dispatch
        request."""
        rng = self.rng
        assert ticket.lat is not None
        assert ticket.long is not None
        where = Point(ticket.lat, ticket.long)
        attempts: list[Attempt] = []
        refusals = 3 if fate is Fate.NO_VEHICLE else 1 if rng.random() < 0.15 else 0
        sent = answered + timedelta(seconds=rng.randint(40, 180))
        ticket.dispatched_at = sent
        while len(attempts) < refusals:
            facility = next_facility(self.province.facilities, where, attempts)
            if facility is None:
                break
            timed_out = rng.random() < 0.3
            reply = sent + (
                DEFAULT_TIMEOUT if timed_out else timedelta(seconds=rng.randint(10, 60))
            )
            result = DispatchResult.TIMED_OUT if timed_out else DispatchResult.DECLINED
            self.ask(ticket, attempts, facility, sent, operator, reply, result)
            self.event(
                ticket,
                reply,
                "system" if timed_out else facility.code,
                EventKind.DISPATCH_TIMED_OUT if timed_out else EventKind.DISPATCH_DECLINED,
            )
            sent = reply
        if fate is Fate.NO_VEHICLE:
            return sent + timedelta(seconds=rng.randint(30, 120))
        facility = next_facility(self.province.facilities, where, attempts)
        assert facility is not None, "the province has too few facilities for its scenario"
        accepted = sent + timedelta(seconds=rng.randint(10, 60))
        self.ask(ticket, attempts, facility, sent, operator, accepted, DispatchResult.ACCEPTED)
        self.event(ticket, accepted, facility.code, EventKind.DISPATCH_ACCEPTED)
        ticket.facility_code = facility.code
        ticket.accepted_at = accepted
        if fate not in ON_SCENE:  # cancelled by the caller, or a second crew called back
            return accepted + timedelta(minutes=rng.randint(2, 10))
        on_scene = accepted + timedelta(minutes=rng.uniform(6, 25))
        ticket.on_scene_at = on_scene
        self.event(ticket, on_scene, facility.code, EventKind.ON_SCENE)
        if fate in (Fate.HANDLED, Fate.TRANSPORTED):
            completed = on_scene + timedelta(minutes=rng.uniform(10, 80))
        else:
            completed = on_scene + timedelta(minutes=rng.uniform(5, 20))
        ticket.completed_at = completed
        outcome = FATES[fate][1]
        assert outcome is not None
        self.event(
            ticket,
            completed,
            facility.code,
            EventKind.COMPLETED,
            outcome=outcome.value,
            reason=fate.value,
        )
        return completed


def generate(province: Province, seed: int = DEFAULT_SEED, mix: Mix | None = None) -> Scenario:
    builder = _Builder(province, seed, mix or Mix())
    builder.citizen()
    builder.medical()
    scenario = builder.scenario
    # Number tickets in the order they arrived, as the hotline would have.
    order = sorted(scenario.tickets, key=lambda t: (t.created_at, t.key))
    renumber = {t.key: n for n, t in enumerate(order, start=1)}
    for ticket in scenario.tickets:
        ticket.key = renumber[ticket.key]
    scenario.tickets = order
    scenario.calls = sorted(
        (_rekey(c, renumber[c.ticket_key]) for c in scenario.calls),
        key=lambda c: (c.ticket_key, c.started_at),
    )
    scenario.events = [_rekey(e, renumber[e.ticket_key]) for e in scenario.events]
    scenario.dispatches = [_rekey(d, renumber[d.ticket_key]) for d in scenario.dispatches]
    return scenario


_Keyed = TypeVar("_Keyed", ScenarioCall, ScenarioEvent, ScenarioDispatch)


def _rekey(item: _Keyed, key: int) -> _Keyed:
    return replace(item, ticket_key=key)
