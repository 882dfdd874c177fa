"""The baseline of the queue_log applier (``db/queue_log.py``): the applier as it was before
issue 14, every row's step written statement by statement (about six round trips a row), the
15-minute counters one upsert per row. Kept here only so that ``bench.queue_log_apply`` prints
the applier's rows/s as a ratio against it, in the same run."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import datetime

import asyncpg

from agents.queue_log import (
    Answered,
    EndedBy,
    Entered,
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
from db.queue_log import _PENDING, PostgresQueueLog, _row
from tickets.errors import SnapshotRefused
from tickets.model import Line
from tickets.phone import normalize_phone

logger = logging.getLogger(__name__)

_INTERFACE = """
SELECT coalesce(
    (SELECT s.interface FROM operator_sessions s JOIN users u ON u.id = s.user_id
      WHERE u.username = $1 ORDER BY (s.logged_in_at <= $2) DESC, s.logged_in_at DESC LIMIT 1),
    CASE WHEN strpos($1, '/') > 0 THEN $1 END)
"""

_QUEUE_INTERVAL = """
INSERT INTO queue_intervals AS q (queue, interval_start, sl1_seconds, sl2_seconds, received,
    answered, abandoned, answered_within_1, answered_within_2, hold_seconds_sum,
    talk_seconds_sum, completed, longest_wait)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
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

_OPERATOR_INTERVAL = """
INSERT INTO operator_intervals AS o (interface, interval_start, answered, completed,
    ring_no_answer, talk_seconds_sum)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (interface, interval_start) DO UPDATE SET
    answered = o.answered + excluded.answered,
    completed = o.completed + excluded.completed,
    ring_no_answer = o.ring_no_answer + excluded.ring_no_answer,
    talk_seconds_sum = o.talk_seconds_sum + excluded.talk_seconds_sum
"""

_ENTER = """
INSERT INTO queue_calls AS c (callid, queue, caller, entered_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (callid, queue) DO UPDATE SET
    entries = c.entries + 1,
    entered_at = least(c.entered_at, excluded.entered_at),
    caller = CASE WHEN c.caller = '' THEN excluded.caller ELSE c.caller END,
    outcome = CASE WHEN excluded.entered_at >= greatest(c.entered_at, c.answered_at,
                        c.completed_at, c.left_at) THEN 'waiting' ELSE c.outcome END,
    left_at = CASE WHEN excluded.entered_at >= c.left_at THEN NULL ELSE c.left_at END,
    wait_seconds = CASE WHEN excluded.entered_at >= c.left_at THEN NULL
                        ELSE c.wait_seconds END
RETURNING (xmax = 0) AS offered
"""

_ADD_CALLBACK = """
INSERT INTO callbacks (call_uniqueid, ticket_id, line, queue, phone, caller_raw, hold_seconds,
    abandoned_at)
VALUES ($1, (SELECT ticket_id FROM calls WHERE uniqueid = $1), $2, $3, $4, $5, $6, $7)
ON CONFLICT (call_uniqueid) DO NOTHING RETURNING id
"""


class PerRowQueueLog(PostgresQueueLog):
    """``PostgresQueueLog`` whose ``apply`` writes row by row."""

    async def apply(self, limit: int) -> int:
        """Apply up to ``limit`` rows after the cursor in one transaction; how many."""
        async with self._pool.acquire() as conn, conn.transaction():
            cursor = await conn.fetchrow(
                "SELECT last_xid::text AS xid, last_id FROM queue_log_cursor WHERE id = 1"
                " FOR UPDATE"
            )
            assert cursor is not None
            records = await conn.fetch(_PENDING, cursor["xid"], cursor["last_id"], limit)
            for record in records:
                await _Apply(conn, self._levels, self._lines).row(_row(record))
            if records:
                await conn.execute(
                    "UPDATE queue_log_cursor SET last_xid = $1::text::xid8, last_id = $2,"
                    " applied = applied + $3, applied_at = now() WHERE id = 1",
                    records[-1]["xid"],
                    records[-1]["id"],
                    len(records),
                )
            return len(records)


