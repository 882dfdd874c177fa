"""The database goes away (its connections cut, new ones refused) while calls come in: callers
still reach the queue, snapshots wait in the local spool, and every ticket is stored when the
database is back."""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from db.listen import CHANNEL as EVENTS_CHANNEL
from db.listen import listen
from db.pool import create_pool
from db.users import PostgresUserRepository
from hotline.app import RECORDER
from hotline.auth import AuthService
from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS
from tests.support.live import eventually, live_hotline
from tests.support.service import running_service, service_settings
from tests.support.tcpproxy import TcpProxy
from tickets.codes import HOTLINE_TZ
from tickets.model import Role


async def wait_for_tickets(db: asyncpg.Connection, count: int, seconds: float = 10.0) -> None:
    async with asyncio.timeout(seconds):
        while await db.fetchval("SELECT count(*) FROM calls") < count:
            await asyncio.sleep(0.05)


async def test_given_the_database_down_when_calls_arrive_then_they_reach_the_queue_and_their_tickets_are_stored_later(
    db_proxy: tuple[TcpProxy, str], db: asyncpg.Connection, tmp_path: Path
) -> None:
    proxy, url = db_proxy
    async with running_service(service_settings(url, tmp_path)) as service:
        proxy.cut()
        channels = [
            SimulatedChannel(script=CallerScript(keys=[k]), sounds_dir=SOUNDS)
            for k in ("1", "2", "3")
        ] + [SimulatedChannel(extension="115", sounds_dir=SOUNDS)]
        results = [
            await run_hotline_call(
                c,
                "127.0.0.1",
                service.agi_port,
                default_queue="emergency-115" if c.extension == "115" else "hotline-1022",
            )
            for c in channels
        ]

        assert [r.queue for r in results] == ["hotline-1022"] * 3 + ["emergency-115"]
        assert all("HOTLINE_TICKET" not in r.agi.variables for r in results)
        assert results[0].agi.variables["HOTLINE_CATEGORY"] == "admin_procedure"
        spooled = sorted((tmp_path / "spool").glob("*.json"))
        assert len(spooled) == 4
        assert await db.fetchval("SELECT count(*) FROM tickets") == 0
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{service.http_url}/healthz") as response:
                assert response.status == 503
                assert (await response.json())["database"] == "unavailable"

        proxy.restore()
        await wait_for_tickets(db, 4)

        rows = await db.fetch(
            "SELECT c.uniqueid, c.disposition, t.category, t.code FROM calls c"
            " JOIN tickets t ON t.id = c.ticket_id"
        )
        by_call = {r["uniqueid"]: r for r in rows}
        assert [by_call[c.uniqueid]["category"] for c in channels] == [
            "admin_procedure",
            "field_report",
            "information",
            "medical",
        ]
        assert all(r["disposition"] == "queued" for r in rows)
        assert len({r["code"] for r in rows}) == 4
        async with asyncio.timeout(5):
            while list((tmp_path / "spool").glob("*.json")):
                await asyncio.sleep(0.05)


async def test_given_the_database_fails_mid_call_when_it_returns_then_the_newest_snapshot_wins(
    db_proxy: tuple[TcpProxy, str], db: asyncpg.Connection, tmp_path: Path
) -> None:
    proxy, url = db_proxy
    async with running_service(service_settings(url, tmp_path)) as service:
        # the first snapshot is stored, then the database goes away during the call
        channel = SimulatedChannel(
            script=CallerScript(keys=["2"], hangup_on=("RECORD FILE", 1), key_delay=0.5),
            sounds_dir=SOUNDS,
        )
        call = asyncio.create_task(
            run_hotline_call(channel, "127.0.0.1", service.agi_port, default_queue="hotline-1022")
        )
        async with asyncio.timeout(5):
            while await db.fetchval("SELECT count(*) FROM calls") == 0:
                await asyncio.sleep(0.005)
        proxy.cut()
        await call
        spooled = json.loads(next((tmp_path / "spool").glob("*.json")).read_text())
        assert spooled["disposition"] == "abandoned_in_ivr"

        proxy.restore()
        async with asyncio.timeout(10):
            while await db.fetchval("SELECT disposition FROM calls") != "abandoned_in_ivr":
                await asyncio.sleep(0.05)

        row = await db.fetchrow("SELECT * FROM tickets")
        assert row is not None
        assert row["category"] == "field_report"
        assert (service.settings.recordings / row["description_recording"]).exists()
        events = await db.fetch("SELECT kind, call_seq FROM ticket_events ORDER BY call_seq")
        assert events[0]["kind"] == "call_started"
        assert events[-1]["kind"] == "caller_hung_up"
        assert [e["call_seq"] for e in events] == list(range(1, len(events) + 1))


