"""Chaos: PostgreSQL restarts while 200 calls are in the IVR. A dedicated embedded server (never
the machine's, other suites use it) is stopped and started again on the same data directory
(same socket path) while every caller is still choosing in the menu: every call still reaches
its queue, and afterwards every call has its ticket with its final state (the spool replays).
Half the callers choose while the server is down (their snapshots are spooled), the other half
only after it is back."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import pytest

from db.migrations import migrate
from db.pool import embedded_postgres
from hotline.settings import Settings
from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS
from tests.support.service import running_service, service_settings

CALLS = 200
EARLY, LATE = 3.0, 8.0  # seconds callers take to choose: half finish while PostgreSQL is down


@pytest.fixture
def embedded_dir() -> Iterator[Path]:
    """Where a test's own PostgreSQL lives. Not under pytest's tmp_path: run as root, the
    server runs as another user, and every pytest session that starts on the machine resets
    /tmp/pytest-of-<user> to mode 0700, which that user can then no longer cross."""
    with tempfile.TemporaryDirectory(prefix="hotline-pg-") as folder:
        yield Path(folder)


def queue_of(channel: SimulatedChannel) -> str:
    return "emergency-115" if channel.extension == "115" else "hotline-1022"


async def test_given_200_calls_in_the_ivr_when_postgresql_restarts_then_every_call_is_queued_and_every_ticket_is_stored(
    embedded_dir: Path,
) -> None:
    pgdata = embedded_dir / "pg" / "data"
    async with AsyncExitStack() as stack:
        server = embedded_postgres(pgdata)
        url = await server.__aenter__()
        stopped = False

        async def stop_server() -> None:
            if not stopped:
                await server.__aexit__(None, None, None)

        stack.push_async_callback(stop_server)
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()

        in_menu: set[str] = set()

        def caller(n: int) -> SimulatedChannel:
            uniqueid = f"1790000000.{n}"

            async def choose(seconds: float) -> None:
                in_menu.add(uniqueid)  # GET DATA arrived: the caller is in the menu
                await asyncio.sleep(seconds)

            return SimulatedChannel(
                callerid=f"0902{n:06d}",
                uniqueid=uniqueid,
                script=CallerScript(keys=[str(1 + n % 3)], key_delay=EARLY if n % 2 else LATE),
                sounds_dir=SOUNDS,
                sleep=choose,
            )

        channels = [caller(n) for n in range(CALLS)]
        service = await stack.enter_async_context(
            running_service(service_settings(url, embedded_dir / "service"))
        )
        calls = [
            asyncio.ensure_future(
                run_hotline_call(c, "127.0.0.1", service.agi_port, default_queue=queue_of(c))
            )
            for c in channels
        ]
        async with asyncio.timeout(30):
            while len(in_menu) < CALLS:
                await asyncio.sleep(0.02)
        assert not any(call.done() for call in calls)  # 200 calls in the IVR

        await server.__aexit__(None, None, None)  # PostgreSQL goes away …
        stopped = True
        early = [
            call for call, c in zip(calls, channels, strict=True) if c.script.key_delay == EARLY
        ]
        late = [call for call in calls if call not in early]
        async with asyncio.timeout(30):
            await asyncio.gather(*early)  # these callers finish the IVR during the outage
        server = embedded_postgres(pgdata)
        assert await server.__aenter__() == url  # … and comes back on the same socket path
        stopped = False
        assert not any(call.done() for call in late)  # still in the menu across the restart

        async with asyncio.timeout(60):
            results = await asyncio.gather(*calls)
        assert [r.queue for r in results] == [queue_of(c) for c in channels]
        assert all(r.agi.agistatus == "SUCCESS" for r in results)

        db = await asyncpg.connect(url)
        try:
            async with asyncio.timeout(30):  # the spool replays what the outage held back
                while await db.fetchval(
                    "SELECT count(*) FROM calls WHERE disposition = 'queued'"
                ) < CALLS or list(service.settings.spool_dir.glob("*.json")):
                    await asyncio.sleep(0.1)
            rows = await db.fetch(
                "SELECT c.uniqueid, t.category, t.code FROM calls c"
                " JOIN tickets t ON t.id = c.ticket_id"
            )
        finally:
            await db.close()
    categories = {"1": "admin_procedure", "2": "field_report", "3": "information"}
    by_call = {r["uniqueid"]: r for r in rows}
    assert set(by_call) == {c.uniqueid for c in channels}
    assert len({r["code"] for r in rows}) == CALLS
    assert all(
        by_call[c.uniqueid]["category"] == categories[str(c.script.keys[0])] for c in channels
    )


async def test_given_the_embedded_postgresql_when_its_postmaster_is_killed_then_the_service_restarts_it_and_tickets_are_stored_again(
    embedded_dir: Path,
) -> None:
    """No HOTLINE_DATABASE_URL: the service runs its own PostgreSQL under data_dir. Killed with
    SIGKILL (the OOM killer, an operator's mistake), it is started again by the service."""
    settings = Settings.model_validate(
        {
            "data_dir": embedded_dir,
            "agi_bind": "127.0.0.1:0",
            "http_bind": "127.0.0.1:0",
            "spool_retry_interval": 0.2,
            "agi_shutdown_grace": 5.0,
        }
    )
    pid_file = settings.pgdata / "postmaster.pid"
    async with running_service(settings) as service:
        killed = int(pid_file.read_text().split()[0])
        os.kill(killed, signal.SIGKILL)

        during = SimulatedChannel(script=CallerScript(keys=["3"]), sounds_dir=SOUNDS)
        result = await run_hotline_call(
            during, "127.0.0.1", service.agi_port, default_queue="hotline-1022"
        )
        assert result.queue == "hotline-1022"  # the caller never notices

        async def stored() -> bool:
            async with service.pool.acquire() as conn:
                count = await conn.fetchval(
                    "SELECT count(*) FROM calls WHERE uniqueid = $1 AND disposition = 'queued'",
                    during.uniqueid,
                )
            return bool(count == 1)

        async with asyncio.timeout(90):
            while True:
                with contextlib.suppress(Exception):
                    if await stored():
                        break
                await asyncio.sleep(0.2)

        after = SimulatedChannel(script=CallerScript(keys=["1"]), sounds_dir=SOUNDS)
        result = await run_hotline_call(
            after, "127.0.0.1", service.agi_port, default_queue="hotline-1022"
        )
        assert result.agi.variables["HOTLINE_TICKET"].startswith("1022-")  # stored at once
        assert int(pid_file.read_text().split()[0]) != killed
