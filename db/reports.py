"""The report's SQL: every figure of ``tickets.reports.Report`` counted over tickets and calls
in a period of local (hotline time zone) days; the staffing section from the queue intervals of
``db.agents`` through ``tickets.staffing.plan_staffing``."""

from __future__ import annotations

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
    sum_calls,
)
from tickets.staffing import IntervalCounts, QueueStaffing, StaffingPolicy, plan_staffing

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
  avg(extract(epoch FROM on_scene_at - created_at) / 60.0)
    FILTER (WHERE on_scene_at IS NOT NULL) AS minutes_to_scene
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
"""


def period_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[start 00:00, day after end 00:00) at the hotline's local time."""
    return (
        datetime.combine(start, time(0), tzinfo=HOTLINE_TZ),
        datetime.combine(end + timedelta(days=1), time(0), tzinfo=HOTLINE_TZ),
    )


def _call_figures(row: asyncpg.Record) -> CallFigures:
    return CallFigures(
        queued=row["queued"],
        answered=row["answered"],
        within_15s=row["within_15s"],
        within_20s=row["within_20s"],
        abandoned=row["abandoned"],
    )


async def _months(
    conn: Connection, low: datetime, high: datetime, lines: tuple[Line, ...]
) -> tuple[MonthFigures, ...]:
    """Every calendar month the period touches, in order, with its requests and calls."""
    zone = str(HOTLINE_TZ)
    wanted = {line.value for line in lines}
    requests: dict[date, dict[Category, int]] = {}
    for r in await conn.fetch(_MONTH_REQUESTS, low, high, zone):
        category = Category(r["category"])
        if (Line.MEDICAL if category is Category.MEDICAL else Line.CITIZEN).value in wanted:
            requests.setdefault(r["month"], {})[category] = r["n"]
    calls: dict[date, dict[Line, CallFigures]] = {}
    for r in await conn.fetch(_CALLS, low, high, zone):
        if r["line"] in wanted:
            calls.setdefault(r["month"], {})[Line(r["line"])] = _call_figures(r)
    first = low.astimezone(HOTLINE_TZ).date().replace(day=1)
    last = (high.astimezone(HOTLINE_TZ) - timedelta(days=1)).date().replace(day=1)
    months = []
    month = first
    while month <= last:
        months.append(MonthFigures(month, requests.get(month, {}), calls.get(month, {})))
        month = (month + timedelta(days=32)).replace(day=1)
    return tuple(months)


class PostgresReportRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def report(
        self,
        start: date,
        end: date,
        lines: tuple[Line, ...],
        staffing: StaffingPolicy | None = None,
    ) -> Report:
        """The figures of ``lines``; with a staffing policy also the operators needed per queue
        of those lines (Erlang C over the period's 15-minute intervals)."""
        low, high = period_bounds(start, end)
        citizen = medical = None
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            if Line.CITIZEN in lines:
                row = await conn.fetchrow(_CITIZEN, low, high)
                assert row is not None
                citizen = CitizenFigures(
                    by_category={
                        Category.ADMIN_PROCEDURE: row["admin_procedure"],
                        Category.FIELD_REPORT: row["field_report"],
                        Category.INFORMATION: row["information"],
                    },
                    unclassified=row["unclassified"],
                    forwarded=row["forwarded"],
                    agencies=row["agencies"],
                    responded=row["responded"],
                    responded_on_time=row["on_time"],
                    satisfied=row["satisfied"],
                    escalated=row["escalated"],
                )
            if Line.MEDICAL in lines:
                successful = sorted(o.value for o in SUCCESSFUL_OUTCOMES)
                row = await conn.fetchrow(_MEDICAL, low, high, successful)
                assert row is not None
                outcomes: dict[bool, dict[Outcome | None, int]] = {True: {}, False: {}}
                for r in await conn.fetch(_OUTCOMES, low, high):
                    code = None if r["outcome"] is None else Outcome(r["outcome"])
                    outcomes[r["sent"]][code] = r["n"]
                minutes = row["minutes_to_scene"]
                medical = MedicalFigures(
                    requests=row["requests"],
                    sent=row["sent"],
                    successful=row["successful"],
                    sent_by_outcome=outcomes[True],
                    not_sent_by_outcome=outcomes[False],
                    mean_minutes_to_scene=None if minutes is None else float(minutes),
                )
            months = await _months(conn, low, high, lines)
            calls = {
                line: sum_calls(m.calls[line] for m in months if line in m.calls)
                for line in lines
                if any(line in m.calls for m in months)
            }
            agencies = (
                tuple(
                    AgencyFigures(r["agency_code"], r["forwarded"], r["responded"], r["satisfied"])
                    for r in await conn.fetch(_AGENCIES, low, high)
                )
                if Line.CITIZEN in lines
                else ()
            )
        needed = () if staffing is None else await self._staffing(low, high, lines, staffing)
        return Report(start, end, lines, citizen, medical, calls, needed, months, agencies)

    async def _staffing(
        self, low: datetime, high: datetime, lines: tuple[Line, ...], policy: StaffingPolicy
    ) -> tuple[QueueStaffing, ...]:
        rows = await PostgresAgentsRepository(self._pool).queue_intervals(low, high)
        plan = plan_staffing((IntervalCounts.from_row(r) for r in rows), policy)
        return tuple(q for q in plan.queues if q.line in lines)
