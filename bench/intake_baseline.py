"""The baseline of the group-commit writer (``ivr.writer`` over ``db.intake``): the intake store
as it was before it, one transaction of about eight statements for every IVR step, each save
on its own pool connection. Kept here only so that ``bench.agi_turns`` and
``bench.agi_capacity`` print every figure as a ratio against it, in the same run."""

from __future__ import annotations

import json

import asyncpg

from db.errors import UNAVAILABLE, DatabaseError, DatabaseUnavailable, DataRefused
from tickets.codes import code_year, format_code
from tickets.errors import SnapshotRefused
from tickets.intake import CallIntake, IntakeOrigin, SaveAction, StoredCall, save_action

_ALLOCATE = """
INSERT INTO ticket_counters (line, year, last) VALUES ($1, $2, 1)
ON CONFLICT (line, year) DO UPDATE SET last = ticket_counters.last + 1
RETURNING last
"""

# A ticket's recordings are transcribed ('pending', then a job queued by a trigger) unless the
# instance that took the call has no speech model ('no_model': no job, migration 0013).
_INSERT_TICKET = """
INSERT INTO tickets (code, line, category, caller_phone, caller_raw, description_recording,
                     location_recording, created_at, updated_at, transcript_status, simulated)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8,
        CASE WHEN $6::text IS NULL AND $7::text IS NULL THEN 'none'
             WHEN $9::boolean THEN 'pending' ELSE 'no_model' END,
        $10)
RETURNING id
"""

_INSERT_CALL = """
INSERT INTO calls (uniqueid, linkedid, line, channel, caller_raw, caller_phone, started_at,
                   ended_at, ivr_path, disposition, queue, recording, version, ticket_id, origin)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
RETURNING id
"""

# MERGE: the IVR's view of the call replaces the queue's; queue outcomes (queue_joined_at,
# answered_at, ...) stay. The queue's events leave the path (call_seq NULL) but not the ticket.
_MERGE_CALL = """
UPDATE calls SET linkedid = $2, channel = $3, caller_raw = $4, caller_phone = $5,
                 started_at = $6, origin = 'ivr'
WHERE id = $1
"""

_MERGE_TICKET = """
UPDATE tickets SET created_at = $2, caller_raw = $3, caller_phone = coalesce($4, caller_phone)
WHERE id = $1
"""

_DETACH_EVENTS = "UPDATE ticket_events SET call_seq = NULL WHERE call_id = $1"

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
                                            THEN CASE WHEN $5::boolean THEN 'pending'
                                                      ELSE 'no_model' END
                                            ELSE transcript_status END,
                   updated_at = now()
WHERE id = $1
"""

_INSERT_EVENT = """
INSERT INTO ticket_events (ticket_id, at, actor, kind, data, call_id, call_seq)
VALUES ($1, $2, 'ivr', $3, $4, $5, $6)
ON CONFLICT (call_id, call_seq) DO NOTHING
"""


class PerStepIntakeRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(self, intake: CallIntake) -> str:
        try:
            return await self._save(intake)
        except UNAVAILABLE as err:
            raise DatabaseUnavailable(f"{type(err).__name__}: {err}") from err
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as err:
            raise DataRefused(f"{type(err).__name__}: {err}") from err
        except asyncpg.PostgresError as err:
            raise DatabaseError(f"{type(err).__name__}: {err}") from err

    async def _save(self, intake: CallIntake) -> str:
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", intake.uniqueid)
            row = await conn.fetchrow(
                "SELECT c.id, c.version, c.ticket_id, c.origin, c.started_at, t.code FROM calls c"
                " JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
                intake.uniqueid,
            )
            stored = None
            if row is not None:
                stored = StoredCall(IntakeOrigin(row["origin"]), row["version"], row["started_at"])
            action = save_action(stored, intake)
            if action is SaveAction.REFUSE:
                assert stored is not None
                raise SnapshotRefused(
                    f"call {intake.uniqueid}: a session started {intake.started_at.isoformat()}"
                    f" may not change the call stored as started {stored.started_at.isoformat()}"
                )
            if action is SaveAction.KEEP:
                assert row is not None
                return str(row["code"])
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
                    intake.transcribe,
                    intake.simulated,
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
                    intake.origin.value,
                )
            else:
                call_id, ticket_id, code = row["id"], row["ticket_id"], row["code"]
                if action is SaveAction.MERGE:
                    await conn.execute(
                        _MERGE_CALL,
                        call_id,
                        intake.linkedid,
                        intake.channel,
                        intake.caller_raw,
                        intake.caller_phone,
                        intake.started_at,
                    )
                    await conn.execute(
                        _MERGE_TICKET,
                        ticket_id,
                        intake.started_at,
                        intake.caller_raw,
                        intake.caller_phone,
                    )
                    await conn.execute(_DETACH_EVENTS, call_id)
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
                intake.transcribe,
            )
            stored_seq = await conn.fetchval(
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
                    if event.seq > stored_seq
                ],
            )
            return str(code)
