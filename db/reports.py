"""The report's SQL: every figure of ``tickets.reports.Report`` for a period of local (hotline
time zone) days, read from the rollups that triggers keep per day and group (migration
``0018_report_rollups``: the folded counts and the changes not folded yet), so a report reads
days × groups rows whatever the number of tickets; or, for a cross-check (``hotline report
--from-rows``, the tests, the benchmark), counted over the tickets and calls themselves. The
staffing section comes from the queue intervals of ``db.agents`` through
``tickets.staffing.plan_staffing``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import asyncpg

from db.agents import PostgresAgentsRepository
from db.migrations import Connection
from tickets.codes import HOTLINE_TZ
from tickets.dispatch import SUCCESSFUL_OUTCOMES, Outcome
from tickets.model import Category, Line
from tickets.reports import (
    AgencyFigures,
    CallFigures,
    CitizenFigures,
    MedicalFigures,
    MonthFigures,
    Report,
    ReviewFigures,
    sum_calls,
)
from tickets.staffing import IntervalCounts, QueueStaffing, StaffingPolicy, plan_staffing

logger = logging.getLogger(__name__)

ROWS_TIMEOUT = 3600.0  # seconds one statement of a report counted over the rows may take

# Requests are the tickets of the period that are not a merged duplicate nor handed over to the
# other line (those are counted once, on the ticket that carries on), nor simulated (``hotline
# simulate --into-configured-database``); neither are the calls of simulated tickets.

_CITIZEN = """
SELECT
  count(*) FILTER (WHERE category = 'admin_procedure') AS admin_procedure,
  count(*) FILTER (WHERE category = 'field_report') AS field_report,
  count(*) FILTER (WHERE category = 'information') AS information,
  count(*) FILTER (WHERE category = 'unclassified') AS unclassified,
  count(*) FILTER (WHERE forwarded_at IS NOT NULL) AS forwarded,
  count(DISTINCT agency_code) FILTER (WHERE forwarded_at IS NOT NULL) AS agencies,
  count(*) FILTER (WHERE forwarded_at IS NOT NULL AND responded_at IS NOT NULL) AS responded,
  count(*) FILTER (WHERE forwarded_at IS NOT NULL AND responded_at IS NOT NULL
                   AND (deadline_at IS NULL OR responded_at <= deadline_at)) AS on_time,
  count(*) FILTER (WHERE forwarded_at IS NOT NULL AND responded_at IS NOT NULL
                   AND closure = 'satisfied') AS satisfied,
  count(*) FILTER (WHERE forwarded_at IS NOT NULL AND escalated_at IS NOT NULL) AS escalated
FROM tickets t
WHERE t.line = '1022' AND t.created_at >= $1 AND t.created_at < $2
  AND t.merged_into IS NULL AND t.status <> 'transferred' AND NOT t.simulated
"""

# On 115 every call leaves a ticket, so all of them are requests (prank calls, wrong numbers,
# duplicates, advice on the phone); a request was sent to the nearest hospital or health centre
# when at least one dispatch request went out (``dispatched_at`` is set with the first one). The
# success rate is successful outcomes / all 115 requests.
_MEDICAL_FILTER = """
WHERE t.line = '115' AND t.category = 'medical' AND t.created_at >= $1 AND t.created_at < $2
  AND t.merged_into IS NULL AND t.status <> 'transferred' AND NOT t.simulated
"""

_MEDICAL = (
    """
SELECT
  count(*) AS requests,
  count(*) FILTER (WHERE dispatched_at IS NOT NULL) AS sent,
  count(*) FILTER (WHERE outcome = ANY($3::text[])) AS successful,
  sum(extract(epoch FROM on_scene_at - created_at)) FILTER (WHERE on_scene_at IS NOT NULL)
    / nullif(count(*) FILTER (WHERE on_scene_at IS NOT NULL), 0) / 60.0 AS minutes_to_scene
FROM tickets t"""
    + _MEDICAL_FILTER
)

_OUTCOMES = (
    """
SELECT dispatched_at IS NOT NULL AS sent, outcome, count(*) AS n FROM tickets t"""
    + _MEDICAL_FILTER
    + "GROUP BY 1, 2"
)

# A call counts in the period (and the month) of the day it joined the queue; "answered within
# 20 s" means it waited at most 20 s in the queue before an operator answered. Per month and
# line; the period's figures are the months' sums.
_CALLS = """
SELECT date_trunc('month', queue_joined_at AT TIME ZONE $3)::date AS month, line,
  count(*) AS queued,
  count(*) FILTER (WHERE answered_at IS NOT NULL) AS answered,
  count(*) FILTER (WHERE answered_at IS NOT NULL AND queue_wait_seconds <= 15) AS within_15s,
  count(*) FILTER (WHERE answered_at IS NOT NULL AND queue_wait_seconds <= 20) AS within_20s,
  count(*) FILTER (WHERE abandoned_at IS NOT NULL AND answered_at IS NULL) AS abandoned
