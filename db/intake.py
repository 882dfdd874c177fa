"""Stores call snapshots: the call row, its ticket (created on the first snapshot with a
readable code) and the ticket's timeline, as ``tickets.intake.save_action`` says: idempotent
and monotonic per call ``version``; a queue-made call taken over by the IVR's snapshot; another
session under a stored uniqueid refused. A batch of snapshots (the group-commit writer,
``ivr.writer``) is one transaction under one lock per uniqueid, each table written by one
set-based statement (``unnest`` of arrays), so the round trips do not grow with the batch: a
batch of updates is BEGIN, the locks and the read (``intake_lock_and_read``, migration 0020),
one statement for the calls, tickets and new events, and COMMIT; new calls add the counters'
update and one statement for their tickets, calls and events."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from db.errors import (
    ANY_DATABASE_ERROR,
    UNAVAILABLE,
    DatabaseError,
    DatabaseUnavailable,
    DataRefused,
)
from db.migrations import Connection
from tickets.codes import code_year, format_code
from tickets.errors import SnapshotRefused
from tickets.intake import CallIntake, IntakeOrigin, SaveAction, StoredCall, save_action

# A small batch's transaction plans its statements once per connection (generic plans), not
# for each batch: they are the same few statements over arrays, and planning them again cost
# more than running them for a batch of one (~40 % of its statements' time). From a few dozen
# snapshots on, plans made for the batch's size run faster. BEGIN and the setting in one round
# trip.
GENERIC_PLANS_UP_TO = 10  # snapshots
_BEGIN_SMALL = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan"

# Codes are numbered per line and year in blocks: one counter update per (line, year) in a
# batch, in the batch's transaction, so a rolled-back batch gives its numbers back and codes stay
# gap-free. Rows in (line, year) order, so two instances' batches lock counters in one order.
_ALLOCATE = """
INSERT INTO ticket_counters (line, year, last)
SELECT * FROM unnest($1::text[], $2::integer[], $3::integer[])
ON CONFLICT (line, year) DO UPDATE SET last = ticket_counters.last + excluded.last
RETURNING line, year, last
"""

# Every uniqueid of the batch locked in one order (two writers never deadlock), then what is
# stored read in a later statement of the same call: it sees whatever a writer that held a lock
# committed (migration 0020).
_LOCK_AND_READ = "SELECT * FROM intake_lock_and_read($1::text[])"

# A ticket's recordings are transcribed ('pending', then a job queued by a trigger) unless the
# instance that took the call has no speech model ('no_model': no job, migration 0013).
_CREATE = """
WITH incoming AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::timestamptz[], $9::boolean[],
                         $10::boolean[], $11::text[], $12::text[], $13::text[],
                         $14::timestamptz[], $15::text[], $16::text[], $17::text[], $18::text[],
                         $19::integer[], $20::text[])
        AS n(code, line, category, caller_phone, caller_raw, description_recording,
             location_recording, started_at, transcribe, simulated, uniqueid, linkedid, channel,
             ended_at, ivr_path, disposition, queue, recording, version, origin)
), ticket AS (
    INSERT INTO tickets (code, line, category, caller_phone, caller_raw, description_recording,
                         location_recording, created_at, updated_at, transcript_status,
                         simulated)
    SELECT code, line, category, caller_phone, caller_raw, description_recording,
           location_recording, started_at, now(),
           CASE WHEN description_recording IS NULL AND location_recording IS NULL THEN 'none'
                WHEN transcribe THEN 'pending' ELSE 'no_model' END,
           simulated
    FROM incoming
    RETURNING id, code
), made AS (
    INSERT INTO calls (uniqueid, linkedid, line, channel, caller_raw, caller_phone, started_at,
                       ended_at, ivr_path, disposition, queue, recording, version, ticket_id,
                       origin)
    SELECT n.uniqueid, n.linkedid, n.line, n.channel, n.caller_raw, n.caller_phone,
           n.started_at, n.ended_at, n.ivr_path::jsonb, n.disposition, n.queue, n.recording,
           n.version, ticket.id, n.origin
    FROM incoming n JOIN ticket USING (code)
    RETURNING uniqueid, id, ticket_id
)
INSERT INTO ticket_events (ticket_id, at, actor, kind, data, call_id, call_seq)
SELECT made.ticket_id, e.at, 'ivr', e.kind, e.data::jsonb, made.id, e.seq
FROM unnest($21::text[], $22::timestamptz[], $23::text[], $24::text[], $25::integer[])
    AS e(uniqueid, at, kind, data, seq)
