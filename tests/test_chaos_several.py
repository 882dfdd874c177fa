"""Chaos with two service instances, two emulated PBXs (system names ``pbx-a``, ``pbx-b``) and
one PostgreSQL (the test's own embedded server), under traffic on both PBXs: one instance stops
mid-run (its PBX's FastAGI then goes to the other, as a balancer does), one PBX's AMI listener
is down for 20 simulated seconds (``Switchboard.restart_ami``) and PostgreSQL restarts once —
the statistics, call-backs and tickets equal the emulators' own record of what happened, every
queue_log row is in the table once (the PBXs' realtime inserts that failed during the restart
recovered from their files) and applied once (apps/app_queue.c writes the rows through
main/logger.c ``ast_queue_log``; res_config_pgsql ``store_pgsql`` does not retry a failed
insert)."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import pytest

from db.migrations import migrate
from db.pool import embedded_postgres
from hotline.keys import AGENTS, QUEUE_LOG
from hotline.settings import Settings
from switchboard import CallerScript, Clock, QueueLogConfig, Softphone, Switchboard
from switchboard.board import CallOutcome
from switchboard.testing import BACKEND_USER
from tests.conftest import SOUNDS
from tests.support.live import eventually
from tests.support.service import RunningService, running_service, service_settings

SCALE = 20.0
CALLS = 12


@pytest.fixture
def embedded_dir() -> Iterator[Path]:
    """The test's own PostgreSQL, restarted mid-run (never the machine's, other suites use it);
    not under tmp_path, which the server's user may not cross (test_chaos_postgres_restart)."""
    with tempfile.TemporaryDirectory(prefix="hotline-pg-") as folder:
        yield Path(folder)


def pbx(tmp_path: Path, name: str, database_url: str, clock: Clock, seed: int) -> Switchboard:
    return Switchboard(
        recordings_dir=tmp_path / name / "recordings",
        sounds_dir=SOUNDS,
        ami_users={"hotline": BACKEND_USER},
        clock=clock,
        seed=seed,
        systemname=name,
        queue_log=QueueLogConfig(database_url=database_url, file=tmp_path / name / "queue_log"),
    )


async def test_given_two_instances_and_two_pbxs_when_an_instance_stops_and_an_ami_link_drops_then_the_record_is_exact(
    tmp_path: Path, embedded_dir: Path
) -> None:
    pgdata = embedded_dir / "pg" / "data"
    async with AsyncExitStack() as stack:
        server = embedded_postgres(pgdata)
        database_url = await server.__aenter__()
        running = True

        async def stop_server() -> None:
            if running:
                await server.__aexit__(None, None, None)

        stack.push_async_callback(stop_server)
        conn = await asyncpg.connect(database_url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        clock = Clock(scale=SCALE)
        a = pbx(tmp_path, "pbx-a", database_url, clock, 1)
        b = pbx(tmp_path, "pbx-b", database_url, clock, 2)
        for board in (a, b):
            await board.start()
            stack.push_async_callback(board.stop)
        urls = ",".join(f"ami://hotline:secret@127.0.0.1:{x.ami_port}" for x in (a, b))

        def settings(name: str) -> Settings:
            return service_settings(
                database_url,
                tmp_path / name,
                ami_urls=urls,
                queue_log_files=f"{tmp_path}/pbx-a/queue_log,{tmp_path}/pbx-b/queue_log",
                queue_log_recover_interval=0.5,
                ami_ping_interval=0.5,
                ami_action_timeout=3.0,
            )

        one = await stack.enter_async_context(running_service(settings("one")))
        two_stack = AsyncExitStack()
        two: RunningService = await two_stack.enter_async_context(running_service(settings("two")))
        await eventually(lambda: one.app[AGENTS].connected and two.app[AGENTS].connected)
        a.dialplan.agi_port, b.dialplan.agi_port = one.agi_port, two.agi_port
        for board, endpoint in ((a, "op101"), (b, "op201")):
            board.add_softphone(Softphone(endpoint, ring_delay=1.0, talk_time=(20.0, 40.0)))
            board.app_queue.add_member("hotline-1022", f"PJSIP/{endpoint}")
        joins = 0

        def count_join(event: object) -> None:
            nonlocal joins
            joins += getattr(event, "name", "") == "QueueCallerJoin"

        for board in (a, b):
            board.bus.subscribe(count_join)

        handles = []
        outage: asyncio.Task[None] | None = None
        for n in range(CALLS):
            if n == CALLS // 3:
                await two_stack.aclose()  # instance two stops mid-run …
                b.dialplan.agi_port = one.agi_port  # … the balancer sends pbx-b's calls to one
            if n == CALLS // 2:
                outage = asyncio.create_task(a.restart_ami(down_for=20.0))
            if n == 2 * CALLS // 3:
                await server.__aexit__(None, None, None)  # PostgreSQL goes away …
                running = False
                await clock.sleep(5.0)
                server = embedded_postgres(pgdata)
                assert await server.__aenter__() == database_url  # … and comes back
                running = True
            board = (a, b)[n % 2]
            handles.append(
                await board.place_call(
                    "1022",
                    f"09{n:08d}",
                    script=CallerScript(keys=["3"]),
                    patience=(8.0, 300.0)[n % 3 != 0],  # every third caller gives up early
                )
            )
            await clock.sleep(10.0)
        assert outage is not None
        await outage
        async with asyncio.timeout(120):
            outcomes: list[CallOutcome] = [await h.wait() for h in handles]
        for board in (a, b):
            await board.queue_log.flushed()
        await eventually(lambda: one.app[AGENTS].connected, 20)
        written = len(a.queue_log.entries) + len(b.queue_log.entries)
        db = await asyncpg.connect(database_url)
        stack.push_async_callback(db.close)

        async def settled() -> bool:
            stored = await db.fetchval("SELECT count(*) FROM calls WHERE ticket_id IS NOT NULL")
            in_table = await db.fetchval("SELECT count(*) FROM queue_log")
            behind = await one.app[QUEUE_LOG].rows_behind()
            return bool(stored == CALLS and in_table == written and behind == 0)

        await eventually(settled, 60)

        answered = [o for o in outcomes if o.answered_by is not None]
        abandoned = [o for o in outcomes if o.abandoned]
        assert answered
        assert abandoned
        totals = await db.fetchrow(
            "SELECT sum(received)::int, sum(answered)::int, sum(abandoned)::int,"
            " sum(completed)::int FROM queue_intervals WHERE queue = 'hotline-1022'"
        )
        assert totals is not None
        assert tuple(totals) == (joins, len(answered), len(abandoned), len(answered))
        callbacks = await db.fetch("SELECT call_uniqueid FROM callbacks")
        assert sorted(r["call_uniqueid"] for r in callbacks) == sorted(
            o.uniqueid for o in abandoned
        )
        tickets = await db.fetch(
            "SELECT c.uniqueid, t.code FROM calls c JOIN tickets t ON t.id = c.ticket_id"
        )
        assert {r["uniqueid"]: r["code"] for r in tickets} == {
            o.uniqueid: o.variables["HOTLINE_TICKET"] for o in outcomes
        }
        assert await db.fetchval("SELECT applied FROM queue_log_cursor") == written
