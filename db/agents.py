"""Operator sessions, the callback worklist and the 15-minute statistics as read back (they
are written by the queue_log applier, db/queue_log.py)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import asyncpg

from agents.callbacks import Callback, CallbackStatus
from agents.ports import OperatorSession

_SESSION = (
    "SELECT s.user_id, u.username, s.interface, s.queues, s.logged_in_at"
    " FROM operator_sessions s JOIN users u ON u.id = s.user_id WHERE s.logged_out_at IS NULL"
)
CALLBACK_SELECT = """
SELECT b.*, t.code AS ticket_code FROM callbacks b LEFT JOIN tickets t ON t.id = b.ticket_id
"""


def callback_of(row: asyncpg.Record) -> Callback:
    return Callback(
        id=row["id"],
        call_uniqueid=row["call_uniqueid"],
        ticket_code=row["ticket_code"],
        line=row["line"],
        queue=row["queue"],
        phone=row["phone"],
        caller_raw=row["caller_raw"],
        status=CallbackStatus(row["status"]),
        attempts=row["attempts"],
        hold_seconds=row["hold_seconds"],
        abandoned_at=row["abandoned_at"],
        last_attempt_at=row["last_attempt_at"],
    )


class PostgresAgentsRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    # -- operator sessions ---------------------------------------------------------------------

    async def open_session(self, user_id: int, interface: str, queues: list[str]) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "UPDATE operator_sessions SET logged_out_at = now()"
                " WHERE logged_out_at IS NULL AND (user_id = $1 OR interface = $2)",
                user_id,
                interface,
            )
            await conn.execute(
                "INSERT INTO operator_sessions (user_id, interface, queues) VALUES ($1, $2, $3)",
                user_id,
                interface,
                queues,
            )

    async def close_session(self, user_id: int) -> OperatorSession | None:
        row = await self._pool.fetchrow(
            "UPDATE operator_sessions s SET logged_out_at = now() FROM users u"
            " WHERE s.user_id = $1 AND s.logged_out_at IS NULL AND u.id = s.user_id"
            " RETURNING s.user_id, u.username, s.interface, s.queues, s.logged_in_at",
            user_id,
        )
        return None if row is None else OperatorSession(**dict(row))

    async def session_of_user(self, user_id: int) -> OperatorSession | None:
        row = await self._pool.fetchrow(_SESSION + " AND s.user_id = $1", user_id)
        return None if row is None else OperatorSession(**dict(row))

    async def last_interface(self, user_id: int) -> str | None:
        """The softphone this user logged in with last (the console offers it again)."""
        value = await self._pool.fetchval(
            "SELECT interface FROM operator_sessions WHERE user_id = $1"
            " ORDER BY logged_in_at DESC, id DESC LIMIT 1",
            user_id,
        )
        return None if value is None else str(value)

    async def session_of_interface(self, interface: str) -> OperatorSession | None:
        row = await self._pool.fetchrow(_SESSION + " AND s.interface = $1", interface)
        return None if row is None else OperatorSession(**dict(row))

    # -- the call and its ticket ----------------------------------------------------------

    async def call_known(self, uniqueid: str) -> bool:
        return bool(
            await self._pool.fetchval("SELECT true FROM calls WHERE uniqueid = $1", uniqueid)
        )

    async def screen_pop(self, uniqueid: str) -> dict[str, Any] | None:
        """The ticket of a call and the earlier tickets of its number, for the operator."""
        async with self._pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT t.id, t.code, t.line, t.category, t.status, t.caller_phone,"
                " t.caller_raw, t.transcript, t.transcript_status, t.description_recording,"
                " t.location_recording, c.ivr_path, c.recording"
                " FROM calls c JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
                uniqueid,
            )
            if row is None:
                return None
            earlier = []
            if row["caller_phone"]:
                earlier = await conn.fetch(
                    "SELECT code, category, status, created_at FROM tickets"
                    " WHERE caller_phone = $1 AND id <> $2 ORDER BY created_at DESC LIMIT 10",
                    row["caller_phone"],
                    row["id"],
                )
        pop = dict(row)
        pop["ivr_path"] = (
            json.loads(pop["ivr_path"]) if isinstance(pop["ivr_path"], str) else pop["ivr_path"]
        )
        pop["earlier_tickets"] = [
            {**dict(e), "created_at": e["created_at"].isoformat()} for e in earlier
        ]
        return pop

    # -- callbacks -------------------------------------------------------------------------

    async def callback(self, callback_id: int) -> Callback | None:
        row = await self._pool.fetchrow(CALLBACK_SELECT + " WHERE b.id = $1", callback_id)
        return None if row is None else callback_of(row)

    async def open_callbacks(self, limit: int, offset: int) -> list[Callback]:
        """Pending and in-progress, 115 first, then the longest-waiting."""
        rows = await self._pool.fetch(
            CALLBACK_SELECT + " WHERE b.status IN ('pending', 'calling')"
            " ORDER BY (b.line = '115') DESC, b.abandoned_at LIMIT $1 OFFSET $2",
            limit,
            offset,
        )
        return [callback_of(r) for r in rows]

    async def update_callback(
        self,
        callback_id: int,
        expected: CallbackStatus,
        status: CallbackStatus,
        user_id: int | None,
        *,
        attempt: bool,
    ) -> bool:
        updated = await self._pool.fetchval(
            "UPDATE callbacks SET status = $3, attempts = attempts + $4::int,"
            " last_attempt_at = CASE WHEN $4::int = 1 THEN now() ELSE last_attempt_at END,"
            " last_attempt_by = coalesce($5, last_attempt_by), updated_at = now()"
            " WHERE id = $1 AND status = $2 RETURNING id",
            callback_id,
            expected.value,
            status.value,
            1 if attempt else 0,
            user_id,
        )
        return updated is not None

    # -- statistics ------------------------------------------------------------------------

    async def queue_intervals(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT * FROM queue_intervals WHERE interval_start >= $1 AND interval_start < $2"
            " ORDER BY interval_start, queue",
            start,
            end,
        )
        return [dict(r) for r in rows]

    async def operator_intervals(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT * FROM operator_intervals WHERE interval_start >= $1 AND interval_start < $2"
            " ORDER BY interval_start, interface",
            start,
            end,
        )
        return [dict(r) for r in rows]

    async def occupancy(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Per operator interface: seconds logged in and seconds talking within [start, end)."""
        rows = await self._pool.fetch(
            "WITH logged AS ("
            "  SELECT interface, sum(extract(epoch FROM"
            "    least(coalesce(logged_out_at, now()), $2) - greatest(logged_in_at, $1))) AS s"
            "  FROM operator_sessions WHERE logged_in_at < $2"
            "  AND coalesce(logged_out_at, now()) > $1 GROUP BY interface),"
            " talk AS (SELECT interface, sum(talk_seconds_sum) AS s FROM operator_intervals"
            "  WHERE interval_start >= $1 AND interval_start < $2 GROUP BY interface)"
            " SELECT coalesce(l.interface, t.interface) AS interface,"
            " coalesce(l.s, 0)::float8 AS logged_in_seconds,"
            " coalesce(t.s, 0)::float8 AS talk_seconds"
            " FROM logged l FULL JOIN talk t ON t.interface = l.interface ORDER BY 1",
            start,
            end,
        )
        return [
            {
                **dict(r),
                "occupancy": (
                    round(min(1.0, r["talk_seconds"] / r["logged_in_seconds"]), 4)
                    if r["logged_in_seconds"] > 0
                    else None
                ),
            }
            for r in rows
        ]

    async def abandoned_since(self, since: datetime) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT b.call_uniqueid, b.queue, b.caller_raw, b.hold_seconds, b.abandoned_at,"
            " b.status, t.code AS ticket_code FROM callbacks b"
            " LEFT JOIN tickets t ON t.id = b.ticket_id WHERE b.abandoned_at >= $1"
            " ORDER BY b.abandoned_at DESC",
            since,
        )
        return [dict(r) for r in rows]
