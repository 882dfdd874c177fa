"""Chaos: SIGTERM to a real ``hotline serve`` while many calls are in the IVR. Calls that can
finish within the grace period finish; the others are handed back to the dialplan (their queue
is already set) and their snapshots spooled; the process exits cleanly, and the next start on the
same data directory stores every spooled snapshot: every call has its ticket."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS
from tests.test_cli import base_env, free_port, wait_healthy

CALLS = 60
GRACE = 2.0  # HOTLINE_AGI_SHUTDOWN_GRACE for this test: quick callers finish, slow ones are cut


@asynccontextmanager
async def hotline_serve(
    env: dict[str, str], log: Path
) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``hotline serve`` with its log in a file (a pipe nobody reads would block it)."""
    agi_port, http_port = free_port(), free_port()
    with log.open("ab") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hotline",
            "serve",
            "--agi-bind",
            f"127.0.0.1:{agi_port}",
            "--http-bind",
            f"127.0.0.1:{http_port}",
            env=env,
            stdout=sink,
            stderr=sink,
        )
    try:
        await wait_healthy(f"http://127.0.0.1:{http_port}", process)
        yield process, agi_port
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_given_calls_in_the_ivr_when_sigterm_arrives_then_each_call_is_queued_and_has_a_ticket_after_the_next_start(
    database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    env = base_env(tmp_path, database_url) | {
        "HOTLINE_AGI_SHUTDOWN_GRACE": str(GRACE),
        "HOTLINE_SPOOL_RETRY_INTERVAL": "0.2",
    }
    log = tmp_path / "serve.log"
    # half the callers answer the menu quickly, the other half take 8 s per key: cut by SIGTERM
    channels = [
        SimulatedChannel(
            callerid=f"09010{n:05d}",
            script=CallerScript(keys=[str(n % 4)], key_delay=0.3 if n % 2 else 8.0),
            sounds_dir=SOUNDS,
        )
        for n in range(CALLS)
    ]
    async with hotline_serve(env, log) as (process, agi_port):
        calls = [
            asyncio.ensure_future(
                run_hotline_call(c, "127.0.0.1", agi_port, default_queue="hotline-1022")
            )
            for c in channels
        ]
        async with asyncio.timeout(30):
            while await db.fetchval("SELECT count(*) FROM calls") < CALLS:
                await asyncio.sleep(0.02)  # every call is in the IVR, its ticket created
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            results = await asyncio.gather(*calls)
            assert await process.wait() == 0, log.read_text()

    text = log.read_text()
    assert "cancelled" in text  # some calls were indeed cut at shutdown
    assert [r.queue for r in results] == ["hotline-1022"] * CALLS
    assert all(r.agi.agistatus == "SUCCESS" for r in results)
    spooled = list((tmp_path / "spool").glob("*.json"))
    assert spooled  # the cut calls' final snapshots wait in the spool

    async with hotline_serve(env, log):
        async with asyncio.timeout(30):
            while list((tmp_path / "spool").glob("*.json")):
                await asyncio.sleep(0.05)
    rows = await db.fetch(
        "SELECT c.uniqueid, c.disposition, c.ended_at, t.code FROM calls c"
        " JOIN tickets t ON t.id = c.ticket_id"
    )
    by_call = {r["uniqueid"]: r for r in rows}
    assert set(by_call) == {c.uniqueid for c in channels}
    assert {r["disposition"] for r in rows} <= {"queued", "fallback"}
    assert all(r["ended_at"] is not None for r in rows)  # the last snapshot of each call is stored
    finished = [c for c in channels if c.script.key_delay < 1]
    assert {by_call[c.uniqueid]["disposition"] for c in finished} == {"queued"}
    cut = [c for c in channels if c.script.key_delay > 1]
    assert {by_call[c.uniqueid]["disposition"] for c in cut} == {"fallback"}
    assert os.path.exists(tmp_path / "spool")
