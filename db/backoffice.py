"""The back office's storage (``tickets.service.BackofficeStore``): ticket state, changes with
their timeline event in one transaction, duplicates' candidates, transfers, 115 dispatch
requests."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db.listen import CHANNEL as EVENTS_CHANNEL
from db.notify import enqueue_notifications
from db.province import read_province
from tickets.agencies import Province
from tickets.codes import code_year, format_code, plain_int
from tickets.dispatch import Attempt, DispatchResult
from tickets.duplicates import Candidate
from tickets.errors import InvalidTransition
from tickets.events import EventKind
from tickets.model import Category, Line, TicketStatus
from tickets.service import Change, TicketState

# Columns a change may set (the SET clause is built from these names only).
WRITABLE = frozenset(
    {
        "category", "subcategory", "locality", "agency_code", "deadline_at", "classified_at",
        "forwarded_at", "accepted_at", "responded_at", "response", "closed_at", "closure",
        "escalated_at", "merged_into", "answered_at", "dispatched_at", "on_scene_at",
        "completed_at", "facility_code", "outcome", "lat", "long", "description", "location",
        "public_summary",
    }
)  # fmt: skip

_STATE = """
SELECT id, code, line, category, subcategory, status, locality, agency_code, caller_phone,
       description, location, lat, long, created_at, deadline_at, responded_at, dispatched_at,
       merged_into