FROM calls c
WHERE queue_joined_at >= $1 AND queue_joined_at < $2
  AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.id = c.ticket_id AND t.simulated)
GROUP BY 1, 2
"""


# The series the reports page draws: requests per local month and category (1022's, and 115's
# medical ones), the calls per month and line, and per agency the 1022 tickets forwarded to it,
# answered and rated satisfactory (the report's rules: merged, transferred and simulated
# tickets left out).
_MONTH_REQUESTS = """
SELECT date_trunc('month', t.created_at AT TIME ZONE $3)::date AS month, t.category,
       count(*) AS n
FROM tickets t
WHERE t.created_at >= $1 AND t.created_at < $2
  AND t.merged_into IS NULL AND t.status <> 'transferred' AND NOT t.simulated
  AND ((t.line = '1022' AND t.category <> 'unclassified') OR t.category = 'medical')
GROUP BY 1, 2
"""

_AGENCIES = """
SELECT agency_code,
  count(*) AS forwarded,
  count(*) FILTER (WHERE responded_at IS NOT NULL) AS responded,
  count(*) FILTER (WHERE responded_at IS NOT NULL AND closure = 'satisfied') AS satisfied
FROM tickets t
WHERE t.line = '1022' AND t.created_at >= $1 AND t.created_at < $2
  AND t.merged_into IS NULL AND t.status <> 'transferred' AND NOT t.simulated
  AND t.forwarded_at IS NOT NULL AND t.agency_code IS NOT NULL
GROUP BY agency_code
ORDER BY agency_code
"""


# The same figures from the rollups: the period's whole months [$3, $4) from the monthly
# counts, its other days from the daily ones, and the changes not folded yet, summed. A group
# whose changes cancel out (a ticket moved on) sums to zero and is left out, as the row queries
# never see it.
_ROLLUP = """
WITH r AS (
    SELECT * FROM report_tickets_monthly WHERE day >= $3 AND day < $4
    UNION ALL
    SELECT * FROM report_tickets
    WHERE day BETWEEN $1 AND $2 AND NOT (day >= $3 AND day < $4)
    UNION ALL
    SELECT * FROM report_ticket_changes WHERE day BETWEEN $1 AND $2
)
"""

_ROLLUP_CITIZEN = (
    _ROLLUP
    + """
SELECT
  coalesce(sum(tickets) FILTER (WHERE category = 'admin_procedure'), 0)::bigint
    AS admin_procedure,
  coalesce(sum(tickets) FILTER (WHERE category = 'field_report'), 0)::bigint AS field_report,
  coalesce(sum(tickets) FILTER (WHERE category = 'information'), 0)::bigint AS information,
  coalesce(sum(tickets) FILTER (WHERE category = 'unclassified'), 0)::bigint AS unclassified,
  coalesce(sum(forwarded), 0)::bigint AS forwarded,
  coalesce(sum(responded), 0)::bigint AS responded,
  coalesce(sum(on_time), 0)::bigint AS on_time,
  coalesce(sum(satisfied), 0)::bigint AS satisfied,
  coalesce(sum(escalated), 0)::bigint AS escalated
FROM r WHERE line = '1022'
"""
)

_ROLLUP_MEDICAL = (
    _ROLLUP
    + """
SELECT
  coalesce(sum(tickets), 0)::bigint AS requests,
  coalesce(sum(tickets) FILTER (WHERE sent), 0)::bigint AS sent,
  coalesce(sum(tickets) FILTER (WHERE outcome = ANY($5::text[])), 0)::bigint AS successful,
  sum(scene_seconds) / nullif(sum(on_scene), 0) / 60.0 AS minutes_to_scene
FROM r WHERE line = '115' AND category = 'medical'
"""
)

_ROLLUP_OUTCOMES = (
    _ROLLUP
    + """
SELECT sent, nullif(outcome, '') AS outcome, sum(tickets)::bigint AS n
FROM r WHERE line = '115' AND category = 'medical'
GROUP BY 1, 2 HAVING sum(tickets) <> 0
"""
)

_ROLLUP_MONTH_REQUESTS = (
    _ROLLUP
    + """
SELECT date_trunc('month', day::timestamp)::date AS month, category, sum(tickets)::bigint AS n
FROM r WHERE (line = '1022' AND category <> 'unclassified') OR category = 'medical'
GROUP BY 1, 2 HAVING sum(tickets) <> 0
"""
)

_ROLLUP_AGENCIES = (
    _ROLLUP
    + """