class _Apply:
    """One row's writes, on the batch's connection."""

    def __init__(self, conn: Connection, levels: ServiceLevels, lines: Mapping[str, Line]) -> None:
        self._conn = conn
        self._levels = levels
        self._lines = lines

    async def row(self, row: QueueLogRow) -> None:
        match step_of(row):
            case Entered(caller=caller):
                await self._entered(row, caller)
            case Answered(hold_seconds=hold):
                await self._answered(row, hold)
            case Finished(talk_seconds=talk, by=by):
                await self._finished(row, talk, by)
            case LeftUnanswered(how=how, wait_seconds=wait):
                await self._left(row, how, wait)
            case RingMissed():
                interface = await self._interface(row)
                if interface is not None:
                    await self._operator(interface, row.at, ring_no_answer=1)

    async def _entered(self, row: QueueLogRow, caller: str) -> None:
        conn = self._conn
        # a caller redirected while waiting left an ABANDON behind: entering a queue again,
        # it was moved, not lost (README, "queue_log")
        moved = await conn.fetch(
            "UPDATE queue_calls SET outcome = 'moved' WHERE callid = $1 AND outcome = 'abandoned'"
            " AND left_at <= $2 RETURNING queue, left_at",
            row.callid,
            row.at,
        )
        for earlier in moved:
            await self._queue(earlier["queue"], earlier["left_at"], abandoned=-1)
            removed = await conn.fetchval(
                "DELETE FROM callbacks WHERE call_uniqueid = $1 AND status = 'pending'"
                " AND attempts = 0 RETURNING id",
                row.callid,
            )
            if removed is not None:
                await self._notify("callback_removed", {"id": removed})
        # a caller redirected while talking (the console's transfer) enters a queue while the
        # first conversation is still 'answered': Asterisk logs that one's COMPLETECALLER only
        # when the whole call ends, its talk time covering everything after (apps/app_queue.c
        # handle_hangup: the Redirect's soft hang-up publishes no hang-up request). It ended
        # here; its late COMPLETECALLER then counts nothing (_finished).
        talked = await conn.fetch(
            "UPDATE queue_calls SET outcome = 'completed', completed_at = $2, ended_by = $3,"
            " talk_seconds = greatest(0, floor(extract(epoch FROM $2 - answered_at)))::int"
            " WHERE callid = $1 AND outcome = 'answered' AND answered_at <= $2"
            " RETURNING queue, interface, talk_seconds",
            row.callid,
            row.at,
            EndedBy.TRANSFER.value,
        )
        for first in talked:
            talk = first["talk_seconds"]
            await self._queue(first["queue"], row.at, completed=1, talk_seconds=talk)
            if first["interface"] is not None:
                await self._operator(first["interface"], row.at, completed=1, talk_seconds=talk)
        await self._enter(row, caller)
        known = await conn.fetchval("SELECT true FROM calls WHERE uniqueid = $1", row.callid)
        if not known:
            await self._ticket(row, caller)
        await conn.execute(
            "UPDATE calls SET queue_joined_at = coalesce(queue_joined_at, $2) WHERE uniqueid = $1",
            row.callid,
            row.at,
        )

    async def _enter(self, row: QueueLogRow, caller: str) -> None:
        offered = await self._conn.fetchval(_ENTER, row.callid, row.queue, caller, row.at)
        if offered:  # once per call and queue: a caller queued again is the same offered call
            await self._queue(row.queue, row.at, received=1)

    async def _known(self, row: QueueLogRow) -> None:
        """A row of a call whose ENTERQUEUE was never seen (lost): it was offered all the same."""
        exists = await self._conn.fetchval(
            "SELECT true FROM queue_calls WHERE callid = $1 AND queue = $2", row.callid, row.queue
        )
        if not exists:
            await self._enter(row, "")

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
        logger.warning(
            "call %s joined %s without passing the IVR; ticket %s created from the queue",
            row.callid,
            row.queue,
            code,
        )

    async def _answered(self, row: QueueLogRow, hold: int) -> None:
        await self._known(row)
        interface = await self._interface(row)
        await self._conn.execute(
            "UPDATE queue_calls SET outcome = 'answered', answered_at = $3, agent = $4,"
            " interface = $5, hold_seconds = $6 WHERE callid = $1 AND queue = $2",
            row.callid,
            row.queue,
            row.at,
            row.agent,
            interface,
            hold,
        )
        levels = self._levels
        await self._queue(
            row.queue,
            row.at,
            answered=1,
            answered_within_1=int(hold <= levels.first),
            answered_within_2=int(hold <= levels.second),
            hold_seconds=hold,
            longest_wait=hold,
        )
        if interface is not None:
            await self._operator(interface, row.at, answered=1)
        await self._conn.execute(
            "UPDATE calls SET answered_at = $2, queue_wait_seconds = $3, answered_by = $4"
            " WHERE uniqueid = $1",
            row.callid,
            row.at,
            hold,
            interface,
        )

    async def _finished(self, row: QueueLogRow, talk: int, by: EndedBy) -> None:
        await self._known(row)
        ended = await self._conn.fetchval(
            "SELECT true FROM queue_calls WHERE callid = $1 AND queue = $2 AND agent = $3"
            " AND outcome = 'completed' AND ended_by = $4",
            row.callid,
            row.queue,
            row.agent,
            EndedBy.TRANSFER.value,
        )
        if ended:  # the late COMPLETECALLER of a conversation that ended at a transfer
            return
        interface = await self._conn.fetchval(
            "UPDATE queue_calls SET outcome = 'completed', completed_at = $3, talk_seconds = $4,"
            " ended_by = $5 WHERE callid = $1 AND queue = $2 RETURNING interface",
            row.callid,
            row.queue,
            row.at,
            talk,
            by.value,
        )
        await self._queue(row.queue, row.at, completed=1, talk_seconds=talk)
        interface = interface or await self._interface(row)
        if interface is not None:
            await self._operator(interface, row.at, completed=1, talk_seconds=talk)

    async def _left(self, row: QueueLogRow, how: Left, wait: int) -> None:
        await self._known(row)
        caller = await self._conn.fetchval(
            "UPDATE queue_calls SET outcome = $3, left_at = $4, wait_seconds = $5"
            " WHERE callid = $1 AND queue = $2 RETURNING caller",
            row.callid,
            row.queue,
            how.value,
            row.at,
            wait,
        )
        if how is not Left.ABANDONED:  # a timeout is queued again; never an abandoned call
            return
        await self._queue(row.queue, row.at, abandoned=1, longest_wait=wait)
        await self._conn.execute(
            "UPDATE calls SET abandoned_at = $2, queue_wait_seconds = $3 WHERE uniqueid = $1",
            row.callid,
            row.at,
            wait,
        )
        raw = caller or ""
        added = await self._conn.fetchval(
            _ADD_CALLBACK,
            row.callid,
            self._line(row.queue).value,
            row.queue,
            normalize_phone(raw),
            raw or "unknown",
            wait,
            row.at,
        )
        if added is not None:
            record = await self._conn.fetchrow(CALLBACK_SELECT + " WHERE b.id = $1", added)
            assert record is not None
            await self._notify("callback_added", callback_of(record).to_json())

    def _line(self, queue: str) -> Line:
        return self._lines.get(queue, Line.CITIZEN)

    async def _interface(self, row: QueueLogRow) -> str | None:
        if not row.agent or row.agent == "NONE":
            return None
        value = await self._conn.fetchval(_INTERFACE, row.agent, row.at)
        return None if value is None else str(value)

    async def _queue(
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
        await self._conn.execute(
            _QUEUE_INTERVAL,
            queue,
            interval_start(at),
            self._levels.first,
            self._levels.second,
            received,
            answered,
            abandoned,
            answered_within_1,
            answered_within_2,
            hold_seconds,
            talk_seconds,
            completed,
            longest_wait,
        )

    async def _operator(
        self,
        interface: str,
        at: datetime,
        *,
        answered: int = 0,
        completed: int = 0,
        ring_no_answer: int = 0,
        talk_seconds: int = 0,
    ) -> None:
        await self._conn.execute(
            _OPERATOR_INTERVAL,
            interface,
            interval_start(at),
            answered,
            completed,
            ring_no_answer,
            talk_seconds,
        )

    async def _notify(self, kind: str, data: dict[str, object]) -> None:
        """Every instance's consoles hear of it once the batch commits (db/listen.py)."""
        payload = json.dumps({"topic": "calls", "kind": kind, **data}, ensure_ascii=False)
        await self._conn.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, payload)