FROM tickets
"""

_ALLOCATE = """
INSERT INTO ticket_counters (line, year, last) VALUES ($1, $2, 1)
ON CONFLICT (line, year) DO UPDATE SET last = ticket_counters.last + 1
RETURNING last
"""


def state_of(row: asyncpg.Record) -> TicketState:
    return TicketState(
        id=row["id"],
        code=row["code"],
        line=Line(row["line"]),
        category=Category(row["category"]),
        subcategory=row["subcategory"],
        status=TicketStatus(row["status"]),
        locality=row["locality"],
        agency_code=row["agency_code"],
        caller_phone=row["caller_phone"],
        description=row["description"],
        location=row["location"],
        lat=row["lat"],
        long=row["long"],
        created_at=row["created_at"],
        deadline_at=row["deadline_at"],
        responded_at=row["responded_at"],
        dispatched_at=row["dispatched_at"],
        merged_into=row["merged_into"],
    )


def _event_json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, default=str)


Connection = asyncpg.Connection | PoolConnectionProxy


class PostgresBackofficeStore:
    """Over the pool (each method its own transaction), or, from ``atomic``, over the one
    connection of a transaction that every method joins (its own steps as savepoints)."""

    def __init__(self, pool: asyncpg.Pool, connection: Connection | None = None) -> None:
        self._pool = pool
        self._conn = connection
        self._db: asyncpg.Pool | Connection = connection if connection is not None else pool

    @asynccontextmanager
    async def atomic(self) -> AsyncIterator[PostgresBackofficeStore]:
        async with self._transaction() as conn:
            yield PostgresBackofficeStore(self._pool, conn)

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[Connection]:
        if self._conn is not None:
            async with self._conn.transaction():
                yield self._conn
            return
        async with self._pool.acquire() as conn, conn.transaction():
            yield conn

    async def province(self) -> Province:
        async with self._transaction() as conn:
            return await read_province(conn)

    async def state(self, ticket_id: int) -> TicketState | None:
        row = await self._db.fetchrow(_STATE + " WHERE id = $1", ticket_id)
        return None if row is None else state_of(row)

    async def apply(self, ticket: TicketState, change: Change) -> TicketState:
        unknown = set(change.columns) - WRITABLE
        if unknown:
            raise ValueError(f"not writable: {sorted(unknown)}")
        names = sorted(change.columns)
        sets = [f"{name} = ${n}" for n, name in enumerate(names, start=5)]
        sql = (
            "UPDATE tickets SET status = coalesce($3::text, status), updated_at = $4"  # noqa: S608 (names from WRITABLE)
            + "".join(f", {s}" for s in sets)
            + " WHERE id = $1 AND status = $2"
            # escalation happens once, even with several instances sweeping
            + (" AND escalated_at IS NULL" if change.columns.get("escalated_at") else "")
            + " RETURNING id"
        )
        async with self._transaction() as conn:
            updated = await conn.fetchval(
                sql,
                ticket.id,
                ticket.status.value,
                change.status.value if change.status else None,
                change.at,
                *(change.columns[name] for name in names),
            )
            if updated is None:
                raise InvalidTransition(f"{ticket.code} changed meanwhile; reload and try again")
            await conn.execute(
                "INSERT INTO ticket_events (ticket_id, at, actor, kind, data)"
                " VALUES ($1, $2, $3, $4, $5::jsonb)",
                ticket.id,
                change.at,
                change.actor,
                change.action,
                _event_json(change.data),
            )
            await enqueue_notifications(
                conn, ticket.id, ticket.line.value, change.action, change.at
            )
            row = await conn.fetchrow(_STATE + " WHERE id = $1", ticket.id)
            # every instance's consoles hear of it (a sweeper's timeout too) once it commits
            assert row is not None
            notice = {
                "topic": "tickets",
                "kind": "changed",
                "code": ticket.code,
                "action": change.action,
                "status": row["status"],
            }
            await conn.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, json.dumps(notice))
        assert row is not None
        return state_of(row)

    async def note(self, ticket_id: int, change: Change) -> None:
        await self._db.execute(
            "INSERT INTO ticket_events (ticket_id, at, actor, kind, data)"
            " VALUES ($1, $2, $3, $4, $5::jsonb)",
            ticket_id,
            change.at,
            change.actor,
            change.action,
            _event_json(change.data),
        )

    async def candidates(self, ticket: TicketState, window: timedelta) -> list[Candidate]:
        rows = await self._db.fetch(
            "SELECT id, code, created_at,"
            " concat_ws(' ', description, location, transcript) AS text FROM tickets"
            " WHERE id <> $1 AND category = $2 AND locality IS NOT DISTINCT FROM $3"
            " AND created_at BETWEEN $4 AND $5 AND status NOT IN ('merged', 'transferred')"
            " ORDER BY created_at DESC LIMIT 200",
            ticket.id,
            ticket.category.value,
            ticket.locality,
            ticket.created_at - window,
            ticket.created_at + window,
        )
        return [Candidate(r["id"], r["code"], r["created_at"], r["text"]) for r in rows]

    async def transfer(self, ticket: TicketState, line: Line, change: Change) -> TicketState:
        category = Category.MEDICAL if line is Line.MEDICAL else Category.UNCLASSIFIED
        async with self._transaction() as conn:
            old = await conn.fetchrow("SELECT * FROM tickets WHERE id = $1 FOR UPDATE", ticket.id)
            if old is None or old["status"] != ticket.status.value:
                raise InvalidTransition(f"{ticket.code} changed meanwhile; reload and try again")
            number = await conn.fetchval(_ALLOCATE, line.value, code_year(change.at))
            code = format_code(line, code_year(change.at), number)
            new_id = await conn.fetchval(
                "INSERT INTO tickets (code, line, category, status, source, caller_phone,"
                " caller_raw, description, description_recording, location, location_recording,"
                " transcript, locality, lat, long, transferred_from, created_at, updated_at)"
                " VALUES ($1, $2, $3, 'new', 'transfer', $4, $5, $6, $7, $8, $9, $10, $11, $12,"
                " $13, $14, $15, $15) RETURNING id",
                code,
                line.value,
                category.value,
                old["caller_phone"],
                old["caller_raw"],
                old["description"],
                old["description_recording"],
                old["location"],
                old["location_recording"],
                old["transcript"],
                old["locality"],
                old["lat"],
                old["long"],
                ticket.id,
                change.at,
            )
            await conn.execute(
                "UPDATE tickets SET status = $2, updated_at = $3 WHERE id = $1",
                ticket.id,
                TicketStatus.TRANSFERRED.value,
                change.at,
            )
            # the call goes on under the new ticket: the next operator's screen pop shows it
            await conn.execute(
                "UPDATE calls SET ticket_id = $2 WHERE ticket_id = $1", ticket.id, new_id
            )
            await conn.executemany(
                "INSERT INTO ticket_events (ticket_id, at, actor, kind, data)"
                " VALUES ($1, $2, $3, $4, $5::jsonb)",
                [
                    (
                        ticket.id,
                        change.at,
                        change.actor,
                        change.action,
                        _event_json({**change.data, "to": code}),
                    ),
                    (
                        new_id,
                        change.at,
                        change.actor,
                        EventKind.TRANSFERRED_FROM,
                        _event_json({"from": ticket.code, "from_line": ticket.line.value}),
                    ),
                ],
            )
            row = await conn.fetchrow(_STATE + " WHERE id = $1", new_id)
        assert row is not None
        return state_of(row)

    async def overdue(self, now: datetime) -> list[TicketState]:
        rows = await self._db.fetch(
            _STATE + " WHERE deadline_at < $1 AND responded_at IS NULL AND closed_at IS NULL"
            " AND escalated_at IS NULL AND status IN ('forwarded', 'accepted')"
            " ORDER BY deadline_at LIMIT 500",
            now,
        )
        return [state_of(r) for r in rows]

    async def attempts(self, ticket_id: int) -> list[Attempt]:
        rows = await self._db.fetch(
            "SELECT seq, facility_code, sent_at, due_at, result FROM dispatch_requests"
            " WHERE ticket_id = $1 ORDER BY seq",
            ticket_id,
        )
        return [
            Attempt(
                r["seq"], r["facility_code"], r["sent_at"], r["due_at"], DispatchResult(r["result"])
            )
            for r in rows
        ]

    async def add_attempt(self, ticket_id: int, attempt: Attempt) -> None:
        await self._db.execute(
            "INSERT INTO dispatch_requests (ticket_id, seq, facility_code, sent_at, due_at, result)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            ticket_id,
            attempt.seq,
            attempt.facility_code,
            attempt.sent_at,
            attempt.due_at,
            attempt.result.value,
        )

    async def answer_attempt(
        self, ticket_id: int, seq: int, result: DispatchResult, at: datetime, reason: str | None
    ) -> bool:
        status = await self._db.execute(
            "UPDATE dispatch_requests SET result = $3, answered_at = $4, reason = $5"
            " WHERE ticket_id = $1 AND seq = $2 AND result = 'pending'",
            ticket_id,
            seq,
            result.value,
            at,
            reason,
        )
        return status.endswith(" 1")

    async def expired_attempts(self, now: datetime) -> list[tuple[int, Attempt]]:
        rows = await self._db.fetch(
            "SELECT ticket_id, seq, facility_code, sent_at, due_at, result FROM dispatch_requests"
            " WHERE result = 'pending' AND due_at <= $1 ORDER BY due_at LIMIT 500",
            now,
        )
        return [
            (
                r["ticket_id"],
                Attempt(
                    r["seq"],
                    r["facility_code"],
                    r["sent_at"],
                    r["due_at"],
                    DispatchResult(r["result"]),
                ),
            )
            for r in rows
        ]

    async def timeline(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's events, preceded by those of the tickets it was transferred from."""
        rows = await self._db.fetch(
            "WITH RECURSIVE chain(id) AS ("
            " SELECT $1::bigint UNION ALL"
            " SELECT t.transferred_from FROM tickets t JOIN chain c ON t.id = c.id"
            " WHERE t.transferred_from IS NOT NULL)"
            " SELECT e.at, e.actor, e.kind, e.data, t.code FROM ticket_events e"
            " JOIN chain c ON e.ticket_id = c.id JOIN tickets t ON t.id = e.ticket_id"
            " ORDER BY e.at, e.id",
            ticket_id,
        )
        return [
            {
                "at": r["at"].isoformat(),
                "actor": r["actor"],
                "kind": r["kind"],
                "data": json.loads(r["data"]) if isinstance(r["data"], str) else r["data"],
                "ticket": r["code"],
            }
            for r in rows
        ]

    async def ticket_ids_for(self, ident: str) -> int | None:
        if (number := plain_int(ident)) is not None:
            return number
        value = await self._db.fetchval("SELECT id FROM tickets WHERE code = $1", ident)
        return None if value is None else int(value)
