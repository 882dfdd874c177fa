"""queue_log rows applied per second: the applier (``db/queue_log.py``) against the row-by-row
applier it replaced (``bench/queue_log_baseline.py``), on the same rows in the same run.

A scratch database (real PostgreSQL) gets ``--calls`` queue calls' rows as app_queue writes them
(ENTERQUEUE; then CONNECT and COMPLETECALLER/COMPLETEAGENT, a RINGNOANSWER before one call in
five, or ABANDON for one call in six, which adds a call-back), one every half second across
the queues of both lines, answered by 20 operators logged in from the console (member name =
username). Every call passed the IVR (its ``calls`` row exists), so no ticket is made from the
queue. Each applier starts from nothing (``PostgresQueueLog.rebuild``) and applies everything
in batches of ``--batch`` rows; the derived tables must come out the same both ways.

Run: ``.venv/bin/python -m bench.queue_log_apply`` (``HOTLINE_DATABASE_URL`` to use a server,
otherwise an embedded PostgreSQL in a temporary folder; a fresh database is made and dropped).
Ends with a JSON line of the headline figures.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from agents.applier import BATCH
from agents.queue_log import queue_intake
from agents.stats import ServiceLevels
from bench.agi_turns import Figure
from bench.machine import cpu_model, nproc, scratch_database
from bench.queue_log_baseline import PerRowQueueLog
from db.intake import save_intake
from db.migrations import migrate
from db.pool import create_pool
from db.queue_log import PostgresQueueLog
from runtime.loop import run_loop
from tickets.model import Line

START = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
OPERATORS = [f"op{100 + n}" for n in range(20)]
DERIVED = {
    "queue_calls": "SELECT callid, queue, outcome, caller, entered_at, answered_at, completed_at,"
    " left_at, hold_seconds, talk_seconds, wait_seconds, agent, interface, ended_by, entries"
    " FROM queue_calls ORDER BY callid, queue",
    "queue_intervals": "SELECT * FROM queue_intervals ORDER BY queue, interval_start",
    "operator_intervals": "SELECT * FROM operator_intervals ORDER BY interface, interval_start",
    "callbacks": "SELECT call_uniqueid, line, queue, phone, hold_seconds, abandoned_at"
    " FROM callbacks ORDER BY call_uniqueid",
    "calls": "SELECT uniqueid, queue_joined_at, answered_at, abandoned_at, queue_wait_seconds,"
    " answered_by FROM calls ORDER BY uniqueid",
}


def entry(
    at: datetime, callid: str, queue: str, agent: str, event: str, *data: str
) -> tuple[Any, ...]:
    """One queue_log row as the realtime driver inserts it (UTC, no time zone)."""
    return (at.replace(tzinfo=None), callid, queue, agent, event, *[*data, "", "", "", "", ""][:5])


def queue_rows(calls: int, queues: list[str], seed: int = 14) -> list[tuple[Any, ...]]:
    """(time, callid, queuename, agent, event, data1..data5) for every call, in time order."""
    rng = random.Random(seed)
    rows: list[tuple[Any, ...]] = []
    for n in range(calls):
        callid = f"bench-{n}"
        queue = queues[n % len(queues)]
        at = START + timedelta(seconds=n / 2)
        caller = f"09{rng.randrange(10**8):08d}"
        wait = rng.randrange(1, 60)
        answered = at + timedelta(seconds=wait)
        rows.append(entry(at, callid, queue, "NONE", "ENTERQUEUE", "", caller, "1"))
        if n % 6 == 5:
            rows.append(entry(answered, callid, queue, "NONE", "ABANDON", "1", "1", str(wait)))
            continue
        agent = OPERATORS[n % len(OPERATORS)]
        if n % 5 == 0:
            missed = OPERATORS[(n + 1) % len(OPERATORS)]
            rows.append(entry(answered, callid, queue, missed, "RINGNOANSWER", "15000"))
        rows.append(entry(answered, callid, queue, agent, "CONNECT", str(wait), f"{callid}9", "3"))
        talk = rng.randrange(30, 300)
        event = "COMPLETECALLER" if n % 2 else "COMPLETEAGENT"
        ended = answered + timedelta(seconds=talk)
        rows.append(entry(ended, callid, queue, agent, event, str(wait), str(talk), "1"))
    rows.sort(key=lambda r: r[0])
    return rows


async def prepare(conn: asyncpg.Connection, calls: int, queues: list[str]) -> int:
    """The schema, the IVR's calls, the operators' sessions and the queue_log rows."""
    await migrate(conn)
    seed = queue_intake("bench-seed", queues[0], Line.CITIZEN, "0901234567", START)
    await save_intake(conn, seed)
    columns = [
        r["column_name"]
        for r in await conn.fetch(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'calls' AND column_name NOT IN ('id', 'uniqueid', 'linkedid')"
        )
    ]
    listed = ", ".join(columns)
    await conn.execute(
        f"INSERT INTO calls (uniqueid, linkedid, {listed})"  # noqa: S608 (column names)
        f" SELECT 'bench-' || g, 'bench-' || g, {listed}"
        " FROM calls, generate_series(0, $1 - 1) g WHERE uniqueid = 'bench-seed'",
        calls,
    )
    for name in OPERATORS:
        user = await conn.fetchval(
            "INSERT INTO users (username, password_hash, role) VALUES ($1, 'x', 'operator')"
            " RETURNING id",
            name,
        )
        await conn.execute(
            "INSERT INTO operator_sessions (user_id, interface, queues, logged_in_at)"
            " VALUES ($1, $2, $3, $4)",
            user,
            f"PJSIP/{name}",
            queues,
            START - timedelta(hours=1),
        )
    rows = queue_rows(calls, queues)
    await conn.copy_records_to_table(
        "queue_log",
        records=rows,
        columns=[
            "time",
            "callid",
            "queuename",
            "agent",
            "event",
            "data1",
            "data2",
            "data3",
            "data4",
            "data5",
        ],
    )
    await conn.execute("ANALYZE")
    return len(rows)


async def run(store: PostgresQueueLog, batch: int, rows: int) -> float:
    """Rows/s applying everything from the start."""
    await store.rebuild()
    started = time.perf_counter()
    done = 0
    while (count := await store.apply(batch)) > 0:
        done += count
    elapsed = time.perf_counter() - started
    assert done == rows, (done, rows)
    return rows / elapsed


async def derived(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {name: [tuple(r) for r in await conn.fetch(sql)] for name, sql in DERIVED.items()}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--calls", type=int, default=5000, help="queue calls in queue_log")
    parser.add_argument(
        "--batch", type=int, default=BATCH, help=f"rows per transaction (default {BATCH})"
    )
    args = parser.parse_args()
    print(f"machine: {nproc()} CPUs, {cpu_model()}; Python {sys.version.split()[0]}")
    print(f"load:    {Path('/proc/loadavg').read_text().split()[:3]} (1, 5, 15 min)")
    lines = {"hotline-1022": Line.CITIZEN, "emergency-115": Line.MEDICAL}
    queues = sorted(lines)
    levels = ServiceLevels()
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as scratch:
        async with scratch_database(Path(scratch)) as database:
            conn = await asyncpg.connect(database.url)
            try:
                rows = await prepare(conn, args.calls, queues)
                print(f"rows:    {rows} ({args.calls} calls), batches of {args.batch}")
                pool = await create_pool(database.url)
                try:
                    base = await run(
                        PerRowQueueLog(pool, levels=levels, queue_lines=lines), args.batch, rows
                    )
                    expected = await derived(conn)
                    ours = await run(
                        PostgresQueueLog(pool, levels=levels, queue_lines=lines), args.batch, rows
                    )
                    same = await derived(conn) == expected
                finally:
                    await pool.close()
            finally:
                await conn.close()
    print()
    print(f"{'applier':<40}{'rows/s':>12}")
    print(f"{'row by row (baseline)':<40}{base:>12,.0f}")
    print(f"{'db/queue_log.py':<40}{ours:>12,.0f}")
    print(f"{'ratio':<40}{ours / base:>12.2f}")
    print(f"{'derived tables the same both ways':<40}{'yes' if same else 'NO':>12}")
    figures = [Figure("queue_log_rows_applied", ours, "rows/s", base)]
    print(
        json.dumps(
            {"bench": "queue_log_apply", "same": same, "figures": [f.as_json() for f in figures]}
        )
    )


if __name__ == "__main__":
    run_loop(main())
