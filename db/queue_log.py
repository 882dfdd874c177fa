"""Applies Asterisk's queue_log to the record of the queues, exactly once.

One transaction per batch: the cursor row locked ``FOR UPDATE`` (a second instance waits for
it), the rows after it read, what the batch's calls already have read in three statements
(their ``queue_calls`` rows, whether the IVR stored them, the sessions of the operators the rows
name), each row's step worked out in memory in order, then written set-based: the calls' queue
rows, the 15-minute ``queue_intervals`` / ``operator_intervals`` (summed per interval), the
call's queue columns, the call-back worklist, NOTIFYs for the consoles; the cursor moved,
commit. A handful of statements a batch instead of about six a row. A crash or an error
anywhere rolls all of it back; the next pass starts again from the cursor. Only the ticket of a
caller the IVR never saw is written at its row (``save_intake``, rare).

Rows are taken in (xid, id) order and only when no transaction that could still add an
earlier one is running: the boundary is the oldest transaction in progress in this snapshot
(``pg_snapshot_xip``), leaving out those known to run in other databases of the server — so a
row committed late by one PBX is never stepped over, and other databases' long transactions do
not hold the applier back.
"""

from __future__ import annotations

import json
import logging
import math
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

import asyncpg

from agents.queue_log import (
    Answered,
    EndedBy,
    Entered,
    FileEntry,
    Finished,
    Left,
    LeftUnanswered,
    QueueLogRow,
    RingMissed,
    queue_intake,
    step_of,
)
from agents.stats import ServiceLevels, interval_start
from db.agents import CALLBACK_SELECT, callback_of
from db.intake import save_intake
from db.listen import CHANNEL as EVENTS_CHANNEL
from db.migrations import Connection
from tickets.errors import SnapshotRefused
from tickets.model import Line
from tickets.phone import normalize_phone

logger = logging.getLogger(__name__)

