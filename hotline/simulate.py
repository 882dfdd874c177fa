"""``hotline simulate``: load the whole service through the switchboard emulator and count what
became of every call.

Simulated citizens call 1022 and 115 with Poisson arrivals shaped by a daily profile and a call
mix per scenario (by default the seed province's: 479 administrative procedures, 1,025 field
reports and 1,553 information requests on 1022; 3,173 requests on 115); operators in two teams
(one per line) answer with a handling time drawn uniformly around the line's AHT; callers give up
after an exponentially drawn patience. The emulator's clock runs ``scale`` times faster than real
time, so an hour of traffic takes a minute at ``scale=60``.

The arrival plan (times, lines, keys, numbers, patience) is a pure function of the seed and the
options; what the operators draw comes from their own seeded streams, but which of two events due
at the same simulated moment comes first still depends on the real scheduler.

The summary is read back from the service's database (calls and their tickets, by uniqueid) and
its 15-minute statistics (the rows' increase during the run), and cross-checked with what the
emulator saw of every call. A ticket missing for any simulated call is a lost call.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import secrets
import sys
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from aiohttp import web
from pydantic import SecretStr

from agents.erlang import StaffingTarget, interval_staffing
from agents.service import AgentsService
from agents.staffing import line_targets
from agents.stats import interval_start
from db.simulation import CallRecord, PostgresSimulationRepository
from db.users import PostgresUserRepository
from hotline.app import MENU, build_app
from hotline.auth import AuthService
from hotline.demo import BACKEND_READ, BACKEND_WRITE, SOUNDS
from hotline.settings import Settings
from hotline.tasks import TaskManager
from hotline.web.agents import AGENTS, AGENTS_REPO
from hotline.web.http import AGI, POOL
from switchboard import CallerScript, Clock, Softphone, Switchboard
from switchboard.board import CallHandle, CallOutcome
from switchboard.events import AmiEvent
from switchboard.traffic import caller_number
from tickets.model import Line, Role
from tickets.scenario import Mix

logger = logging.getLogger(__name__)

# Relative call volume per hour of the day (Vietnam time), 1.0 at the busiest hours: quiet
# nights, a morning peak when offices open, a lunch dip, a second peak in the afternoon.
DAILY_PROFILE: tuple[float, ...] = (
    0.12, 0.08, 0.06, 0.06, 0.08, 0.15, 0.35, 0.65,  # 00–07
    0.95, 1.00, 0.95, 0.80, 0.50, 0.65, 0.90, 0.95,  # 08–15
    0.85, 0.70, 0.55, 0.50, 0.45, 0.35, 0.25, 0.18,  # 16–23
)  # fmt: skip
MENU_KEYS = {"1": "admin_procedure", "2": "field_report", "3": "information"}
MAX_PATIENCE = 540.0  # below the dialplan's 600 s in Queue(), so nobody joins a queue twice
SETTLE_SECONDS = 30.0  # real seconds the service gets to store the last events


@dataclass(frozen=True)
class CallMix:
    """Which line people call, and on 1022 which menu key they press (weights)."""

    share_115: float
    keys_1022: dict[str, float]
    hang_up_in_menu: float = 0.03  # callers who hang up before the menu is done


def seed_mix() -> CallMix:
    """The seed province's first seven months (``tickets.scenario.Mix``)."""
    mix = Mix()
    on_1022 = mix.admin_procedure + mix.field_report + mix.information
    on_115 = sum(mix.medical.values())
    return CallMix(
        share_115=on_115 / (on_1022 + on_115),
        keys_1022={
            "1": mix.admin_procedure,
            "2": mix.field_report,
            "3": mix.information,
        },
    )


def _scenarios() -> dict[str, CallMix]:
    seed = seed_mix()
    return {
        "seed": seed,
        # a storm: field reports (flooding, fallen trees) four times as often, 115 as usual
        "flood": CallMix(
            share_115=seed.share_115 / 2,
            keys_1022={**seed.keys_1022, "2": seed.keys_1022["2"] * 4},
        ),
        # an outbreak: most calls are medical
        "outbreak": CallMix(share_115=0.8, keys_1022=seed.keys_1022),
    }


