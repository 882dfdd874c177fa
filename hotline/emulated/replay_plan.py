"""The plan of ``hotline replay``: the seed province's seven months (15 Nov 2019 – 14 Jun 2020,
``tickets.scenario.Mix``: 479 + 1,025 + 1,553 requests on 1022, 3,173 on 115) as calls, each
with the story of what the people involved do after it.

The published totals hold by construction (shuffled lists of exact length: categories, the
citizens' survey answers, the 115 fates); every call is placed on a day drawn with a weekly
profile (weekends and public holidays of the province's calendar are quieter) and at a moment
of that day drawn from the daily profile of ``hotline.emulated.plan``. Who answers the survey,
which agencies are late, which facilities decline are drawn from the seed too. A period
(``--from``/``--to``) replays the calls of those days of the seven months; its figures are the
plan's figures for those days, so a week matches its plan exactly as the whole period does.

A few people needing an ambulance dial 1022 instead of 115 (``VIA_1022``: the seed gives no
share, this is an assumption): they press 0 for an operator, who moves them to 115 with the
console's transfer; their request is a 115 request like the others, their call one of 1022's.

A few callers give up in the queue (``GIVES_UP``, an assumption: the seed counts no abandoned
calls) and are called back from the worklist; their call counts as abandoned, their request
like the others.

A few field reports go first to the wrong agency (``MISROUTED``, an assumption too: an
operator picks an agency by hand) and a supervisor reassigns them to the one the routing rules
name; the report counts them with the agency that answered.

Nothing starts in a day's last hour: at the replay's speed a busy machine may start a call some
simulated minutes late, and a call must stay on the day (and the month) it was planned for.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from hotline.emulated.plan import DAILY_PROFILE
from tickets.agencies import Province
from tickets.codes import HOTLINE_TZ
from tickets.dispatch import SUCCESSFUL_OUTCOMES
from tickets.lifecycle import Closure
from tickets.model import Category, Line
from tickets.routing import Router
from tickets.scenario import END, FATES, NO_LOCATION, START, STREETS, Fate, Mix, field_pairs

KEYS = {  # the 1022 menu key a caller presses for each category (``ivr/menu.toml``)
    Category.ADMIN_PROCEDURE: "1",
    Category.FIELD_REPORT: "2",
    Category.INFORMATION: "3",
}
OPERATOR_KEY = "0"  # 1022's key for an operator (unclassified)
WEEKDAY_SHARE = (1.0, 1.0, 1.0, 1.0, 0.95, 0.55, 0.45)  # Monday … Sunday
HOLIDAY_SHARE = 0.5
LAST_HOUR = 23  # no call starts at 23:00 or later (see the module's docstring)
VIA_1022 = 0.04  # share of 115 requests whose caller dialled 1022 and was moved to 115
GIVES_UP = 0.02  # share of callers who give up in the queue and are called back
MISROUTED = 0.03  # share of field reports forwarded to a wrong agency, then reassigned
HOURS = {Line.CITIZEN: range(7, 21), Line.MEDICAL: range(0, LAST_HOUR)}
_PREFIXES = ("90", "91", "93", "97", "98", "70", "86", "88", "39", "77")


@dataclass(frozen=True)
class FieldStory:
    """A field report: where, what, the agency the routing rules send it to, whether that
    agency answers late (after the sweeper escalated it), the citizen's survey answer and the
    agency an operator forwarded it to by mistake, if one did (a supervisor reassigns it)."""

    subcategory: str
    locality: str
    agency: str
    street: str
    late: bool
    closure: Closure
    misrouted: str | None = None


@dataclass(frozen=True)
class MedicalStory:
    """A 115 request: its fate (``tickets.scenario.Fate``), where the patient is (None: the
    caller gave no location), how many facilities decline before one accepts (None: all of
    them decline) and whether the caller dialled 1022 and was moved to 115 by its operator."""

    fate: Fate
    locality: str | None
    street: str
    declines: int | None
    via_1022: bool = False


@dataclass(frozen=True)
class PlannedCall:
    at: datetime  # UTC
    line: Line
    category: Category
    number: str  # national form, unique in the plan
    locality: str
    field: FieldStory | None = None
    medical: MedicalStory | None = None
    gives_up: bool = False  # hangs up while queued; an operator calls back from the worklist

    @property
    def dialled(self) -> Line:
        """The line the caller dialled: the request's, or 1022 for one moved to 115."""
        return Line.CITIZEN if self.medical is not None and self.medical.via_1022 else self.line

    @property
    def key(self) -> str | None:
        """The menu key pressed: the category's on 1022, 0 (an operator) for an emergency."""
        if self.dialled is not Line.CITIZEN:
            return None
        return KEYS.get(self.category, OPERATOR_KEY)

    @property
    def day(self) -> date:
        return self.at.astimezone(HOTLINE_TZ).date()


def _days() -> list[date]:
    return [START + timedelta(days=n) for n in range((END - START).days + 1)]