CHANNEL = "hotline_queue_log"  # NOTIFYed by queue_log's insert trigger (migration 0015)
_BOUNDARY = """
coalesce(
    (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) x
      WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                         WHERE a.backend_xid = x::xid
                           AND a.datname IS DISTINCT FROM current_database())),
    pg_snapshot_xmax(pg_current_snapshot()))
"""
_PENDING = f"""
SELECT id, xid::text AS xid, time, callid, queuename, agent, event, data1, data2, data3, data4,
       data5
  FROM queue_log
 WHERE (xid, id) > ($1::text::xid8, $2) AND xid < {_BOUNDARY}
 ORDER BY xid, id LIMIT $3
"""  # noqa: S608 (constant text)
ROWS_BEHIND = (  # also read by db/health.py for /metrics
    "SELECT count(*) FROM queue_log q, queue_log_cursor c"
    " WHERE c.id = 1 AND (q.xid, q.id) > (c.last_xid, c.last_id)"
)
# queue_log names the operator by member name (the username the console logged in with);
# the softphone is the session's (``_Batch.interface``; a static member's name is its interface).
_SESSIONS = """
SELECT u.username, s.interface, s.logged_in_at
  FROM operator_sessions s JOIN users u ON u.id = s.user_id
 WHERE u.username = ANY($1::text[])
"""
# Joined with the list rather than ``callid = ANY(...)``: that filters every row of the table
# by the whole list when the planner takes a sequential scan (stale statistics after a rebuild).
_QUEUE_CALLS = """
SELECT q.callid, q.queue, q.caller, q.entered_at, q.entries, q.outcome, q.answered_at, q.agent,
       q.interface, q.hold_seconds, q.completed_at, q.talk_seconds, q.ended_by, q.left_at,
       q.wait_seconds
  FROM unnest($1::text[]) AS k (callid) JOIN queue_calls q ON q.callid = k.callid
"""
_KNOWN = """
SELECT c.uniqueid FROM unnest($1::text[]) AS k (uniqueid) JOIN calls c ON c.uniqueid = k.uniqueid
"""
_WRITE_QUEUE_CALLS = """
INSERT INTO queue_calls AS c (callid, queue, caller, entered_at, entries, outcome, answered_at,
    agent, interface, hold_seconds, completed_at, talk_seconds, ended_by, left_at, wait_seconds)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::integer[],
    $6::text[], $7::timestamptz[], $8::text[], $9::text[], $10::integer[], $11::timestamptz[],
    $12::integer[], $13::text[], $14::timestamptz[], $15::integer[])
ON CONFLICT (callid, queue) DO UPDATE SET
    caller = excluded.caller, entered_at = excluded.entered_at, entries = excluded.entries,
    outcome = excluded.outcome, answered_at = excluded.answered_at, agent = excluded.agent,
    interface = excluded.interface, hold_seconds = excluded.hold_seconds,
    completed_at = excluded.completed_at, talk_seconds = excluded.talk_seconds,
    ended_by = excluded.ended_by, left_at = excluded.left_at, wait_seconds = excluded.wait_seconds
"""
_QUEUE_INTERVALS = """
INSERT INTO queue_intervals AS q (queue, interval_start, sl1_seconds, sl2_seconds, received,
    answered, abandoned, answered_within_1, answered_within_2, hold_seconds_sum,
    talk_seconds_sum, completed, longest_wait)
SELECT u.queue, u.interval_start, $3::integer, $4::integer, u.received, u.answered,
       u.abandoned, u.within_1, u.within_2, u.hold, u.talk, u.completed, u.longest
  FROM unnest($1::text[], $2::timestamptz[], $5::integer[], $6::integer[], $7::integer[],
              $8::integer[], $9::integer[], $10::integer[], $11::integer[], $12::integer[],
              $13::integer[])
       AS u (queue, interval_start, received, answered, abandoned, within_1, within_2, hold,
             talk, completed, longest)
ON CONFLICT (queue, interval_start) DO UPDATE SET
    received = q.received + excluded.received,
    answered = q.answered + excluded.answered,
    abandoned = q.abandoned + excluded.abandoned,
    answered_within_1 = q.answered_within_1 + excluded.answered_within_1,
    answered_within_2 = q.answered_within_2 + excluded.answered_within_2,
    hold_seconds_sum = q.hold_seconds_sum + excluded.hold_seconds_sum,
    talk_seconds_sum = q.talk_seconds_sum + excluded.talk_seconds_sum,
    completed = q.completed + excluded.completed,
    longest_wait = greatest(q.longest_wait, excluded.longest_wait)
"""
_OPERATOR_INTERVALS = """
INSERT INTO operator_intervals AS o (interface, interval_start, answered, completed,
    ring_no_answer, talk_seconds_sum)
SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::integer[], $4::integer[],
                     $5::integer[], $6::integer[])
ON CONFLICT (interface, interval_start) DO UPDATE SET
    answered = o.answered + excluded.answered,
    completed = o.completed + excluded.completed,
    ring_no_answer = o.ring_no_answer + excluded.ring_no_answer,
    talk_seconds_sum = o.talk_seconds_sum + excluded.talk_seconds_sum
"""
# Each call's queue columns: the first queue entry stays; the last answer or abandon wins.
_CALLS = """
UPDATE calls c SET
    queue_joined_at = coalesce(c.queue_joined_at, u.joined_at),
    answered_at = CASE WHEN u.answered THEN u.answered_at ELSE c.answered_at END,
    answered_by = CASE WHEN u.answered THEN u.answered_by ELSE c.answered_by END,
    abandoned_at = CASE WHEN u.abandoned THEN u.abandoned_at ELSE c.abandoned_at END,
    queue_wait_seconds = CASE WHEN u.waited THEN u.wait_seconds ELSE c.queue_wait_seconds END
  FROM unnest($1::text[], $2::timestamptz[], $3::boolean[], $4::timestamptz[], $5::text[],
              $6::boolean[], $7::timestamptz[], $8::boolean[], $9::integer[])
       AS u (uniqueid, joined_at, answered, answered_at, answered_by, abandoned, abandoned_at,
             waited, wait_seconds)
 WHERE c.uniqueid = u.uniqueid
"""
# A caller moved to another queue was not lost: an untried call-back is withdrawn.
_REMOVE_CALLBACKS = """
DELETE FROM callbacks WHERE call_uniqueid = ANY($1::text[]) AND status = 'pending'
   AND attempts = 0 RETURNING id
"""
_ADD_CALLBACKS = """
INSERT INTO callbacks (call_uniqueid, ticket_id, line, queue, phone, caller_raw, hold_seconds,
    abandoned_at)
SELECT u.callid, (SELECT ticket_id FROM calls WHERE uniqueid = u.callid), u.line, u.queue,
       u.phone, u.caller_raw, u.hold, u.abandoned_at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::integer[],
              $7::timestamptz[]) AS u (callid, line, queue, phone, caller_raw, hold, abandoned_at)
ON CONFLICT (call_uniqueid) DO NOTHING RETURNING id
"""
_NOTIFY = "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload"  # in array order
_STORED = """
SELECT floor(extract(epoch FROM time))::bigint AS epoch, callid, queuename, agent, event,
       data1, data2, data3, data4, data5
  FROM queue_log
 WHERE time >= to_timestamp($1) AT TIME ZONE 'UTC'
   AND time < to_timestamp($2 + 1) AT TIME ZONE 'UTC'
"""
_RECOVER = """
INSERT INTO queue_log (time, callid, queuename, agent, event, data1, data2, data3, data4, data5)
VALUES (to_timestamp($1) AT TIME ZONE 'UTC', $2, $3, $4, $5, $6, $7, $8, $9, $10)
"""
_DERIVED = ("queue_calls", "queue_intervals", "operator_intervals", "callbacks")


