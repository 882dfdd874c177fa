"""Erlang C staffing over measured 15-minute intervals (pure, no I/O).

Per queue and interval: arrivals are the callers who joined the queue, handling time is the talk
time of the calls completed in that interval (the period's when the interval has none), and the
line's target (115: 90 % within 15 s; 1022: configurable) gives the operators needed. Per queue
the period's summary: calls, handling time, the peak (and the first interval reaching it) and the
mean over the intervals that had calls. The HTTP statistics and the report both use
:func:`plan_staffing`, so they always show the same figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from tickets.erlang import Staffing, StaffingTarget, interval_staffing
from tickets.model import Line

INTERVAL = timedelta(minutes=15)  # of the queue statistics (``agents.stats``) and of staffing
AhtSource = Literal["interval", "period"]


class StaffingSettings(Protocol):
    """The four settings of the targets (``hotline.settings.Settings`` has them)."""

    @property
    def staffing_target_1022(self) -> float: ...
    @property
    def staffing_seconds_1022(self) -> int: ...
    @property
    def staffing_target_115(self) -> float: ...
    @property
    def staffing_seconds_115(self) -> int: ...


class QueueOfLine(Protocol):
    """A line's flow in the menu file: the queue its callers wait in."""

    @property
    def queue(self) -> str: ...


def line_targets(settings: StaffingSettings) -> dict[Line, StaffingTarget]:
    return {
        Line.CITIZEN: StaffingTarget(settings.staffing_target_1022, settings.staffing_seconds_1022),
        Line.MEDICAL: StaffingTarget(settings.staffing_target_115, settings.staffing_seconds_115),
    }


def queue_lines(flows: Mapping[Line, QueueOfLine]) -> dict[str, Line]:
    """Queue → line from the menu file's flows."""
    return {flow.queue: line for line, flow in flows.items()}


@dataclass(frozen=True)
class StaffingPolicy:
    """Which line each queue serves (a queue not in the menu counts as 1022) and each line's
    target."""

    queue_lines: Mapping[str, Line]
    targets: Mapping[Line, StaffingTarget]
    default_line: Line = Line.CITIZEN

    @classmethod
    def from_config(
        cls, settings: StaffingSettings, flows: Mapping[Line, QueueOfLine]
    ) -> StaffingPolicy:
        return cls(queue_lines(flows), line_targets(settings))

    def line_of(self, queue: str) -> Line:
        return self.queue_lines.get(queue, self.default_line)


@dataclass(frozen=True)
class IntervalCounts:
    """What one queue measured in one interval (a ``queue_intervals`` row)."""

    queue: str
    interval_start: datetime
    received: int
    completed: int
    talk_seconds_sum: int

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> IntervalCounts:
        return cls(
            queue=str(row["queue"]),
            interval_start=row["interval_start"],
            received=int(row["received"]),
            completed=int(row["completed"]),
            talk_seconds_sum=int(row["talk_seconds_sum"]),
        )


@dataclass(frozen=True)
class IntervalStaffing:
    """Operators needed in one interval; the Erlang C figures are None when calls arrived but
    no handling time is known (or beyond any real call centre)."""

    queue: str
    line: Line
    interval_start: datetime
    received: int
    aht_seconds: float | None
    aht_from: AhtSource | None
    intensity_erlangs: float | None
    operators_needed: int | None
    service_level: float | None
    asa_seconds: float | None
    occupancy: float | None


@dataclass(frozen=True)
class QueueStaffing:
    """One queue over the period. ``peak_operators_needed`` is 0 when nothing is known;
    ``peak_interval_start`` is the first interval with calls that reaches the peak (None when
    no interval with calls has a known answer); ``mean_operators_needed`` is over the intervals
    with calls and a known answer."""

    queue: str
    line: Line
    target: StaffingTarget
    received: int
    aht_seconds: float | None
    peak_operators_needed: int
    peak_interval_start: datetime | None
    mean_operators_needed: float | None
    intervals_with_calls: int


@dataclass(frozen=True)
class StaffingPlan:
    intervals: tuple[IntervalStaffing, ...]
    queues: tuple[QueueStaffing, ...]  # in the order each queue first appears


def aht(talk_seconds: int, completed: int) -> float | None:
    return talk_seconds / completed if completed else None


def _interval(
    counts: IntervalCounts,
    line: Line,
    target: StaffingTarget,
    period_aht: float | None,
    interval_seconds: float,
) -> IntervalStaffing:
    own = aht(counts.talk_seconds_sum, counts.completed)
    handling = own if own is not None else period_aht
    answer: Staffing | None
    try:
        answer = interval_staffing(counts.received, handling, target, interval_seconds)
    except ValueError:  # beyond any real call centre (more than 100,000 operators)
        answer = None
    source: AhtSource | None = "interval" if own is not None else "period" if handling else None
    return IntervalStaffing(
        queue=counts.queue,
        line=line,
        interval_start=counts.interval_start,
        received=counts.received,
        aht_seconds=handling,
        aht_from=source,
        intensity_erlangs=None if answer is None else answer.intensity,
        operators_needed=None if answer is None else answer.agents,
        service_level=None if answer is None else answer.service_level,
        asa_seconds=None if answer is None else answer.asa_seconds,
        occupancy=None if answer is None else answer.occupancy,
    )


def _summary(
    queue: str,
    line: Line,
    target: StaffingTarget,
    period_aht: float | None,
    rows: list[IntervalStaffing],
) -> QueueStaffing:
    known = [r for r in rows if r.operators_needed is not None]
    busy = [r for r in known if r.received > 0]
    peak = max((r.operators_needed or 0 for r in known), default=0)
    peak_at = next((r.interval_start for r in busy if r.operators_needed == peak), None)
    return QueueStaffing(
        queue=queue,
        line=line,
        target=target,
        received=sum(r.received for r in rows),
        aht_seconds=period_aht,
        peak_operators_needed=peak,
        peak_interval_start=peak_at,
        mean_operators_needed=(
            sum(r.operators_needed or 0 for r in busy) / len(busy) if busy else None
        ),
        intervals_with_calls=sum(1 for r in rows if r.received > 0),
    )


def plan_staffing(
    rows: Iterable[IntervalCounts],
    policy: StaffingPolicy,
    interval_seconds: float = INTERVAL.total_seconds(),
) -> StaffingPlan:
    """Erlang C for every interval of ``rows`` (kept in their order) and per queue."""
    counts = list(rows)
    by_queue: dict[str, list[IntervalCounts]] = {}
    for row in counts:
        by_queue.setdefault(row.queue, []).append(row)
    period_aht = {
        queue: aht(sum(r.talk_seconds_sum for r in own), sum(r.completed for r in own))
        for queue, own in by_queue.items()
    }
    intervals = tuple(
        _interval(
            row,
            policy.line_of(row.queue),
            policy.targets[policy.line_of(row.queue)],
            period_aht[row.queue],
            interval_seconds,
        )
        for row in counts
    )
    queues = tuple(
        _summary(
            queue,
            policy.line_of(queue),
            policy.targets[policy.line_of(queue)],
            period_aht[queue],
            [i for i in intervals if i.queue == queue],
        )
        for queue in by_queue
    )
    return StaffingPlan(intervals, queues)
