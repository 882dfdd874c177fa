"""Stores call snapshots: the call row, its ticket (created on the first snapshot with a
readable code) and the ticket's timeline, as ``tickets.intake.save_action`` says: idempotent
and monotonic per call ``version``; a queue-made call taken over by the IVR's snapshot; another
session under a stored uniqueid refused. A batch of snapshots (the group-commit writer,
``ivr.writer``) is one transaction under one lock per uniqueid, each table written by one
set-based statement (``unnest`` of arrays), so the round trips do not grow with the batch: a
batch of updates is BEGIN, the locks and the read (``intake_lock_and_read``, migration 0020),
one call for the calls, tickets and new events (``intake_update``, migration 0022), and COMMIT;
new calls add the counters' update and one statement for their tickets, calls and events.

The repository remembers the calls it committed until their IVR session ends, and stores the
next snapshot of such a call with ``intake_update`` alone, outside a transaction: one round trip
instead of four. That call updates a call only while its stored version is the one remembered,
so a call another writer changed since (another instance, the spool's replay) is stored the
long way, in the transaction, after it."""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
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
), events AS (
    INSERT INTO ticket_events (ticket_id, at, actor, kind, data, call_id, call_seq)
    SELECT made.ticket_id, e.at, 'ivr', e.kind, e.data::jsonb, made.id, e.seq
    FROM unnest($21::text[], $22::timestamptz[], $23::text[], $24::text[], $25::integer[])
        AS e(uniqueid, at, kind, data, seq)
    JOIN made USING (uniqueid)
)
SELECT uniqueid, id, ticket_id FROM made
"""

# MERGE: the IVR's view of the call replaces the queue's; queue outcomes (queue_joined_at,
# answered_at, ...) stay. The queue's events leave the path (call_seq NULL, and the stored path
# emptied: the update appends the IVR's whole path) but not the ticket.
# Rare (an IVR snapshot replayed from the spool after the queue made the ticket): row by row.
_MERGE_CALL = """
UPDATE calls SET linkedid = $2, channel = $3, caller_raw = $4, caller_phone = $5,
                 started_at = $6, origin = 'ivr', ivr_path = '[]'
WHERE id = $1
"""

_MERGE_TICKET = """
UPDATE tickets SET created_at = $2, caller_raw = $3, caller_phone = coalesce($4, caller_phone)
WHERE id = $1
"""

_DETACH_EVENTS = "UPDATE ticket_events SET call_seq = NULL WHERE call_id = $1"

# The newer snapshots of calls already stored (migration 0022; 0023: the path's new steps are
# appended): the ids of the calls updated, those whose stored version was the one given.
_UPDATE = """
SELECT * FROM intake_update($1::text[], $2::bigint[], $3::integer[], $4::bigint[],
                            $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[],
                            $10::integer[], $11::text[], $12::text[], $13::text[],
                            $14::boolean[], $15::bigint[], $16::timestamptz[], $17::text[],
                            $18::text[], $19::integer[])
"""

# Calls remembered at most (the calls in the IVR at once, with room): past it the oldest go.
KNOWN_CALLS = 20_000


@dataclass(slots=True)
class _Stored:
    """Where one snapshot goes, or went: its call and ticket, and the last event stored (the
    snapshot stored: what the repository remembers of a call once committed)."""

    intake: CallIntake
    call_id: int
    ticket_id: int
    code: str
    seq: int
    version: int  # the version stored before this snapshot (0: none)

    def committed(self) -> _Stored:
        """What is stored once this snapshot is."""
        seq = max([self.seq, *(event.seq for event in self.intake.events)])
        return _Stored(
            self.intake, self.call_id, self.ticket_id, self.code, seq, self.intake.version
        )


class PostgresIntakeRepository:
    """``tickets.intake.IntakeBatchStore``: a batch of snapshots (one per call), the newer
    snapshots of the calls it remembers in one call, the others in one transaction, each table
    written by one set-based statement; ``save`` is a batch of one."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._known: dict[str, _Stored] = {}  # committed calls still in the IVR, by uniqueid

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

    def knows(self, intake: CallIntake) -> bool:
        return self._next(intake) is not None

    def _next(self, intake: CallIntake) -> _Stored | None:
        """Where the snapshot goes the short way, if this repository committed an earlier
        snapshot of its session."""
        known = self._known.get(intake.uniqueid)
        if (
            known is None
            or save_action(StoredCall.of(known.intake), intake) is not SaveAction.UPDATE
        ):
            return None
        return _Stored(intake, known.call_id, known.ticket_id, known.code, known.seq, known.version)

    async def _save_batch(self, intakes: Sequence[CallIntake]) -> list[str | SnapshotRefused]:
        results: dict[str, str | SnapshotRefused] = {}
        known = [target for intake in intakes if (target := self._next(intake)) is not None]
        async with self._pool.acquire() as conn:
            if known:  # one statement, its own transaction
                updated = await _update(conn, known)
                for target in known:
                    if target.call_id in updated:
                        results[target.intake.uniqueid] = target.code
                    else:  # changed by another writer since: the long way, and forgotten
                        self._known.pop(target.intake.uniqueid, None)
                self._remember(target for target in known if target.call_id in updated)
            rest = [intake for intake in intakes if intake.uniqueid not in results]
            if rest:
                await conn.execute(_BEGIN_SMALL if len(rest) <= GENERIC_PLANS_UP_TO else "BEGIN")
                try:
                    codes, stored = await _store_batch(conn, rest)
                    await conn.execute("COMMIT")
                except BaseException:
                    if not conn.is_closed():  # else the transaction died with its connection
                        with contextlib.suppress(*ANY_DATABASE_ERROR):
                            await conn.execute("ROLLBACK")
                    raise
                results.update(zip((intake.uniqueid for intake in rest), codes, strict=True))
                self._remember(stored)
        return [results[intake.uniqueid] for intake in intakes]

    def _remember(self, stored: Iterable[_Stored]) -> None:
        """Committed: the next snapshot of a call still in the IVR may take the short way."""
        for target in stored:
            uniqueid = target.intake.uniqueid
            known = self._known.pop(uniqueid, None)
            if known is not None and known.version > target.intake.version:
                self._known[uniqueid] = known  # a later batch committed a newer one first
            elif target.intake.ended_at is None:  # its IVR session goes on
                self._known[uniqueid] = target.committed()
        while len(self._known) > KNOWN_CALLS:
            del self._known[next(iter(self._known))]