def _row(record: asyncpg.Record) -> QueueLogRow:
    data = tuple(record[f"data{n}"] or "" for n in range(1, 6))
    return QueueLogRow(
        id=record["id"],
        at=record["time"].replace(tzinfo=UTC),
        callid=record["callid"],
        queue=record["queuename"],
        agent=record["agent"],
        event=record["event"],
        data=(data[0], data[1], data[2], data[3], data[4]),
    )


class PostgresQueueLog:
    def __init__(
        self, pool: asyncpg.Pool, *, levels: ServiceLevels, queue_lines: Mapping[str, Line]
    ) -> None:
        self._pool = pool
        self._levels = levels
        self._lines = dict(queue_lines)

    async def apply(self, limit: int) -> int:
        """Apply up to ``limit`` rows after the cursor in one transaction; how many."""
        async with self._pool.acquire() as conn, conn.transaction():
            cursor = await conn.fetchrow(
                "SELECT last_xid::text AS xid, last_id FROM queue_log_cursor WHERE id = 1"
                " FOR UPDATE"
            )
            assert cursor is not None
            records = await conn.fetch(_PENDING, cursor["xid"], cursor["last_id"], limit)
            if not records:
                return 0
            rows = [_row(record) for record in records]
            batch = await _Batch.read(conn, rows, self._levels, self._lines)
            for row in rows:
                await batch.row(row)
            await batch.write()
            await conn.execute(
                "UPDATE queue_log_cursor SET last_xid = $1::text::xid8, last_id = $2,"
                " applied = applied + $3, applied_at = now() WHERE id = 1",
                records[-1]["xid"],
                records[-1]["id"],
                len(records),
            )
            return len(records)

    async def rows_behind(self) -> int:
        """Rows of queue_log not applied yet (for /metrics)."""
        return int(await self._pool.fetchval(ROWS_BEHIND))

    async def recover(self, entries: Sequence[FileEntry]) -> int:
        """Insert the entries of a queue_log file that the table lacks (their realtime insert
        failed: Asterisk never retries it), in the file's order; how many. An entry matches a
        row with the same fields whose time is in the file's second or the one before (the
        row's time is taken just before the line's); identical entries match one for one.
        Under a lock, so that two instances reading the same file add each row once."""
        if not entries:
            return 0
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext('hotline:queue_log:files'))")
            stored = Counter(
                tuple(r)
                for r in await conn.fetch(
                    _STORED,
                    min(e.epoch for e in entries) - 1,
                    max(e.epoch for e in entries) + 1,
                )
            )
            missing = []
            for entry in entries:
                fields = (entry.callid, entry.queue, entry.agent, entry.event, *entry.data)
                for second in (entry.epoch, entry.epoch - 1):
                    if stored[(second, *fields)] > 0:
                        stored[(second, *fields)] -= 1
                        break
                else:
                    missing.append((entry.epoch, *fields))
            await conn.executemany(_RECOVER, missing)
            return len(missing)

    async def rebuild(self) -> None:
        """Forget every derived row and the cursor: the next passes apply the whole log
        again (the calls' queue columns are rewritten on the way)."""
        async with self._pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT 1 FROM queue_log_cursor WHERE id = 1 FOR UPDATE")
            await conn.execute("TRUNCATE " + ", ".join(_DERIVED))
            await conn.execute(
                "UPDATE calls SET queue_joined_at = NULL, answered_at = NULL,"
                " abandoned_at = NULL, queue_wait_seconds = NULL, answered_by = NULL"
                " WHERE queue_joined_at IS NOT NULL"
            )
            await conn.execute(
                "UPDATE queue_log_cursor SET last_xid = '0', last_id = 0, applied = 0,"
                " applied_at = NULL WHERE id = 1"
            )


