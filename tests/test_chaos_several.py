"""Chaos with two service instances (one in-process, one a real ``hotline serve`` process), two
emulated PBXs (system names ``pbx-a``, ``pbx-b``) and one PostgreSQL (the test's own embedded
server), under traffic on both PBXs and with both instances sending citizens' SMS through one
brandname gateway: the ``hotline serve`` process is killed (SIGKILL, no shutdown) mid-run (its
PBX's FastAGI then goes to the other, as a balancer does), one PBX's AMI listener is down for 20
simulated seconds (``Switchboard.restart_ami``) and PostgreSQL restarts once — the statistics,
call-backs and tickets equal the emulators' own record of what happened, every queue_log row is
in the table once (the PBXs' realtime inserts that failed during the restart recovered from their
files) and applied once (apps/app_queue.c writes the rows through main/logger.c
``ast_queue_log``; res_config_pgsql ``store_pgsql`` does not retry a failed insert), and the
gateway accepted every citizen's message exactly once."""

from __future__ import annotations

import asyncio
import signal
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import asyncpg
import pytest

from db.backoffice import PostgresBackofficeStore
from db.migrations import migrate
from db.pool import embedded_postgres
from db.province import load_province
from hotline.keys import AGENTS, QUEUE_LOG
from hotline.settings import Settings
from switchboard import CallerScript, Clock, QueueLogConfig, Softphone, Switchboard
from switchboard.board import CallOutcome
from switchboard.testing import BACKEND_USER
from tests.conftest import SOUNDS
from tests.support.brandname import API_KEY, FakeBrandname, brandname_gateway
from tests.support.live import eventually
from tests.support.service import running_service, service_settings
from tests.test_chaos_sigterm import hotline_serve
from tests.test_cli import base_env
from tickets.agencies import load_province as read_province
from tickets.model import Category, Role, User
from tickets.service import BackofficeService

SCALE = 20.0
CALLS = 12
OPERATOR = User(1, "op1", Role.OPERATOR, None)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[FakeBrandname, str]]:
    async with brandname_gateway() as served:
        yield served


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


async def test_given_two_instances_and_two_pbxs_when_an_instance_is_killed_and_an_ami_link_drops_then_the_record_is_exact_and_no_sms_goes_twice(
    tmp_path: Path, embedded_dir: Path, gateway: tuple[FakeBrandname, str]
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

        fake, gateway_url = gateway
        common = {
            "ami_urls": urls,
            "queue_log_files": f"{tmp_path}/pbx-a/queue_log,{tmp_path}/pbx-b/queue_log",
            "queue_log_recover_interval": 0.5,
            "ami_ping_interval": 0.5,
            "ami_action_timeout": 3.0,
            "sms_gateway": "brandname",
            "brandname_url": gateway_url,
            "brandname_api_key": API_KEY,
            "notify_callback_secret": "callback-secret",
            "notify_poll_interval": 0.05,
            "notify_retry_base": 0.05,
            "notify_retry_cap": 0.5,
            "notify_quiet_start": 0,
            "notify_quiet_end": 0,
        }
        settings: Settings = service_settings(database_url, tmp_path / "one", **common)
        one = await stack.enter_async_context(running_service(settings))
        async with one.pool.acquire() as conn:
            await load_province(conn, read_province())
        env = base_env(tmp_path / "two", database_url) | {
            f"HOTLINE_{k.upper()}": str(v) for k, v in common.items()
        }
        two, two_agi = await stack.enter_async_context(
            hotline_serve(env | {"HOTLINE_SPOOL_RETRY_INTERVAL": "0.2"}, tmp_path / "two.log")
        )
        await eventually(lambda: one.app[AGENTS].connected)
        a.dialplan.agi_port, b.dialplan.agi_port = one.agi_port, two_agi
        backoffice = BackofficeService(PostgresBackofficeStore(one.pool))
        classified: set[int] = set()

        async def classify_new() -> None:
            """Each new ticket classified: one SMS for its citizen, sent by whichever instance's
            outbox worker claims it."""
            for row in await one.pool.fetch("SELECT id FROM tickets ORDER BY id"):
                if row["id"] not in classified:
                    await backoffice.classify(OPERATOR, row["id"], Category.INFORMATION)
                    classified.add(row["id"])

        async def b_calls_left_the_ivr() -> bool:
            """No call of pbx-b is in instance two's IVR (its final snapshot is stored)."""
            placed = [h.uniqueid for h in handles if h.uniqueid.startswith("pbx-b-")]
            done = await one.pool.fetchval(
                "SELECT count(*) FROM calls WHERE uniqueid = ANY($1) AND ended_at IS NOT NULL",
                placed,
            )
            return bool(done == len(placed))

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
            if n < 2 * CALLS // 3:
                await classify_new()
            if n == CALLS // 3:
                await eventually(b_calls_left_the_ivr, 30)
                two.send_signal(signal.SIGKILL)  # instance two dies mid-run, no shutdown …
                assert await two.wait() == -signal.SIGKILL
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
        await classify_new()

        async def all_sent() -> bool:
            unsent = await db.fetchval("SELECT count(*) FROM notifications WHERE status <> 'sent'")
            return bool(unsent == 0)

        await eventually(all_sent, 150)  # a row claimed by the killed instance waits out its lease

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
        notifications = await db.fetch("SELECT id, phone FROM notifications")
        assert len(notifications) == CALLS  # one 'received' SMS for every ticket
        assert set(fake.accepted) == {str(r["id"]) for r in notifications}
        sms = Counter((m["to"], m["text"]) for m in fake.accepted.values())
        assert set(sms.values()) == {1}  # and no citizen has the same message twice