SCENARIOS = _scenarios()


@dataclass(frozen=True)
class SimulationOptions:
    seed: int = 1
    hours: float = 1.0  # simulated hours of arrivals
    calls: int | None = None  # stop after this many calls (whichever comes first)
    scale: float = 60.0  # simulated seconds per real second
    scenario: str = "seed"
    calls_per_hour: float = 120.0  # at the busiest hour of the daily profile
    start_hour: int = 8  # Vietnam time of day the simulation starts at
    operators_1022: int = 7  # Erlang C for the seed mix at 120 calls/h: 80 % within 20 s
    operators_115: int = 5  # and 90 % within 15 s
    aht_1022: float = 240.0  # mean handling time, seconds (uniform from half to 1.5×)
    aht_115: float = 120.0
    patience: float = 120.0  # callers' mean patience in a queue, seconds (exponential)
    progress: bool = True


@dataclass(frozen=True)
class PlannedCall:
    at: float  # simulated seconds after the start
    line: Line
    key: str | None  # the 1022 menu key; None on 115
    hangs_up_in_menu: bool
    number: str
    patience: float
    record_seconds: float


def plan_calls(options: SimulationOptions) -> list[PlannedCall]:
    """Every call of the run, drawn from ``random.Random(seed)`` alone: a Poisson process at the
    peak rate thinned by the daily profile (a Poisson process whose rate follows the profile)."""
    if options.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {options.scenario!r}; one of {sorted(SCENARIOS)}")
    mix = SCENARIOS[options.scenario]
    rng = random.Random(f"hotline-simulate/{options.seed}")  # noqa: S311 (a simulation)
    peak = max(DAILY_PROFILE)
    rate = options.calls_per_hour / 3600.0
    end = options.hours * 3600.0
    keys = list(mix.keys_1022)
    weights = [mix.keys_1022[k] for k in keys]
    plan: list[PlannedCall] = []
    moment = 0.0
    while rate > 0 and (options.calls is None or len(plan) < options.calls):
        moment += rng.expovariate(rate)
        if moment >= end:
            break
        hour = (options.start_hour + int(moment // 3600)) % 24
        if rng.random() >= DAILY_PROFILE[hour] / peak:
            continue
        line = Line.MEDICAL if rng.random() < mix.share_115 else Line.CITIZEN
        key = rng.choices(keys, weights)[0] if line is Line.CITIZEN else None
        hangs_up = rng.random() < mix.hang_up_in_menu
        patience = min(MAX_PATIENCE, max(5.0, rng.expovariate(1.0 / options.patience)))
        plan.append(
            PlannedCall(
                at=round(moment, 3),
                line=line,
                key=key,
                hangs_up_in_menu=hangs_up,
                number=caller_number(rng),
                patience=round(patience, 1),
                record_seconds=round(rng.uniform(2.0, 6.0), 1),
            )
        )
    return plan


def fingerprint(plan: Sequence[PlannedCall]) -> str:
    text = "\n".join(
        f"{c.at}|{c.line.value}|{c.key}|{c.hangs_up_in_menu}|{c.number}|{c.patience}|"
        f"{c.record_seconds}"
        for c in plan
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# -- the summary --------------------------------------------------------------------------------


@dataclass
class LineFigures:
    calls: int = 0  # calls the service stored
    tickets: int = 0
    lost: int = 0
    reached_queue: int = 0
    answered: int = 0
    within_15: int = 0
    within_20: int = 0
    wait_sum: float = 0.0
    abandoned_in_queue: int = 0
    abandoned_in_menu: int = 0
    # from the 15-minute statistics (their increase during the run)
    received: int = 0
    stats_answered: int = 0
    stats_abandoned: int = 0
    completed: int = 0
    talk_sum: int = 0

    @property
    def offered(self) -> int:
        return self.answered + self.abandoned_in_queue

    @property
    def asa(self) -> float | None:
        return self.wait_sum / self.answered if self.answered else None

    @property
    def aht(self) -> float | None:
        return self.talk_sum / self.completed if self.completed else None

    def level(self, within: int) -> float | None:
        return within / self.offered if self.offered else None


@dataclass
class Summary:
    options: SimulationOptions
    planned: int
    fingerprint: str
    placed: int
    simulated_seconds: float
    real_seconds: float
    lines: dict[Line, LineFigures] = field(default_factory=dict)
    total: LineFigures = field(default_factory=LineFigures)
    mismatches: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.total.lost == 0 and not self.mismatches


def _figures(
    records: dict[str, CallRecord], outcomes: Sequence[tuple[PlannedCall, CallOutcome]]
) -> dict[Line, LineFigures]:
    figures = {line: LineFigures() for line in Line}
    for planned, outcome in outcomes:
        figures_of_line = figures[planned.line]
        record = records.get(outcome.uniqueid)
        if record is None or record.ticket_code is None:
            figures_of_line.lost += 1
            continue
        figures_of_line.calls += 1
        figures_of_line.tickets += 1
        if record.disposition == "abandoned_in_ivr":
            figures_of_line.abandoned_in_menu += 1
        if record.queue_joined_at is not None:
            figures_of_line.reached_queue += 1
        if record.answered_at is not None:
            wait = record.queue_wait_seconds or 0.0
            figures_of_line.answered += 1
            figures_of_line.wait_sum += wait
            figures_of_line.within_15 += int(wait <= 15)
            figures_of_line.within_20 += int(wait <= 20)
        elif record.abandoned_at is not None:
            figures_of_line.abandoned_in_queue += 1
    return figures


def _interval_totals(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        queue = totals.setdefault(row["queue"], {})
        for key in ("received", "answered", "abandoned", "completed", "talk_seconds_sum"):
            queue[key] = queue.get(key, 0) + int(row[key])
    return totals


def _add_statistics(
    figures: dict[Line, LineFigures],
    before: dict[str, dict[str, int]],
    after: dict[str, dict[str, int]],
    queues: dict[Line, str],
) -> None:
    for line, queue in queues.items():
        old, new = before.get(queue, {}), after.get(queue, {})

        def grown(key: str, old: dict[str, int] = old, new: dict[str, int] = new) -> int:
            return new.get(key, 0) - old.get(key, 0)

        target = figures[line]
        target.received = grown("received")
        target.stats_answered = grown("answered")
        target.stats_abandoned = grown("abandoned")
        target.completed = grown("completed")
        target.talk_sum = grown("talk_seconds_sum")


def _cross_check(
    figures: dict[Line, LineFigures],
    outcomes: Sequence[tuple[PlannedCall, CallOutcome]],
    joins: dict[Line, int],
) -> list[str]:
    """What the emulator saw (each call's outcome, its QueueCallerJoin events: a 115 caller
    re-joins after two minutes in the queue) against what the service stored and counted."""
    problems: list[str] = []
    for line, mine in figures.items():
        seen = [o for p, o in outcomes if p.line is line]
        joined = sum(o.queue is not None for o in seen)
        answered = sum(o.answered_by is not None for o in seen)
        abandoned = sum(o.abandoned for o in seen)
        checks = (
            ("reached a queue (calls)", mine.reached_queue, joined),
            ("queue joins (statistics)", mine.received, joins.get(line, 0)),
            ("answered (calls)", mine.answered, answered),
            ("answered (statistics)", mine.stats_answered, answered),
            ("completed (statistics)", mine.completed, answered),
            ("abandoned in queue (calls)", mine.abandoned_in_queue, abandoned),
            ("abandoned in queue (statistics)", mine.stats_abandoned, abandoned),
        )
        for label, stored, emulated in checks:
            if stored != emulated:
                problems.append(f"{line.value} {label}: service {stored}, emulator {emulated}")
    return problems


def _ticket_check(
    records: dict[str, CallRecord], outcomes: Sequence[tuple[PlannedCall, CallOutcome]]
) -> list[str]:
    """The ticket code the IVR handed Asterisk (HOTLINE_TICKET) is the stored ticket's."""
    problems = []
    for _, outcome in outcomes:
        told = outcome.variables.get("HOTLINE_TICKET")
        record = records.get(outcome.uniqueid)
        if told and record is not None and record.ticket_code != told:
            problems.append(
                f"call {outcome.uniqueid}: emulator {told}, database {record.ticket_code}"
            )
    return problems


def _sum(figures: dict[Line, LineFigures]) -> LineFigures:
    total = LineFigures()
    for name in LineFigures.__dataclass_fields__:
        setattr(total, name, sum(getattr(f, name) for f in figures.values()))
    return total


def _cell(value: float | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def render(summary: Summary, targets: dict[Line, StaffingTarget]) -> str:
    o = summary.options
    citizen, medical, total = (
        summary.lines[Line.CITIZEN],
        summary.lines[Line.MEDICAL],
        summary.total,
    )
    columns = (citizen, medical, total)

    def row(label: str, values: Sequence[str]) -> str:
        return f"{label:<34}" + "".join(f"{v:>10}" for v in values)

    lines = [
        f"hotline simulate: seed {o.seed}, scenario {o.scenario}, "
        f"{summary.simulated_seconds / 3600:.2f} simulated hours from "
        f"{o.start_hour:02d}:00 at ×{o.scale:g} ({summary.real_seconds:.0f} s real)",
        f"plan: {summary.planned} calls, fingerprint {summary.fingerprint}; placed "
        f"{summary.placed}; operators 1022: {o.operators_1022} (AHT {o.aht_1022:g} s), "
        f"115: {o.operators_115} (AHT {o.aht_115:g} s)",
        "",
        row("", ["1022", "115", "total"]),
        row("calls", [str(c.calls + c.lost) for c in columns]),  # simulated: stored + lost
        row("tickets created", [str(c.tickets) for c in columns]),
        row("tickets lost", [str(c.lost) for c in columns]),
        row("reached a queue", [str(c.reached_queue) for c in columns]),
        row("answered", [str(c.answered) for c in columns]),
        row("answered within 15 s", [str(c.within_15) for c in columns]),
        row("answered within 20 s", [str(c.within_20) for c in columns]),
        row("service level 15 s", [_percent(c.level(c.within_15)) for c in columns]),
        row("service level 20 s", [_percent(c.level(c.within_20)) for c in columns]),
        row("ASA (s)", [_cell(c.asa) for c in columns]),
        row("abandoned in queue", [str(c.abandoned_in_queue) for c in columns]),
        row("hung up in the menu", [str(c.abandoned_in_menu) for c in columns]),
        row("AHT (s, statistics)", [_cell(c.aht) for c in columns]),
    ]
    hours = summary.simulated_seconds / 3600
    needed: list[str] = []
    for line, figures in ((Line.CITIZEN, citizen), (Line.MEDICAL, medical)):
        answer = None
        if hours > 0:
            answer = interval_staffing(
                figures.reached_queue, figures.aht, targets[line], summary.simulated_seconds
            )
        needed.append("–" if answer is None else str(answer.agents))
    lines.append(row("Erlang C operators needed", [*needed, ""]))
    lines.append(
        "  (calls that reached a queue and AHT over the run; "
        + ", ".join(
            f"{line.value}: {100 * t.level:g} % within {t.seconds} s" for line, t in targets.items()
        )
        + ")"
    )
    if summary.mismatches:
        lines.append("cross-check with the emulator: MISMATCH")
        lines += [f"  {m}" for m in summary.mismatches]
    else:
        lines.append("cross-check with the emulator: ok")
    return "\n".join(lines)


# -- the run ------------------------------------------------------------------------------------


class Progress:
    """A bar on stderr redrawn in place with ``\\r`` (``--no-progress``: none)."""

    def __init__(self, out: TextIO, total_seconds: float, enabled: bool) -> None:
        self._out = out
        self._total = max(total_seconds, 1e-9)
        self._enabled = enabled

    def draw(self, simulated: float, placed: int, active: int) -> None:
        if not self._enabled:
            return
        share = min(1.0, max(0.0, simulated / self._total))
        filled = int(share * 30)
        self._out.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {100 * share:5.1f} %  "
            f"{min(simulated, self._total) / 60:6.1f} of {self._total / 60:.1f} simulated min  "
            f"calls {placed}  in progress {active:<4}"
        )
        self._out.flush()

    def done(self) -> None:
        if self._enabled:
            self._out.write("\n")
            self._out.flush()


async def _operators(
    app: web.Application, board: Switchboard, options: SimulationOptions
) -> dict[Line, str]:
    """Log one team per line into its queue; returns the queue of each line."""
    queues = {line: flow.queue for line, flow in app[MENU].lines.items()}
    users = PostgresUserRepository(app[POOL])
    auth = AuthService(users, token_ttl=timedelta(hours=1))
    service: AgentsService = app[AGENTS]
    teams = (
        (Line.CITIZEN, options.operators_1022, options.aht_1022, 101),
        (Line.MEDICAL, options.operators_115, options.aht_115, 501),
    )
    for line, count, aht, first in teams:
        for n in range(count):
            extension = f"sim{first + n}"
            board.add_softphone(
                Softphone(
                    extension, ring_delay=(1.0, 4.0), talk_time=(aht / 2, aht * 1.5), name=extension
                )
            )
            found = await users.credentials(extension)
            user = (
                found.user
                if found is not None
                else await auth.add_user(extension, secrets.token_urlsafe(12), Role.OPERATOR)
            )
            await service.login(user, extension, [queues[line]])
    return queues


async def _wait_for(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {seconds:.0f} s")
        await asyncio.sleep(0.05)


async def run_simulation(
    settings: Settings, options: SimulationOptions, *, progress: TextIO = sys.stderr
) -> tuple[Summary, dict[Line, StaffingTarget]]:
    plan = plan_calls(options)
    secret = secrets.token_hex(12)
    board = Switchboard(
        agi_host="127.0.0.1",
        agi_port=0,
        recordings_dir=settings.recordings,
        sounds_dir=SOUNDS if SOUNDS.is_dir() else None,
        ami_users={"hotline": (secret, {"read": BACKEND_READ, "write": BACKEND_WRITE})},
        clock=Clock(scale=options.scale),
        seed=options.seed,
    )
    targets = line_targets(settings)
    async with AsyncExitStack() as stack:
        await board.start("127.0.0.1", 0)
        stack.push_async_callback(board.stop)
        url = SecretStr(f"ami://hotline:{secret}@127.0.0.1:{board.ami_port}")
        settings = settings.model_copy(update={"ami_url": url, "agi_bind": "127.0.0.1:0"})
        app = build_app(settings)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        stack.push_async_callback(runner.cleanup)
        real_start = time.monotonic()
        await runner.setup()
        board.dialplan.agi_port = app[AGI].port
        service = app[AGENTS]

        async def connected() -> bool:
            return service.connected

        await _wait_for(connected, 30, "the AMI connection to the emulator")
        queues = await _operators(app, board, options)
        repository = app[AGENTS_REPO]
        since = interval_start(datetime.now(UTC))
        until = datetime.now(UTC) + timedelta(days=7)
        before = _interval_totals(await repository.queue_intervals(since, until))
        line_of_queue = {queue: line for line, queue in queues.items()}
        joins: dict[Line, int] = {}

        def count_join(event: AmiEvent) -> None:
            line = line_of_queue.get(event.get("Queue") or "")
            if event.name == "QueueCallerJoin" and line is not None:
                joins[line] = joins.get(line, 0) + 1

        unsubscribe = board.bus.subscribe(count_join)
        try:
            outcomes = await _drive(board, plan, options, progress)
        finally:
            unsubscribe()
        simulated = (
            options.hours * 3600.0
            if options.calls is None or len(plan) < options.calls
            else (plan[-1].at if plan else 0.0)
        )
        calls = PostgresSimulationRepository(app[POOL])
        uniqueids = [o.uniqueid for _, o in outcomes]

        async def settled() -> bool:
            if service.backlog:
                return False
            records = {r.uniqueid: r for r in await calls.calls(uniqueids)}
            figures = _figures(records, outcomes)
            after = _interval_totals(await repository.queue_intervals(since, until))
            _add_statistics(figures, before, after, queues)
            return sum(f.lost for f in figures.values()) == 0 and not _cross_check(
                figures, outcomes, joins
            )

        try:
            await _wait_for(settled, SETTLE_SECONDS, "the service to store every call")
        except TimeoutError as err:
            logger.warning("simulate: %s; counting what is stored", err)
        records = {r.uniqueid: r for r in await calls.calls(uniqueids)}
        figures = _figures(records, outcomes)
        after = _interval_totals(await repository.queue_intervals(since, until))
        _add_statistics(figures, before, after, queues)
        summary = Summary(
            options=options,
            planned=len(plan),
            fingerprint=fingerprint(plan),
            placed=len(outcomes),
            simulated_seconds=simulated,
            real_seconds=time.monotonic() - real_start,
            lines=figures,
            total=_sum(figures),
            mismatches=_cross_check(figures, outcomes, joins) + _ticket_check(records, outcomes),
        )
        return summary, targets


def _script(planned: PlannedCall) -> CallerScript:
    """1022: the menu key (a hang-up at the menu instead); 115: the address is recorded (a
    hang-up while it is)."""
    hang_up = None
    if planned.hangs_up_in_menu:
        hang_up = ("GET DATA", 1) if planned.line is Line.CITIZEN else ("RECORD FILE", 1)
    return CallerScript(
        keys=[planned.key], record_seconds=planned.record_seconds, hangup_on=hang_up
    )


async def _drive(
    board: Switchboard, plan: Sequence[PlannedCall], options: SimulationOptions, out: TextIO
) -> list[tuple[PlannedCall, CallOutcome]]:
    """Place every planned call at its simulated moment, then wait until all have ended."""
    clock = board.clock
    start = clock.now()
    total = options.hours * 3600.0 if options.calls is None else (plan[-1].at if plan else 0.0)
    bar = Progress(out, total, options.progress)
    handles: list[tuple[PlannedCall, CallHandle]] = []
    finished = 0

    def count(_: object) -> None:
        nonlocal finished
        finished += 1

    async def tick() -> None:
        while True:
            bar.draw(clock.now() - start, len(handles), len(handles) - finished)
            await asyncio.sleep(0.25)

    tasks = TaskManager()
    tasks.start(tick(), name="simulate-progress")
    try:
        for planned in plan:
            await clock.sleep_until(start + planned.at)
            handle = await board.place_call(
                planned.line.value,
                planned.number,
                script=_script(planned),
                patience=planned.patience,
            )
            handle.finished.add_done_callback(count)
            handles.append((planned, handle))
        await clock.sleep_until(start + total)
        # every caller gives up within MAX_PATIENCE and every talk ends: bounded
        longest = MAX_PATIENCE + 3 * max(options.aht_1022, options.aht_115) + 600
        async with asyncio.timeout(clock.real(longest) + 60):
            outcomes = [(p, await h.wait()) for p, h in handles]
        bar.draw(clock.now() - start, len(handles), 0)
    finally:
        await tasks.close()
        bar.done()
    return outcomes


def simulate(settings: Settings, options: SimulationOptions, out: TextIO = sys.stdout) -> int:
    """Run, print the summary; 0 when no call was lost and the figures agree."""
    summary, targets = asyncio.run(run_simulation(settings, options))
    print(render(summary, targets), file=out)
    return 0 if summary.ok else 1


__all__ = [
    "DAILY_PROFILE",
    "SCENARIOS",
    "CallMix",
    "PlannedCall",
    "SimulationOptions",
    "Summary",
    "fingerprint",
    "plan_calls",
    "render",
    "run_simulation",
    "seed_mix",
    "simulate",
]
