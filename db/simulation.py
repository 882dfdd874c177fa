"""What became of a set of calls (``hotline simulate`` reads its own calls back by uniqueid)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg


@dataclass(frozen=True)
class CallRecord:
    uniqueid: str
    line: str
    disposition: str
    ticket_code: str | None
    queue_joined_at: datetime | None
    answered_at: datetime | None
    abandoned_at: datetime | None
    queue_wait_seconds: float | None


class PostgresSimulationRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def calls(self, uniqueids: list[str]) -> list[CallRecord]:
        """The stored calls among ``uniqueids``, each with its ticket (none if not stored)."""
        rows = await self._pool.fetch(
            "SELECT c.uniqueid, c.line, c.disposition, t.code AS ticket_code, c.queue_joined_at,"
            " c.answered_at, c.abandoned_at, c.queue_wait_seconds"
            " FROM calls c LEFT JOIN tickets t ON t.id = c.ticket_id"
            " WHERE c.uniqueid = ANY($1::text[]) ORDER BY c.uniqueid",
            uniqueids,
        )
        return [CallRecord(**dict(r)) for r in rows]

    async def called_back(self, uniqueids: list[str]) -> set[str]:
        """Which of ``uniqueids`` have a call-back (a caller who gave up in a queue)."""
        rows = await self._pool.fetch(
            "SELECT call_uniqueid FROM callbacks WHERE call_uniqueid = ANY($1::text[])",
            uniqueids,
        )
        return {r["call_uniqueid"] for r in rows}
