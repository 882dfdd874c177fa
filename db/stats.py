"""The wallboard's read-only SQL: tickets per category and calendar month (months of the hotline
time zone), and operators logged in per queue and 15-minute interval (from their softphone
sessions), for the Erlang C comparison."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from tickets.codes import HOTLINE_TZ
from tickets.staffing import INTERVAL

# Tickets that are requests: a merged duplicate or one handed over to the other line is counted
# once, on the ticket that carries on (as in the reports). The range on (line, created_at) is what
# tickets_created_idx serves; the month is taken in the hotline's time zone.
_CATEGORIES = """
SELECT to_char(created_at AT TIME ZONE $4, 'YYYY-MM') AS month, category, count(*) AS tickets
FROM tickets
WHERE line = ANY($3::text[]) AND created_at >= $1 AND created_at < $2
  AND merged_into IS NULL AND status <> 'transferred'
GROUP BY 1, 2
ORDER BY 1, 2
"""

# A session counts in every interval it overlaps, for each queue it was logged in to; an open
# session is logged in until now.
_LOGGED_IN = """
WITH sessions AS (
  SELECT user_id, queues, logged_in_at, coalesce(logged_out_at, now()) AS until
  FROM operator_sessions
  WHERE logged_in_at < $2 AND coalesce(logged_out_at, now()) > $1
), slots AS (
  SELECT generate_series($1::timestamptz, $2::timestamptz - $3::interval, $3::interval) AS s
)
SELECT q.queue, slots.s AS interval_start, count(DISTINCT o.user_id) AS operators
FROM slots
JOIN sessions o ON o.logged_in_at < slots.s + $3::interval AND o.until > slots.s
CROSS JOIN LATERAL unnest(o.queues) AS q(queue)
GROUP BY 1, 2
ORDER BY 2, 1
"""


@dataclass(frozen=True)
class MonthlyCount:
    month: str  # YYYY-MM in the hotline time zone
    category: str
    tickets: int


@dataclass(frozen=True)
class LoggedIn:
    queue: str
    interval_start: datetime
    operators: int


def month_starts(last: date, months: int) -> list[date]:
    """The first days of ``months`` calendar months ending with the month of ``last``."""
    year, month = last.year, last.month
    starts = []
    for _ in range(months):
        starts.append(date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return starts[::-1]


def _local_midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=HOTLINE_TZ)


class PostgresStatsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def tickets_per_month(
        self, first: date, end: date, lines: list[str]
    ) -> list[MonthlyCount]:
        """Tickets created from local day ``first`` (a month's first day) to before ``end``."""
        rows = await self._pool.fetch(
            _CATEGORIES,
            _local_midnight(first),
            _local_midnight(end),
            lines,
            HOTLINE_TZ.key,
        )
        return [MonthlyCount(r["month"], r["category"], int(r["tickets"])) for r in rows]

    async def logged_in_per_interval(self, start: datetime, end: datetime) -> list[LoggedIn]:
        """``start`` on a 15-minute boundary; intervals from it up to before ``end``."""
        rows = await self._pool.fetch(_LOGGED_IN, start, end, INTERVAL)
        return [LoggedIn(r["queue"], r["interval_start"], int(r["operators"])) for r in rows]