SELECT agency_code, sum(forwarded)::bigint AS forwarded, sum(responded)::bigint AS responded,
       sum(satisfied)::bigint AS satisfied
FROM r WHERE line = '1022' AND agency_code <> ''
GROUP BY agency_code HAVING sum(forwarded) <> 0
ORDER BY agency_code
"""
)

_ROLLUP_CALLS = """
SELECT date_trunc('month', day::timestamp)::date AS month, line,
  sum(queued)::bigint AS queued, sum(answered)::bigint AS answered,
  sum(within_15s)::bigint AS within_15s, sum(within_20s)::bigint AS within_20s,
  sum(abandoned)::bigint AS abandoned
FROM (
    SELECT * FROM report_calls WHERE day BETWEEN $1 AND $2
    UNION ALL
    SELECT * FROM report_call_changes WHERE day BETWEEN $1 AND $2
) r
GROUP BY 1, 2 HAVING sum(queued) <> 0
"""

FOLD_INTERVAL = 5.0  # seconds between folds of the rollups' changes

# The quality reviews of each line's calls per local month they were reviewed in (the review's
# score is already weighted by its criteria); a simulated ticket's call is not reviewed.
_REVIEWS = """
SELECT date_trunc('month', v.reviewed_at AT TIME ZONE $3)::date AS month, v.line,
       count(*) AS reviews, avg(v.score) AS mean_score
FROM call_reviews v
WHERE v.reviewed_at >= $1 AND v.reviewed_at < $2
GROUP BY 1, 2
"""


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, day after end 00:00) at the hotline's local time."""
    return (
        datetime.combine(start, time(0), tzinfo=HOTLINE_TZ),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=HOTLINE_TZ),
    )


@dataclass(frozen=True)
class _Queries:
    """One source of the figures: the SQL of each part and its period arguments."""

    citizen: str
    medical: str
    outcomes: str
    month_requests: str
    calls: str
    agencies: str
    rows: bool  # counted over the rows: the period as instants (and a zone), else as days


_FROM_ROWS = _Queries(_CITIZEN, _MEDICAL, _OUTCOMES, _MONTH_REQUESTS, _CALLS, _AGENCIES, rows=True)
_FROM_ROLLUPS = _Queries(
    _ROLLUP_CITIZEN,
    _ROLLUP_MEDICAL,
    _ROLLUP_OUTCOMES,
    _ROLLUP_MONTH_REQUESTS,
    _ROLLUP_CALLS,
    _ROLLUP_AGENCIES,
    rows=False,
)


def _call_figures(row: asyncpg.Record) -> CallFigures:
    return CallFigures(
        queued=row["queued"],
        answered=row["answered"],
        within_15s=row["within_15s"],
        within_20s=row["within_20s"],
        abandoned=row["abandoned"],
    )


def _whole_months(start: date, end: date) -> tuple[date, date]:
    """[first, last) of the calendar months that lie wholly inside [start, end] (first == last
    when there is none): the part of the period the monthly rollups answer."""
    first = start if start.day == 1 else (start.replace(day=1) + timedelta(days=32)).replace(day=1)
    last = (end + timedelta(days=1)).replace(day=1)
    return first, max(first, last)


def _month_firsts(start: date, end: date) -> list[date]:
    """The first day of every calendar month from ``start``'s to ``end``'s."""
    months = []
    month = start.replace(day=1)
    while month <= end:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