@dataclass
class _QueueCall:
    """A ``queue_calls`` row as the batch has it so far."""

    callid: str
    queue: str
    caller: str
    entered_at: datetime
    entries: int = 1
    outcome: str = "waiting"
    answered_at: datetime | None = None
    agent: str | None = None
    interface: str | None = None
    hold_seconds: int | None = None
    completed_at: datetime | None = None
    talk_seconds: int | None = None
    ended_by: str | None = None
    left_at: datetime | None = None
    wait_seconds: int | None = None


_FIELDS = [f.name for f in fields(_QueueCall)]


@dataclass
class _CallColumns:
    """What the batch sets of a call's queue columns (``calls``)."""

    joined_at: datetime | None = None
    answered: bool = False
    answered_at: datetime | None = None
    answered_by: str | None = None
    abandoned: bool = False
    abandoned_at: datetime | None = None
    waited: bool = False
    wait_seconds: int | None = None


@dataclass
class _Counts:
    """One 15-minute interval's counters (a queue's or an operator's) added by the batch."""

    values: list[int]
    longest: int = 0


class _Batch:
    """One batch's rows: what its calls already have, read first; each row's step applied to
    it in order; everything written at the end."""

    def __init__(
        self,
        conn: Connection,
        levels: ServiceLevels,
        lines: Mapping[str, Line],
        queue_calls: dict[tuple[str, str], _QueueCall],
        known: set[str],
        sessions: dict[str, list[tuple[datetime, str]]],
    ) -> None:
        self._conn = conn
        self._levels = levels
        self._lines = lines
        self._calls = queue_calls
        self._by_callid: dict[str, list[_QueueCall]] = defaultdict(list)
        for call in queue_calls.values():
            self._by_callid[call.callid].append(call)
        self._changed: dict[tuple[str, str], None] = {}  # queue_calls rows to write, in order
        self._known = known  # calls the IVR (or this batch) stored
        self._sessions = sessions  # username → (logged in at, interface)
        self._columns: dict[str, _CallColumns] = defaultdict(_CallColumns)
        self._queues: dict[tuple[str, datetime], _Counts] = {}
        self._operators: dict[tuple[str, datetime], _Counts] = {}
        self._withdrawn: dict[str, None] = {}  # callids whose stored untried call-back goes
        self._callbacks: dict[str, tuple[Any, ...]] = {}  # callid → the call-back to add

    @classmethod
    async def read(
        cls,
        conn: Connection,
        rows: Sequence[QueueLogRow],
        levels: ServiceLevels,
        lines: Mapping[str, Line],
    ) -> _Batch:
        callids = sorted({row.callid for row in rows})
        agents = sorted({row.agent for row in rows if row.agent and row.agent != "NONE"})
        queue_calls = {
            (r["callid"], r["queue"]): _QueueCall(**dict(r))
            for r in await conn.fetch(_QUEUE_CALLS, callids)
        }
        known = {r["uniqueid"] for r in await conn.fetch(_KNOWN, callids)}
        sessions: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
        for r in await conn.fetch(_SESSIONS, agents) if agents else []:
            sessions[r["username"]].append((r["logged_in_at"], r["interface"]))
        return cls(conn, levels, lines, queue_calls, known, sessions)

    async def row(self, row: QueueLogRow) -> None:
        match step_of(row):
            case Entered(caller=caller):
                await self._entered(row, caller)
            case Answered(hold_seconds=hold):
                self._answered(row, hold)
            case Finished(talk_seconds=talk, by=by):
                self._finished(row, talk, by)
            case LeftUnanswered(how=how, wait_seconds=wait):
                self._left(row, how, wait)
            case RingMissed():
                interface = self.interface(row)
                if interface is not None:
                    self._operator(interface, row.at, ring_no_answer=1)

    async def _entered(self, row: QueueLogRow, caller: str) -> None:
        # a caller redirected while waiting left an ABANDON behind: entering a queue again,
        # it was moved, not lost (README, "queue_log")
        for earlier in self._by_callid[row.callid]:
            if (
                earlier.outcome == "abandoned"
                and earlier.left_at is not None
                and earlier.left_at <= row.at
            ):
                earlier.outcome = "moved"
                self._changed[(earlier.callid, earlier.queue)] = None
                self._queue(earlier.queue, earlier.left_at, abandoned=-1)
                self._callbacks.pop(row.callid, None)  # added by this batch: never stored
                self._withdrawn[row.callid] = None  # stored by an earlier one: deleted
        # a caller redirected while talking (the console's transfer) enters a queue while the
        # first conversation is still 'answered': Asterisk logs that one's COMPLETECALLER only
        # when the whole call ends, its talk time covering everything after (apps/app_queue.c
        # handle_hangup: the Redirect's soft hang-up publishes no hang-up request). It ended
        # here; its late COMPLETECALLER then counts nothing (_finished).
        for first in self._by_callid[row.callid]:
            if (
                first.outcome == "answered"
                and first.answered_at is not None
                and first.answered_at <= row.at
            ):
                talk = max(0, math.floor((row.at - first.answered_at).total_seconds()))
                first.outcome, first.completed_at = "completed", row.at
                first.ended_by, first.talk_seconds = EndedBy.TRANSFER.value, talk
                self._changed[(first.callid, first.queue)] = None
                self._queue(first.queue, row.at, completed=1, talk_seconds=talk)
                if first.interface is not None:
                    self._operator(first.interface, row.at, completed=1, talk_seconds=talk)
        self._enter(row, caller)
        if row.callid not in self._known:
            await self._ticket(row, caller)
        columns = self._columns[row.callid]
        columns.joined_at = columns.joined_at or row.at

    def _enter(self, row: QueueLogRow, caller: str) -> None:
        key = (row.callid, row.queue)
        call = self._calls.get(key)
        self._changed[key] = None
        if call is None:  # once per call and queue: a caller queued again is the same offered call
            call = _QueueCall(row.callid, row.queue, caller, row.at)
            self._calls[key] = call
            self._by_callid[row.callid].append(call)
            self._queue(row.queue, row.at, received=1)
            return
        # Entering again (after EXITWITHTIMEOUT, or a Redirect back) waits again; an
        # ENTERQUEUE older than what is known of the call (recovered from the file after its
        # later rows were applied) changes nothing but the count of entries and the first
        # entry's time.
        moments = [call.entered_at, call.answered_at, call.completed_at, call.left_at]
        latest = max(m for m in moments if m is not None)
        entered_again_after_leaving = call.left_at is not None and row.at >= call.left_at
        call.entries += 1
        call.entered_at = min(call.entered_at, row.at)
        call.caller = call.caller or caller
        if row.at >= latest:
            call.outcome = "waiting"
        if entered_again_after_leaving:
            call.left_at = call.wait_seconds = None

    def _known_call(self, row: QueueLogRow) -> _QueueCall:
        """The row's call in its queue; one whose ENTERQUEUE was never seen (lost) was offered
        all the same."""
        if (row.callid, row.queue) not in self._calls:
            self._enter(row, "")
        self._changed[(row.callid, row.queue)] = None
        return self._calls[(row.callid, row.queue)]

    async def _ticket(self, row: QueueLogRow, caller: str) -> None:
        """The dialplan's fallback queued a caller the IVR never saw: a ticket from the queue.
        If the IVR's snapshot waits in a spool, it merges into this ticket when stored."""
        intake = queue_intake(row.callid, row.queue, self._line(row.queue), caller, row.at)
        try:
            async with self._conn.transaction():  # a savepoint: a refused ticket stops nothing
                code = await save_intake(self._conn, intake)
        except (SnapshotRefused, asyncpg.DataError) as err:
            logger.warning("call %s: no ticket from the queue: %s", row.callid, err)
            return
        self._known.add(row.callid)
        logger.warning(
            "call %s joined %s without passing the IVR; ticket %s created from the queue",
            row.callid,
            row.queue,
            code,
        )

    def _answered(self, row: QueueLogRow, hold: int) -> None:
        call = self._known_call(row)
        interface = self.interface(row)
        call.outcome, call.answered_at, call.agent = "answered", row.at, row.agent
        call.interface, call.hold_seconds = interface, hold
        levels = self._levels
        self._queue(
            row.queue,
            row.at,
            answered=1,
            answered_within_1=int(hold <= levels.first),
            answered_within_2=int(hold <= levels.second),
            hold_seconds=hold,
            longest_wait=hold,
        )
        if interface is not None:
            self._operator(interface, row.at, answered=1)
        columns = self._columns[row.callid]
        columns.answered, columns.answered_at, columns.answered_by = True, row.at, interface
        columns.waited, columns.wait_seconds = True, hold

    def _finished(self, row: QueueLogRow, talk: int, by: EndedBy) -> None:
        call = self._known_call(row)
        if (
            call.agent == row.agent
            and call.outcome == "completed"
            and call.ended_by == EndedBy.TRANSFER.value
        ):  # the late COMPLETECALLER of a conversation that ended at a transfer
            return
        call.outcome, call.completed_at = "completed", row.at
        call.talk_seconds, call.ended_by = talk, by.value
        self._queue(row.queue, row.at, completed=1, talk_seconds=talk)
        interface = call.interface or self.interface(row)
        if interface is not None:
            self._operator(interface, row.at, completed=1, talk_seconds=talk)

    def _left(self, row: QueueLogRow, how: Left, wait: int) -> None:
        call = self._known_call(row)
        call.outcome, call.left_at, call.wait_seconds = how.value, row.at, wait
        if how is not Left.ABANDONED:  # a timeout is queued again; never an abandoned call
            return
        self._queue(row.queue, row.at, abandoned=1, longest_wait=wait)
        columns = self._columns[row.callid]
        columns.abandoned, columns.abandoned_at = True, row.at
        columns.waited, columns.wait_seconds = True, wait
        raw = call.caller
        self._callbacks.setdefault(
            row.callid,
            (
                row.callid,
                self._line(row.queue).value,
                row.queue,
                normalize_phone(raw),
                raw or "unknown",
                wait,
                row.at,
            ),
        )

    def _line(self, queue: str) -> Line:
        return self._lines.get(queue, Line.CITIZEN)

    def interface(self, row: QueueLogRow) -> str | None:
        """The softphone of the row's member name: its latest session opened by then, else
        its latest session; a static member's name is its interface."""
        if not row.agent or row.agent == "NONE":
            return None
        sessions = self._sessions.get(row.agent)
        if sessions:
            return max(sessions, key=lambda s: (s[0] <= row.at, s[0]))[1]
        return row.agent if "/" in row.agent else None

    def _queue(
        self,
        queue: str,
        at: datetime,
        *,
        received: int = 0,
        answered: int = 0,
        abandoned: int = 0,
        answered_within_1: int = 0,
        answered_within_2: int = 0,
        hold_seconds: int = 0,
        talk_seconds: int = 0,
        completed: int = 0,
        longest_wait: int = 0,
    ) -> None:
        counts = self._queues.setdefault((queue, interval_start(at)), _Counts([0] * 8))
        added = (
            received,
            answered,
            abandoned,
            answered_within_1,
            answered_within_2,
            hold_seconds,
            talk_seconds,
            completed,
        )
        counts.values = [a + b for a, b in zip(counts.values, added, strict=True)]
        counts.longest = max(counts.longest, longest_wait)

    def _operator(
        self,
        interface: str,
        at: datetime,
        *,
        answered: int = 0,
        completed: int = 0,
        ring_no_answer: int = 0,
        talk_seconds: int = 0,
    ) -> None:
        counts = self._operators.setdefault((interface, interval_start(at)), _Counts([0] * 4))
        added = (answered, completed, ring_no_answer, talk_seconds)
        counts.values = [a + b for a, b in zip(counts.values, added, strict=True)]

    async def write(self) -> None:
        conn = self._conn
        if self._changed:
            calls = [self._calls[key] for key in self._changed]
            await conn.execute(
                _WRITE_QUEUE_CALLS, *([getattr(c, name) for c in calls] for name in _FIELDS)
            )
        if self._queues:
            keys = list(self._queues)
            counts = [self._queues[key] for key in keys]
            await conn.execute(
                _QUEUE_INTERVALS,
                [queue for queue, _ in keys],
                [start for _, start in keys],
                self._levels.first,
                self._levels.second,
                *([c.values[n] for c in counts] for n in range(8)),
                [c.longest for c in counts],
            )
        if self._operators:
            keys = list(self._operators)
            counts = [self._operators[key] for key in keys]
            await conn.execute(
                _OPERATOR_INTERVALS,
                [interface for interface, _ in keys],
                [start for _, start in keys],
                *([c.values[n] for c in counts] for n in range(4)),
            )
        if self._columns:
            ids = list(self._columns)
            columns = [self._columns[callid] for callid in ids]
            await conn.execute(
                _CALLS,
                ids,
                *(
                    [getattr(c, name) for c in columns]
                    for name in (
                        "joined_at",
                        "answered",
                        "answered_at",
                        "answered_by",
                        "abandoned",
                        "abandoned_at",
                        "waited",
                        "wait_seconds",
                    )
                ),
            )
        notices: list[str] = []
        if self._withdrawn:
            removed = await conn.fetch(_REMOVE_CALLBACKS, list(self._withdrawn))
            notices += [_notice("callback_removed", {"id": r["id"]}) for r in removed]
        if self._callbacks:
            added = await conn.fetch(
                _ADD_CALLBACKS,
                *(list(column) for column in zip(*self._callbacks.values(), strict=True)),
            )
            if added:
                stored = await conn.fetch(
                    CALLBACK_SELECT + " WHERE b.id = ANY($1) ORDER BY b.id",
                    [r["id"] for r in added],
                )
                notices += [_notice("callback_added", callback_of(r).to_json()) for r in stored]
        if notices:  # every instance's consoles hear of them once the batch commits
            await conn.execute(_NOTIFY, EVENTS_CHANNEL, notices)


def _notice(kind: str, data: dict[str, object]) -> str:
    return json.dumps({"topic": "calls", "kind": kind, **data}, ensure_ascii=False)
