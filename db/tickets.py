"""Ticket queries for the API: one ticket with its call and timeline, a caller's tickets."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from tickets.model import CallDisposition, Category, Line, Ticket, TicketEvent, TicketStatus

_TICKET = """
SELECT t.*, c.uniqueid AS call_uniqueid, c.disposition AS call_disposition,
       coalesce(c.ivr_path, '[]'::jsonb) AS ivr_path
FROM tickets t
LEFT JOIN LATERAL (
    SELECT uniqueid, disposition, ivr_path FROM calls WHERE ticket_id = t.id
    ORDER BY started_at LIMIT 1
) c ON true
"""


def _ticket(row: asyncpg.Record, events: list[TicketEvent]) -> Ticket:
    return Ticket(
        id=row["id"],
        code=row["code"],
        line=Line(row["line"]),
        category=Category(row["category"]),
        status=TicketStatus(row["status"]),
        caller_phone=row["caller_phone"],
        caller_raw=row["caller_raw"],
        description=row["description"],
        description_recording=row["description_recording"],
        location=row["location"],
        location_recording=row["location_recording"],
        transcript=row["transcript"],
        locality=row["locality"],
        agency_code=row["agency_code"],
        call_uniqueid=row["call_uniqueid"],
        call_disposition=(
            CallDisposition(row["call_disposition"]) if row["call_disposition"] else None
        ),
        ivr_path=_json(row["ivr_path"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        events=events,
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


class PostgresTicketRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, ticket_id: int) -> Ticket | None:
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(_TICKET + " WHERE t.id = $1", ticket_id)
            if row is None:
                return None
            events = await conn.fetch(
                "SELECT at, actor, kind, data FROM ticket_events WHERE ticket_id = $1"
                " ORDER BY at, id",
                ticket_id,
            )
        return _ticket(
            row, [TicketEvent(e["at"], e["actor"], e["kind"], _json(e["data"])) for e in events]
        )

    async def get_by_code(self, code: str) -> Ticket | None:
        async with self._pool.acquire() as conn:
            ticket_id = await conn.fetchval("SELECT id FROM tickets WHERE code = $1", code)
        return None if ticket_id is None else await self.get(ticket_id)

    async def list_by_phone(self, phone: str, *, limit: int, offset: int) -> list[Ticket]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                _TICKET + " WHERE t.caller_phone = $1 ORDER BY t.created_at DESC, t.id DESC"
                " LIMIT $2 OFFSET $3",
                phone,
                limit,
                offset,
            )
        return [_ticket(row, []) for row in rows]