JOIN made USING (uniqueid)
"""

# MERGE: the IVR's view of the call replaces the queue's; queue outcomes (queue_joined_at,
# answered_at, ...) stay. The queue's events leave the path (call_seq NULL) but not the ticket.
# Rare (an IVR snapshot replayed from the spool after the queue made the ticket): row by row.
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

_UPDATE = """
WITH u AS (
    SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::text[], $5::text[],
                         $6::text[], $7::text[], $8::integer[], $9::text[], $10::text[],
                         $11::text[], $12::boolean[])
        AS u(call_id, ticket_id, ended_at, ivr_path, disposition, queue, recording, version,
             category, description_recording, location_recording, transcribe)
), call_rows AS (
    UPDATE calls SET ended_at = u.ended_at, ivr_path = u.ivr_path::jsonb,
                     disposition = u.disposition, queue = u.queue, recording = u.recording,
                     version = u.version
    FROM u WHERE calls.id = u.call_id
), ticket_rows AS (
    UPDATE tickets
    SET category = CASE WHEN status = 'new' THEN u.category ELSE tickets.category END,
        description_recording = u.description_recording,
        location_recording = u.location_recording,
        transcript_status = CASE WHEN (u.description_recording IS NOT NULL
                                       OR u.location_recording IS NOT NULL)
                                      AND transcript_status = 'none'
                                 THEN CASE WHEN u.transcribe THEN 'pending' ELSE 'no_model' END
                                 ELSE transcript_status END,
        updated_at = now()
    FROM u WHERE tickets.id = u.ticket_id
)
INSERT INTO ticket_events (ticket_id, at, actor, kind, data, call_id, call_seq)
SELECT ticket_id, at, 'ivr', kind, data::jsonb, call_id, seq
FROM unnest($13::bigint[], $14::timestamptz[], $15::text[], $16::text[], $17::bigint[],
            $18::integer[]) AS e(ticket_id, at, kind, data, call_id, seq)
ON CONFLICT (call_id, call_seq) DO NOTHING
"""


@dataclass(slots=True)
class _Stored:
    """Where one snapshot of the batch goes: its call and ticket, and the last event stored."""

    intake: CallIntake
    call_id: int
    ticket_id: int
    code: str
    seq: int


class PostgresIntakeRepository:
    """``tickets.intake.IntakeBatchStore``: a batch of snapshots (one per call) in one
    transaction, each table written by one set-based statement; ``save`` is a batch of one."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def save(self, intake: CallIntake) -> str:
        (result,) = await self.save_batch([intake])
        if isinstance(result, SnapshotRefused):
            raise result
        return result

    async def save_batch(self, intakes: Sequence[CallIntake]) -> list[str | SnapshotRefused]:
        if len({intake.uniqueid for intake in intakes}) != len(intakes):
            raise ValueError("a batch holds at most one snapshot per call")
        try:
            return await self._save_batch(intakes)
        except UNAVAILABLE as err:
            raise DatabaseUnavailable(f"{type(err).__name__}: {err}") from err
        except (asyncpg.DataError, asyncpg.IntegrityConstraintViolationError) as err:
            raise DataRefused(f"{type(err).__name__}: {err}") from err
        except asyncpg.PostgresError as err:
            raise DatabaseError(f"{type(err).__name__}: {err}") from err

    async def _save_batch(self, intakes: Sequence[CallIntake]) -> list[str | SnapshotRefused]:
        async with self._pool.acquire() as conn:
            await conn.execute(_BEGIN_SMALL if len(intakes) <= GENERIC_PLANS_UP_TO else "BEGIN")
            try:
                results = await store_batch(conn, intakes)
                await conn.execute("COMMIT")
            except BaseException:
                if not conn.is_closed():  # else the transaction died with its connection
                    with contextlib.suppress(*ANY_DATABASE_ERROR):
                        await conn.execute("ROLLBACK")
                raise
            return results


async def save_intake(conn: Connection, intake: CallIntake) -> str:
    """Store one snapshot inside the caller's transaction (the queue_log applier makes the
    ticket of a caller the IVR never saw in the transaction that records the queue entry)."""
    (result,) = await store_batch(conn, [intake])
    if isinstance(result, SnapshotRefused):
        raise result
    return result