class _Planner:
    def __init__(self, province: Province, seed: int) -> None:
        self.rng = random.Random(f"hotline-replay/{seed}")  # noqa: S311 (a simulation)
        self.seed = seed
        self.province = province
        calendar = province.calendar()
        self.days = _days()
        self.day_weights = [
            WEEKDAY_SHARE[d.weekday()] * (HOLIDAY_SHARE if d in calendar.holidays else 1.0)
            for d in self.days
        ]
        self.places = [loc.code for loc in province.localities if loc.kind != "province"]
        self.numbers: set[str] = set()

    def moment(self, line: Line) -> datetime:
        day = self.rng.choices(self.days, self.day_weights)[0]
        hours = list(HOURS[line])
        hour = self.rng.choices(hours, [DAILY_PROFILE[h] for h in hours])[0]
        seconds = self.rng.randrange(3600)
        local = datetime.combine(day, time(hour), tzinfo=HOTLINE_TZ) + timedelta(seconds=seconds)
        return local.astimezone(UTC)

    def number(self) -> str:
        while True:
            national = "0" + self.rng.choice(_PREFIXES) + f"{self.rng.randrange(10**7):07d}"
            if national not in self.numbers:
                self.numbers.add(national)
                return national

    def citizen(self, mix: Mix) -> list[PlannedCall]:
        rng = self.rng
        categories, closures = mix.drawn_requests(rng)
        pairs = field_pairs(self.province, rng)
        router = Router.of(self.province)
        # its own draws, so that the other draws stay those of a plan without mistakes
        mistakes = random.Random(f"hotline-replay/{self.seed}/reassign")  # noqa: S311
        agencies = sorted(a.code for a in self.province.agencies if a.active)
        calls = []
        for category in categories:
            at, number = self.moment(Line.CITIZEN), self.number()
            if category is not Category.FIELD_REPORT:
                calls.append(
                    PlannedCall(at, Line.CITIZEN, category, number, rng.choice(self.places))
                )
                continue
            sub, locality = next(pairs)
            agency = router.route(Category.FIELD_REPORT, sub, locality).agency_code
            story = FieldStory(
                sub,
                locality,
                agency,
                rng.choice(STREETS),
                late=rng.random() >= mix.on_time_share,
                closure=closures.pop(),
                misrouted=(
                    mistakes.choice([a for a in agencies if a != agency])
                    if mistakes.random() < MISROUTED
                    else None
                ),
            )
            calls.append(PlannedCall(at, Line.CITIZEN, category, number, locality, field=story))
        return calls

    def medical(self, mix: Mix) -> list[PlannedCall]:
        rng = self.rng
        # its own draws, so that the other draws stay those of a plan without transfers
        dialled = random.Random(f"hotline-replay/{self.seed}/1022")  # noqa: S311
        fates = [f for f, n in mix.medical.items() for _ in range(n)]
        rng.shuffle(fates)
        calls = []
        for fate in fates:
            at, number = self.moment(Line.MEDICAL), self.number()
            sent = FATES[fate][0]
            locality = rng.choice(self.places)
            declines: int | None = 0
            if fate is Fate.NO_VEHICLE:
                declines = None
            elif sent and rng.random() < 0.15:
                declines = 1
            story = MedicalStory(
                fate,
                None if fate in NO_LOCATION else locality,
                rng.choice(STREETS),
                declines,
                via_1022=dialled.random() < VIA_1022,
            )
            calls.append(
                PlannedCall(at, Line.MEDICAL, Category.MEDICAL, number, locality, medical=story)
            )
        return calls


def plan_replay(province: Province, seed: int) -> list[PlannedCall]:
    """The seven months' calls in the order they are placed."""
    planner = _Planner(province, seed)
    mix = Mix()
    calls = planner.citizen(mix) + planner.medical(mix)
    # its own draws, so that the other draws stay those of a plan where nobody gives up; a
    # caller moved to 115 was answered on 1022
    patience = random.Random(f"hotline-replay/{seed}/gives-up")  # noqa: S311
    calls = [
        replace(c, gives_up=True) if patience.random() < GIVES_UP and c.dialled is c.line else c
        for c in calls
    ]
    return sorted(calls, key=lambda c: (c.at, c.number))


def in_period(plan: list[PlannedCall], start: date, end: date) -> list[PlannedCall]:
    return [c for c in plan if start <= c.day <= end]


# ------------------------------------------------------------------------- planned figures
Figures = dict[str, int]


def planned_figures(calls: list[PlannedCall]) -> Figures:
    """What the report must show for these calls, under the names ``reported_figures`` (in
    ``hotline.emulated.replay``) gives the report's own figures."""
    figures: Counter[str] = Counter()
    for call in calls:
        month = call.day.strftime("%Y-%m")
        figures[f"calls {call.dialled.value} queued"] += 1  # a moved call stays 1022's
        figures[f"calls {call.dialled.value} answered"] += int(not call.gives_up)
        figures[f"calls {call.dialled.value} abandoned"] += int(call.gives_up)
        figures[f"{month} {call.category.value}"] += 1
        if call.line is Line.CITIZEN:
            figures[f"1022 {call.category.value}"] += 1
        if call.field is not None:
            story = call.field
            satisfied = int(story.closure is Closure.SATISFIED)
            figures["1022 forwarded"] += 1
            figures["1022 responded"] += 1
            figures["1022 responded on time"] += int(not story.late)
            figures["1022 escalated"] += int(story.late)
            figures["1022 satisfied"] += satisfied
            figures[f"agency {story.agency} forwarded"] += 1
            figures[f"agency {story.agency} responded"] += 1
            figures[f"agency {story.agency} satisfied"] += satisfied
        if call.medical is not None:
            sent, outcome = FATES[call.medical.fate]
            figures["115 requests"] += 1
            figures["115 sent"] += int(sent)
            figures["115 successful"] += int(outcome in SUCCESSFUL_OUTCOMES)
            code = outcome.value if outcome is not None else "none"
            figures[f"115 {'sent' if sent else 'not sent'} {code}"] += 1
    figures["1022 agencies"] = len({c.field.agency for c in calls if c.field is not None})
    return dict(figures)