class PostgresReportRepository:
    """``from_rows``: count over the tickets and calls themselves instead of the rollups (slow
    on a large database; the cross-check of the rollups)."""

    def __init__(self, pool: asyncpg.Pool, *, from_rows: bool = False) -> None:
        self._pool = pool
        self._queries = _FROM_ROWS if from_rows else _FROM_ROLLUPS
        # Counting millions of rows takes minutes, past the pool's 30 s bound for one statement.
        self._timeout = ROWS_TIMEOUT if from_rows else None

    async def report(
        self,
        start: date,
        end: date,
        lines: tuple[Line, ...],
        staffing: StaffingPolicy | None = None,
    ) -> Report:
        """The figures of ``lines``; with a staffing policy also the operators needed per queue
        of those lines (Erlang C over the period's 15-minute intervals)."""
        q = self._queries
        low, high = period_bounds(start, end)
        days: tuple[object, ...] = (low, high) if q.rows else (start, end)
        period = days if q.rows else (*days, *_whole_months(start, end))
        citizen = medical = None
        agencies: tuple[AgencyFigures, ...] = ()
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            if Line.CITIZEN in lines:
                agencies = tuple(
                    AgencyFigures(r["agency_code"], r["forwarded"], r["responded"], r["satisfied"])
                    for r in await conn.fetch(q.agencies, *period, timeout=self._timeout)
                )
                row = await conn.fetchrow(q.citizen, *period, timeout=self._timeout)
                assert row is not None
                citizen = CitizenFigures(
                    by_category={
                        Category.ADMIN_PROCEDURE: row["admin_procedure"],
                        Category.FIELD_REPORT: row["field_report"],
                        Category.INFORMATION: row["information"],
                    },
                    unclassified=row["unclassified"],
                    forwarded=row["forwarded"],
                    agencies=len(agencies),
                    responded=row["responded"],
                    responded_on_time=row["on_time"],
                    satisfied=row["satisfied"],
                    escalated=row["escalated"],
                )
            if Line.MEDICAL in lines:
                medical = await self._medical(conn, period)
            months = await self._months(conn, start, end, period, days, lines)
        calls = {
            line: sum_calls(m.calls[line] for m in months if line in m.calls)
            for line in lines
            if any(line in m.calls for m in months)
        }
        needed = () if staffing is None else await self._staffing(low, high, lines, staffing)
        return Report(start, end, lines, citizen, medical, calls, needed, months, agencies)

    async def _medical(self, conn: Connection, period: tuple[object, ...]) -> MedicalFigures:
        q = self._queries
        successful = sorted(o.value for o in SUCCESSFUL_OUTCOMES)
        row = await conn.fetchrow(q.medical, *period, successful, timeout=self._timeout)
        assert row is not None
        outcomes: dict[bool, dict[Outcome | None, int]] = {True: {}, False: {}}
        for r in await conn.fetch(q.outcomes, *period, timeout=self._timeout):
            code = None if r["outcome"] is None else Outcome(r["outcome"])
            outcomes[r["sent"]][code] = r["n"]
        minutes = row["minutes_to_scene"]
        return MedicalFigures(
            requests=row["requests"],
            sent=row["sent"],
            successful=row["successful"],
            sent_by_outcome=outcomes[True],
            not_sent_by_outcome=outcomes[False],
            mean_minutes_to_scene=None if minutes is None else float(minutes),
        )

    async def _months(
        self,
        conn: Connection,
        start: date,
        end: date,
        period: tuple[object, ...],
        days: tuple[object, ...],
        lines: tuple[Line, ...],
    ) -> tuple[MonthFigures, ...]:
        """Every calendar month the period touches, in order, with its requests, calls and
        reviews (``period``: the arguments of the tickets' queries, ``days`` those of the
        calls'; the reviews, few, are always counted over their rows)."""
        q = self._queries
        zone = (str(HOTLINE_TZ),) if q.rows else ()
        wanted = {line.value for line in lines}
        requests: dict[date, dict[Category, int]] = {}
        for r in await conn.fetch(q.month_requests, *period, *zone, timeout=self._timeout):
            category = Category(r["category"])
            if (Line.MEDICAL if category is Category.MEDICAL else Line.CITIZEN).value in wanted:
                requests.setdefault(r["month"], {})[category] = r["n"]
        calls: dict[date, dict[Line, CallFigures]] = {}
        for r in await conn.fetch(q.calls, *days, *zone, timeout=self._timeout):
            if r["line"] in wanted:
                calls.setdefault(r["month"], {})[Line(r["line"])] = _call_figures(r)
        reviews: dict[date, dict[Line, ReviewFigures]] = {}
        for r in await conn.fetch(_REVIEWS, *period_bounds(start, end), str(HOTLINE_TZ)):
            if r["line"] in wanted:
                figures = ReviewFigures(r["reviews"], float(r["mean_score"]))
                reviews.setdefault(r["month"], {})[Line(r["line"])] = figures
        return tuple(
            MonthFigures(
                month, requests.get(month, {}), calls.get(month, {}), reviews.get(month, {})
            )
            for month in _month_firsts(start, end)
        )

    async def fold(self) -> int:
        """Move the changes the triggers appended into the rollups (exactly once, whichever
        instance folds); the number of rollup rows written."""
        return int(await self._pool.fetchval("SELECT report_rollups_fold()"))

    async def run_folder(self, stop: asyncio.Event, interval: float = FOLD_INTERVAL) -> None:
        """Until ``stop``: fold every ``interval`` seconds, so a report reads few change rows.
        A failed fold is logged and tried again (nothing is lost: the changes stay)."""
        while not stop.is_set():
            try:
                await self.fold()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                logger.warning("reports: cannot fold the rollups' changes: %s", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def _staffing(
        self, low: datetime, high: datetime, lines: tuple[Line, ...], policy: StaffingPolicy
    ) -> tuple[QueueStaffing, ...]:
        rows = await PostgresAgentsRepository(self._pool).queue_intervals(low, high)
        plan = plan_staffing((IntervalCounts.from_row(r) for r in rows), policy)
        return tuple(q for q in plan.queues if q.line in lines)