async def store_batch(
    conn: Connection, intakes: Sequence[CallIntake]
) -> list[str | SnapshotRefused]:
    """Snapshots of distinct calls, inside the caller's transaction: per snapshot its ticket's
    code, or ``SnapshotRefused``."""
    results: dict[str, str | SnapshotRefused] = {}
    creates: list[CallIntake] = []
    merges: list[_Stored] = []
    updates: list[_Stored] = []
    rows = {
        row["uniqueid"]: row
        for row in await conn.fetch(_LOCK_AND_READ, [intake.uniqueid for intake in intakes])
    }
    for intake in intakes:
        row = rows.get(intake.uniqueid)
        stored = None
        if row is not None:
            stored = StoredCall(IntakeOrigin(row["origin"]), row["version"], row["started_at"])
        action = save_action(stored, intake)
        if action is SaveAction.CREATE:
            creates.append(intake)
            continue
        assert row is not None
        assert stored is not None
        results[intake.uniqueid] = str(row["code"])
        if action is SaveAction.REFUSE:
            results[intake.uniqueid] = SnapshotRefused(
                f"call {intake.uniqueid}: a session started {intake.started_at.isoformat()}"
                f" may not change the call stored as started {stored.started_at.isoformat()}"
            )
        elif action is not SaveAction.KEEP:
            target = _Stored(intake, row["id"], row["ticket_id"], row["code"], row["seq"])
            (merges if action is SaveAction.MERGE else updates).append(target)
    for target in merges:
        await _merge(conn, target)
    if merges or updates:
        await _update(conn, [*merges, *updates])
    results.update((target.intake.uniqueid, target.code) for target in (*merges, *updates))
    # the code counters last: they are held from here to the commit
    results.update(await _create(conn, creates))
    return [results[intake.uniqueid] for intake in intakes]


async def _create(conn: Connection, intakes: list[CallIntake]) -> dict[str, str]:
    """New calls, their tickets (numbered in the order the calls started) and events: the code
    of each by uniqueid."""
    if not intakes:
        return {}
    intakes = sorted(intakes, key=lambda i: (i.line.value, code_year(i.started_at), i.started_at))
    blocks = Counter((intake.line.value, code_year(intake.started_at)) for intake in intakes)
    lines, years, sizes = zip(*((line, year, n) for (line, year), n in blocks.items()), strict=True)
    number = {  # the first of each block
        (row["line"], row["year"]): row["last"] - blocks[row["line"], row["year"]] + 1
        for row in await conn.fetch(_ALLOCATE, lines, years, sizes)
    }
    codes = []
    for intake in intakes:
        key = (intake.line.value, code_year(intake.started_at))
        codes.append(format_code(intake.line, key[1], number[key]))
        number[key] += 1
    events = [(i.uniqueid, e) for i in intakes for e in i.events]
    await conn.execute(
        _CREATE,
        codes,
        [i.line.value for i in intakes],
        [i.category.value for i in intakes],
        [i.caller_phone for i in intakes],
        [i.caller_raw for i in intakes],
        [i.description_recording for i in intakes],
        [i.location_recording for i in intakes],
        [i.started_at for i in intakes],
        [i.transcribe for i in intakes],
        [i.simulated for i in intakes],
        [i.uniqueid for i in intakes],
        [i.linkedid for i in intakes],
        [i.channel for i in intakes],
        [i.ended_at for i in intakes],
        [json.dumps(i.ivr_path, ensure_ascii=False) for i in intakes],
        [i.disposition.value for i in intakes],
        [i.queue for i in intakes],
        [i.call_recording for i in intakes],
        [i.version for i in intakes],
        [i.origin.value for i in intakes],
        [uniqueid for uniqueid, _ in events],
        [e.at for _, e in events],
        [e.kind for _, e in events],
        [json.dumps(e.data, ensure_ascii=False) for _, e in events],
        [e.seq for _, e in events],
    )
    return {intake.uniqueid: code for intake, code in zip(intakes, codes, strict=True)}


async def _merge(conn: Connection, target: _Stored) -> None:
    intake = target.intake
    await conn.execute(
        _MERGE_CALL,
        target.call_id,
        intake.linkedid,
        intake.channel,
        intake.caller_raw,
        intake.caller_phone,
        intake.started_at,
    )
    await conn.execute(
        _MERGE_TICKET, target.ticket_id, intake.started_at, intake.caller_raw, intake.caller_phone
    )
    await conn.execute(_DETACH_EVENTS, target.call_id)
    target.seq = 0  # the IVR's events are the call's path from step 1


async def _update(conn: Connection, targets: list[_Stored]) -> None:
    """The calls and tickets, and the events each snapshot has beyond those stored."""
    intakes = [target.intake for target in targets]
    new = [(t, e) for t in targets for e in t.intake.events if e.seq > t.seq]
    await conn.execute(
        _UPDATE,
        [t.call_id for t in targets],
        [t.ticket_id for t in targets],
        [i.ended_at for i in intakes],
        [json.dumps(i.ivr_path, ensure_ascii=False) for i in intakes],
        [i.disposition.value for i in intakes],
        [i.queue for i in intakes],
        [i.call_recording for i in intakes],
        [i.version for i in intakes],
        [i.category.value for i in intakes],
        [i.description_recording for i in intakes],
        [i.location_recording for i in intakes],
        [i.transcribe for i in intakes],
        [t.ticket_id for t, _ in new],
        [e.at for _, e in new],
        [e.kind for _, e in new],
        [json.dumps(e.data, ensure_ascii=False) for _, e in new],
        [t.call_id for t, _ in new],
        [e.seq for _, e in new],
    )