async def save_intake(conn: Connection, intake: CallIntake) -> str:
    """Store one snapshot inside the caller's transaction (the queue_log applier makes the
    ticket of a caller the IVR never saw in the transaction that records the queue entry)."""
    (result,), _ = await _store_batch(conn, [intake])
    if isinstance(result, SnapshotRefused):
        raise result
    return result


async def _store_batch(
    conn: Connection, intakes: Sequence[CallIntake]
) -> tuple[list[str | SnapshotRefused], list[_Stored]]:
    """Snapshots of distinct calls, inside the caller's transaction: per snapshot its ticket's
    code, or ``SnapshotRefused``; and where each snapshot stored went."""
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
            target = _Stored(
                intake, row["id"], row["ticket_id"], row["code"], row["seq"], row["version"]
            )
            (merges if action is SaveAction.MERGE else updates).append(target)
    for target in merges:
        await _merge(conn, target)
    targets = [*merges, *updates]
    if targets and len(await _update(conn, targets)) != len(targets):
        raise DatabaseError("a stored call changed under its lock")  # never: read under it
    results.update((target.intake.uniqueid, target.code) for target in targets)
    # the code counters last: they are held from here to the commit
    created = await _create(conn, creates)
    results.update((target.intake.uniqueid, target.code) for target in created)
    return [results[intake.uniqueid] for intake in intakes], [*targets, *created]


async def _create(conn: Connection, intakes: list[CallIntake]) -> list[_Stored]:
    """New calls, their tickets (numbered in the order the calls started) and events: where
    each went."""
    if not intakes:
        return []
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
    rows = await conn.fetch(
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
    made = {row["uniqueid"]: row for row in rows}
    return [
        _Stored(intake, made[intake.uniqueid]["id"], made[intake.uniqueid]["ticket_id"], code, 0, 0)
        for intake, code in zip(intakes, codes, strict=True)
    ]


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


async def _update(conn: Connection, targets: list[_Stored]) -> set[int]:
    """The calls and tickets, and the events (and steps of the IVR path) each snapshot has
    beyond those stored, of the calls whose stored version is still ``target.version``: the
    ids of those calls."""
    intakes = [target.intake for target in targets]
    new = [(t, e) for t in targets for e in t.intake.events if e.seq > t.seq]
    rows = await conn.fetch(
        _UPDATE,
        [i.uniqueid for i in intakes],
        [t.call_id for t in targets],
        [t.version for t in targets],
        [t.ticket_id for t in targets],
        [i.ended_at for i in intakes],
        [json.dumps(t.intake.path_after(t.seq), ensure_ascii=False) for t in targets],
        [i.disposition.value for i in intakes],
        [i.queue for i in intakes],
        [i.call_recording for i in intakes],
        [i.version for i in intakes],
        [i.category.value for i in intakes],
        [i.description_recording for i in intakes],
        [i.location_recording for i in intakes],
        [i.transcribe for i in intakes],
        [t.call_id for t, _ in new],
        [e.at for _, e in new],
        [e.kind for _, e in new],
        [json.dumps(e.data, ensure_ascii=False) for _, e in new],
        [e.seq for _, e in new],
    )
    return {row[0] for row in rows}
