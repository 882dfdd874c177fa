"""What became of the simulated calls: per line, from the service's database (calls and their
tickets, by uniqueid) and its 15-minute statistics (their increase during the run), cross-checked
with what the emulator saw of every call. A ticket missing for any simulated call is a lost
call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from db.simulation import CallRecord
from hotline.emulated.plan import PlannedCall, SimulationOptions
from switchboard.board import CallOutcome
from tickets.model import Line


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


def call_figures(
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


def interval_totals(rows: list[dict[str, Any]]) -> dict[str, dict[str, int]]:
    totals: dict[str, dict[str, int]] = {}
    for row in rows:
        queue = totals.setdefault(row["queue"], {})
        for key in ("received", "answered", "abandoned", "completed", "talk_seconds_sum"):
            queue[key] = queue.get(key, 0) + int(row[key])
    return totals


def add_statistics(
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


def cross_check(
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


def callback_check(
    called_back: set[str], outcomes: Sequence[tuple[PlannedCall, CallOutcome]]
) -> list[str]:
    """A call-back for every caller who gave up in a queue, and for nobody else."""
    gave_up = {o.uniqueid for _, o in outcomes if o.abandoned}
    if called_back == gave_up:
        return []
    return [
        f"call-backs: service {len(called_back)}, emulator {len(gave_up)} callers gave up"
        f" (missing {sorted(gave_up - called_back)[:5]}, extra {sorted(called_back - gave_up)[:5]})"
    ]


def ticket_check(
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


def total_of(figures: dict[Line, LineFigures]) -> LineFigures:
    total = LineFigures()
    for name in LineFigures.__dataclass_fields__:
        setattr(total, name, sum(getattr(f, name) for f in figures.values()))
    return total