async def test_given_a_lock_holding_up_one_calls_save_when_other_calls_arrive_then_only_that_call_is_spooled(
    database_url: str, db: asyncpg.Connection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ivr.recorder")
    settings = service_settings(database_url, tmp_path, db_timeout=0.3)
    year = datetime.now(HOTLINE_TZ).year
    await db.execute("INSERT INTO ticket_counters (line, year, last) VALUES ('115', $1, 0)", year)
    async with running_service(settings) as service:
        blocker = await asyncpg.connect(database_url)
        try:
            # another transaction holds 115's ticket numbering: every new 115 ticket waits
            await blocker.execute("BEGIN")
            await blocker.execute("SELECT * FROM ticket_counters WHERE line = '115' FOR UPDATE")
            slow = SimulatedChannel(extension="115", sounds_dir=SOUNDS)
            first = await run_hotline_call(
                slow, "127.0.0.1", service.agi_port, default_queue="emergency-115"
            )
            fine = SimulatedChannel(script=CallerScript(keys=["3"]), sounds_dir=SOUNDS)
            second = await run_hotline_call(
                fine, "127.0.0.1", service.agi_port, default_queue="hotline-1022"
            )
        finally:
            await blocker.execute("ROLLBACK")
            await blocker.close()

        assert first.queue == "emergency-115"
        assert "HOTLINE_TICKET" not in first.agi.variables
        # the caller waited for one save, not for each step: the rest of the call was spooled
        waited = [
            r
            for r in caplog.records
            if r.getMessage().startswith(f"saving call {slow.uniqueid} took over")
        ]
        spooled = [
            r for r in caplog.records if r.getMessage().startswith(f"call {slow.uniqueid} (version")
        ]
        assert len(waited) == 1
        assert len(spooled) >= 2
        assert second.agi.variables["HOTLINE_TICKET"].startswith("1022-")  # the DB was not "down"
        await wait_for_tickets(db, 2)

        async def replayed() -> bool:  # the held-up first save may commit before the replay
            disposition = await db.fetchval(
                "SELECT disposition FROM calls WHERE uniqueid = $1", slow.uniqueid
            )
            return bool(disposition == "queued")

        await eventually(replayed)
    rows = await db.fetch(
        "SELECT c.uniqueid, t.code, c.disposition FROM calls c JOIN tickets t ON t.id = c.ticket_id"
    )
    by_call = {r["uniqueid"]: r for r in rows}
    assert by_call[slow.uniqueid]["code"].startswith("115-")
    assert by_call[slow.uniqueid]["disposition"] == "queued"


async def test_given_the_ivr_snapshot_spooled_when_another_instance_made_the_ticket_from_the_queue_then_the_replay_merges_keeping_the_ivr_start_and_path(
    db_proxy: tuple[TcpProxy, str], database_url: str, db: asyncpg.Connection, tmp_path: Path
) -> None:
    """Two instances share the database (DESIGN, "Scale beyond one machine"): A serves the
    FastAGI call while its link to PostgreSQL is cut (every snapshot spooled), B watches the
    queues over AMI and makes the ticket from QueueCallerJoin; A's replay then merges."""
    proxy, url = db_proxy
    users = {"lan": Role.OPERATOR}
    async with live_hotline(database_url, tmp_path / "b", seed=3, users=users) as live:
        settings = service_settings(url, tmp_path / "a", spool_retry_interval=3600.0)
        async with running_service(settings) as ivr_instance:
            live.board.dialplan.agi_port = ivr_instance.agi_port
            proxy.cut()
            call = await live.board.place_call("1022", script=CallerScript(keys=["2"]))

            async def made_from_queue() -> bool:
                origin = await db.fetchval(
                    "SELECT origin FROM calls WHERE uniqueid = $1", call.uniqueid
                )
                return bool(origin == "queue")

            await eventually(made_from_queue)
            spooled = list((tmp_path / "a" / "spool").glob("*.json"))
            assert len(spooled) == 1
            proxy.restore()

            assert await ivr_instance.app[RECORDER].replay() == 1

    row = await db.fetchrow(
        "SELECT c.started_at, c.queue_joined_at, c.ivr_path, c.origin, c.disposition,"
        " t.created_at, t.category, t.id FROM calls c JOIN tickets t ON t.id = c.ticket_id"
        " WHERE c.uniqueid = $1",
        call.uniqueid,
    )
    assert row is not None
    assert row["started_at"] < row["queue_joined_at"]  # the IVR's start, not the queue's
    assert row["created_at"] == row["started_at"]
    assert (row["origin"], row["disposition"], row["category"]) == (
        "ivr",
        "queued",
        "field_report",
    )
    path = [s["step"] for s in json.loads(row["ivr_path"])]
    assert path[0] == "call_started"
    assert path[-1] == "to_queue"
    events = await db.fetch(
        "SELECT kind, call_seq FROM ticket_events WHERE ticket_id = $1 ORDER BY at, id",
        row["id"],
    )
    assert [e["kind"] for e in events if e["call_seq"] is not None] == path
    assert [e["kind"] for e in events if e["call_seq"] is None] == ["seen_in_queue"]
    assert await db.fetchval("SELECT count(*) FROM tickets") == 1


async def test_given_postgresql_frozen_when_healthz_is_asked_then_it_answers_503_within_2_seconds(
    db_proxy: tuple[TcpProxy, str], tmp_path: Path
) -> None:
    proxy, url = db_proxy
    async with running_service(service_settings(url, tmp_path)) as service:
        within = aiohttp.ClientTimeout(total=2.0)  # a request slower than that fails the test
        async with aiohttp.ClientSession(base_url=service.http_url, timeout=within) as http:
            async with http.get("/healthz") as response:
                assert response.status == 200
            proxy.freeze()  # connections stay open, nothing comes back: a hung server
            for _ in range(3):  # again and again, as a load balancer asks
                async with http.get("/healthz") as response:
                    assert response.status == 503
                    assert await response.json() == {
                        "status": "degraded",
                        "database": "unavailable",
                        "agi": "serving",
                    }
            proxy.thaw()

            async def healthy() -> bool:
                async with http.get("/healthz") as response:
                    return response.status == 200

            await eventually(healthy, seconds=40)


async def test_given_the_database_down_when_the_api_is_read_then_it_answers_503_with_an_error_id(
    db_proxy: tuple[TcpProxy, str], tmp_path: Path
) -> None:
    proxy, url = db_proxy
    async with running_service(service_settings(url, tmp_path)) as service:
        auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
        await auth.add_user("op1", "operator-password", Role.OPERATOR)
        token = (await auth.login("op1", "operator-password")).token
        headers = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession(base_url=service.http_url, headers=headers) as http:
            proxy.cut()
            for path in ("/api/v1/tickets?phone=0901234567", "/api/v1/tickets/1022-26-000001"):
                async with http.get(path) as response:
                    assert response.status == 503
                    assert response.headers["Retry-After"] == "5"
                    body = await response.json()
                    assert body["error_id"] == "database-unavailable"
                    assert set(body) == {"error_id", "message"}
            proxy.restore()

            async def answered() -> bool:
                async with http.get("/api/v1/tickets?phone=0901234567") as response:
                    return response.status == 200

            await eventually(answered)


async def test_given_the_listen_connection_lost_when_the_database_comes_back_then_events_arrive_again_and_the_log_says_why(
    db_proxy: tuple[TcpProxy, str], db: asyncpg.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """A restart of PostgreSQL (here: the proxy cuts every connection) must not end the consoles'
    live events: ``listen`` logs the loss once, reconnects and delivers what is NOTIFYed after."""
    caplog.set_level(logging.INFO, logger="db.listen")
    proxy, url = db_proxy
    received: list[dict[str, object]] = []
    pool = await create_pool(url, min_size=1, max_size=2)
    task = asyncio.create_task(listen(pool, received.append, retry_interval=0.1))
    try:

        async def delivered(n: int) -> bool:  # NOTIFY is not queued for a listener not yet there
            await db.execute(f"NOTIFY {EVENTS_CHANNEL}, '{{\"n\": {n}}}'")
            await asyncio.sleep(0.05)
            return {"n": n} in received

        await eventually(lambda: delivered(1))
        proxy.cut()
        await eventually(lambda: any("connection lost" in r.getMessage() for r in caplog.records))
        proxy.restore()
        await eventually(lambda: delivered(2))
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await pool.close()

    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings.count(f"LISTEN {EVENTS_CHANNEL}: connection lost; reconnecting") == 1
    # what the loss looked like before: the pool's own error about a released connection
    assert not [w for w in warnings if "released back to the pool" in w or "cannot call" in w]
