"""What ``/metrics`` reads of the database at each scrape: work waiting (citizen messages,
transcriptions, queue_log rows) and the pool's connections. Short read-only statements on one
connection, bounded together."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import asyncpg

from db.errors import UNAVAILABLE
from db.queue_log import ROWS_BEHIND

logger = logging.getLogger(__name__)

# Pending rows are what the partial indexes notifications_due_idx and transcription_jobs'
# pending/running indexes hold: the counts read those, never the whole tables.
_BACKLOGS = """
SELECT 'outbox' AS kind, channel AS key, count(*) AS n,
       coalesce(extract(epoch FROM now() - min(next_attempt_at)
                                  FILTER (WHERE next_attempt_at <= now())), 0) AS oldest_due
FROM notifications WHERE status = 'pending' GROUP BY channel
UNION ALL
SELECT 'transcription', status, count(*), 0
FROM transcription_jobs WHERE status IN ('pending', 'running') GROUP BY status
"""

NO_ANSWER: tuple[type[Exception], ...] = (*UNAVAILABLE, TimeoutError)


@dataclass(frozen=True)
class Backlogs:
    outbox: dict[str, int]  # channel → pending messages
    outbox_oldest_due: float  # seconds the longest-due pending message has been due
    transcription: dict[str, int]  # pending / running → jobs
    queue_log_behind: int  # queue_log rows not applied yet (db/queue_log.py)


class PostgresHealthRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    def connections(self) -> tuple[int, int]:
        """(in use, open) connections of the pool."""
        size = self._pool.get_size()
        return size - self._pool.get_idle_size(), size

    async def backlogs(self, wait: float) -> Backlogs | None:
        """``None`` when the database does not answer within ``wait`` seconds."""
        try:
            async with asyncio.timeout(wait), self._pool.acquire() as conn:  # the wait counts
                rows = await conn.fetch(_BACKLOGS)
                behind = int(await conn.fetchval(ROWS_BEHIND))
        except NO_ANSWER:
            return None
        except asyncpg.PostgresError:
            logger.exception("metrics: the backlog counts failed")
            return None
        outbox = {r["key"]: r["n"] for r in rows if r["kind"] == "outbox"}
        oldest = max((float(r["oldest_due"]) for r in rows if r["kind"] == "outbox"), default=0.0)
        transcription = {r["key"]: r["n"] for r in rows if r["kind"] == "transcription"}
        return Backlogs(outbox, oldest, transcription, behind)
