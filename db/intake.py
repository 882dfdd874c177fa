"""Stores the IVR's call snapshots: the call row, its ticket (created on the first snapshot with a
readable code) and the ticket's timeline. Idempotent and monotonic per call ``version``."""

from __future__ import annotations

import json

import asyncpg

from db.errors import DatabaseError, DatabaseUnavailable
from tickets.codes import code_year, format_code
from tickets.intake import CallIntake

_ALLOCATE = """
INSERT INTO ticket_counters (line, year, last) VALUES ($1, $2, 1)
ON CONFLICT (line, year) DO UPDATE SET last = ticket_counters.last + 1
RETURNING last
"""

_INSERT_TICKET = """
INSERT INTO tickets (code, line, category, caller_phone, caller_raw, description_recording,
                     location_recording, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
RETURNING id
"""

_INSERT_CALL = """
INSERT INTO calls (uniqueid, linkedid, line, channel, caller_raw, caller_phone, started_at,
                   ended_at, ivr_path, disposition, queue, recording, version, ticket_id)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
RETURNING id
"""

_UPDATE_CALL = """
UPDATE calls SET ended_at = $2, ivr_path = $3, disposition = $4, queue = $5, recording = $6,
                 version = $7
WHERE id = $1
"""

_UPDATE_TICKET = """
UPDATE tickets SET category = CASE WHEN status = 'new' THEN $2 ELSE category END,
                   description_recording = $3::text,
                   location_recording = $4::text,
                   transcript_status = CASE WHEN ($3::text IS NOT NULL OR $4::text IS NOT NULL)
                                              AND transcript_status = 'none'
                                            THEN 'pending' ELSE transcript_status END,
                   updated_at = now()
WHERE id = $1
"""

_INSERT_EVENT = """
INSERT INTO ticket_events (ticket_id, at, actor, kind, data, call_id, call_seq)
VALUES ($1, $2, 'ivr', $3, $4, $5, $6)
ON CONFLICT (call_id, call_seq) DO NOTHING
"""


class PostgresIntakeRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(self, intake: CallIntake) -> str:
        try:
            return await self._save(intake)
        except (OSError, asyncpg.InterfaceError, asyncpg.CannotConnectNowError) as err:
            raise DatabaseUnavailable(f"{type(err).__name__}: {err}") from err
        except asyncpg.PostgresError as err:
            raise DatabaseError(f"{type(err).__name__}: {err}") from err

    async def _save(self, intake: CallIntake) -> str:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", intake.uniqueid)
            row = await conn.fetchrow(
                "SELECT c.id, c.version, c.ticket_id, t.code FROM calls c"
                " JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
                intake.uniqueid,
            )
            ivr_path = json.dumps(intake.ivr_path, ensure_ascii=False)
            if row is None:
                number = await conn.fetchval(
                    _ALLOCATE, intake.line.value, code_year(intake.started_at)
                )
                code = format_code(intake.line, code_year(intake.started_at), number)
                ticket_id = await conn.fetchval(
                    _INSERT_TICKET,
                    code,
                    intake.line.value,
                    intake.category.value,
                    intake.caller_phone,
                    intake.caller_raw,
                    intake.description_recording,
                    intake.location_recording,
                    intake.started_at,
                )
                call_id = await conn.fetchval(
                    _INSERT_CALL,
                    intake.uniqueid,
                    intake.linkedid,
                    intake.line.value,
                    intake.channel,
                    intake.caller_raw,
                    intake.caller_phone,
                    intake.started_at,
                    intake.ended_at,
                    ivr_path,
                    intake.disposition.value,
                    intake.queue,
                    intake.call_recording,
                    intake.version,
                    ticket_id,
                )
            else:
                call_id, ticket_id, code = row["id"], row["ticket_id"], row["code"]
                if row["version"] >= intake.version:
                    return str(code)
                await conn.execute(
                    _UPDATE_CALL,
                    call_id,
                    intake.ended_at,
                    ivr_path,
                    intake.disposition.value,
                    intake.queue,
                    intake.call_recording,
                    intake.version,
                )
            await conn.execute(
                _UPDATE_TICKET,
                ticket_id,
                intake.category.value,
                intake.description_recording,
                intake.location_recording,
            )
            stored = await conn.fetchval(
                "SELECT coalesce(max(call_seq), 0) FROM ticket_events WHERE call_id = $1", call_id
            )
            await conn.executemany(
                _INSERT_EVENT,
                [
                    (
                        ticket_id,
                        event.at,
                        event.kind,
                        json.dumps(event.data, ensure_ascii=False),
                        call_id,
                        event.seq,
                    )
                    for event in intake.events
                    if event.seq > stored
                ],
            )
            return str(code)
