"""``GET /metrics``: Prometheus scrapes the real service while the switchboard emulator places
calls (FastAGI and AMI over TCP), and the figures move; who may read them.

The emulator's queues follow apps/app_queue.c (Asterisk 20): ``join_queue()`` publishes
QueueCallerJoin as the caller enters, ``record_abandoned()`` QueueCallerAbandon when the caller
hangs up while waiting; the live model's waiting callers and operators (``agents/model.py``)
come from those events, and /metrics reads that model."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from db.users import PostgresUserRepository
from hotline.app import build_app
from hotline.auth import AuthService
from hotline.keys import METRICS
from switchboard import CallerScript, Softphone
from tests.support.live import Live, eventually, live_hotline
from tests.support.service import RunningService, running_service, service_settings
from tickets.model import Role

Labels = tuple[tuple[str, str], ...]
Scrape = dict[tuple[str, Labels], float]


def parse(text: str) -> Scrape:
    """Every sample of a scrape: (name, sorted labels) → value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(scrape: Scrape, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


async def scrape(http: aiohttp.ClientSession, headers: Mapping[str, str] | None = None) -> Scrape:
    async with http.get("/metrics", headers=headers or {}) as reply:
        assert reply.status == 200, await reply.text()
        assert reply.headers["Content-Type"].startswith("text/plain; version=")
        return parse(await reply.text())


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    users = {"lan": Role.OPERATOR, "sup": Role.SUPERVISOR}
    async with live_hotline(database_url, tmp_path, seed=19, users=users) as state:
        yield state


async def test_given_simulated_calls_when_prometheus_scrapes_during_them_then_the_figures_move(
    live: Live,
) -> None:
    http = live.http
    before = await scrape(http)
    assert value(before, "hotline_ami_up", pbx=f"127.0.0.1:{live.board.ami_port}") == 1
    assert value(before, "hotline_database_up") == 1
    assert value(before, "hotline_db_pool_size") >= 1
    assert value(before, "hotline_recordings_free_bytes") > 0
    assert value(before, "hotline_outbox_pending", channel="sms") == 0
    assert value(before, "hotline_transcription_jobs", state="pending") == 0
    assert value(before, "hotline_queue_log_rows_behind") == 0
    assert value(before, "hotline_spool_files") == 0
    assert value(before, "hotline_websocket_clients") == 0
    # every line's outcomes are there from 0, so that increase() counts a line's first call
    queued_115 = ("hotline_calls_total", (("line", "115"), ("outcome", "queued")))
    assert before[queued_115] == 0

    # A caller who takes his time at the menu is in the IVR while Prometheus looks.
    slow = await live.board.place_call(
        "1022", "0911000001", script=CallerScript(keys=["2"], key_delay=3600.0)
    )

    async def in_ivr() -> bool:
        return value(await scrape(http), "hotline_ivr_calls", line="1022") == 1

    await eventually(in_ivr)
    slow.hangup()
    await slow.wait()

    # One caller answered by an operator on 1022; one who waits on 115 with nobody free.
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=20.0))
    await live.login("lan", "op101")
    answered = await live.board.place_call("1022", "0911000002", script=CallerScript(keys=["3"]))
    assert (await answered.wait()).answered_by == "PJSIP/op101"
    await live.post("lan", "/api/v1/operators/me/pause", {"reason": "Họp giao ban"})
    waiting = await live.board.place_call("115", "0911000003", patience=3600.0)

    async def caller_waits_with_nobody_free() -> bool:
        now = await scrape(http)
        labels = {"queue": "emergency-115", "line": "115"}
        return (
            value(now, "hotline_queue_waiting", **labels) == 1
            and value(now, "hotline_queue_longest_wait_seconds", **labels) >= 1
            and value(now, "hotline_queue_operators_available", **labels) == 0
            and value(now, "hotline_queue_operators_logged_in", **labels) == 1
        )

    await eventually(caller_waits_with_nobody_free, seconds=20)
    async with http.ws_connect(f"/api/v1/events?topics=queues&token={live.tokens['sup']}"):
        during = await scrape(http)
        assert value(during, "hotline_websocket_clients") == 1
    waiting.hangup()
    await waiting.wait()

    after = await scrape(http)
    print(
        "\n".join(
            f"{name}{dict(labels) or ''} {before.get((name, labels), 0.0)} -> {number}"
            for (name, labels), number in sorted(after.items())
            if name.startswith("hotline_") and not name.endswith("_bucket")
        )
    )

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("hotline_calls_total", line="1022", outcome="abandoned_in_ivr") == 1
    assert grew("hotline_calls_total", line="1022", outcome="queued") == 1
    assert grew("hotline_calls_total", line="115", outcome="queued") == 1
    assert value(after, "hotline_ivr_calls", line="1022") == 0
    assert value(after, "hotline_ivr_calls", line="115") == 0
    assert grew("hotline_agi_turn_seconds_count") >= 10
    assert grew("hotline_agi_turn_seconds_sum") > 0
    assert grew("hotline_save_batch_size_sum") >= 6  # at least two snapshots a call
    assert grew("hotline_save_batch_size_count") >= 1
    assert grew("hotline_save_seconds_count") == grew("hotline_save_batch_size_count")
    assert grew("hotline_ami_events_total", pbx=f"127.0.0.1:{live.board.ami_port}") > 10
    assert value(after, "hotline_queue_waiting", queue="emergency-115", line="115") == 0
    assert value(after, "hotline_websocket_clients") == 0
    assert value(after, "process_resident_memory_bytes") > 0


async def test_given_the_link_to_asterisk_drops_when_scraped_then_ami_up_is_0_until_it_is_back(
    live: Live,
) -> None:
    pbx = f"127.0.0.1:{live.board.ami_port}"

    async def up(expected: float) -> bool:
        return value(await scrape(live.http), "hotline_ami_up", pbx=pbx) == expected

    assert await up(1)
    live.board.freeze_ami()  # Asterisk stops answering: the watchdog's Pings go unanswered
    await eventually(lambda: up(0))
    live.board.thaw_ami()
    await eventually(lambda: up(1))


@pytest.fixture
async def behind_proxy(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    """Requests come through a proxy on loopback that names the client in X-Forwarded-For."""
    settings = service_settings(database_url, tmp_path, trusted_proxies="127.0.0.1")
    async with running_service(settings) as service:
        yield service


async def test_given_a_client_outside_the_allowed_networks_when_it_scrapes_then_only_a_manager_login_opens_it(
    behind_proxy: RunningService,
) -> None:
    auth = AuthService(PostgresUserRepository(behind_proxy.pool), token_ttl=timedelta(hours=1))
    for name, role in (("m_op", Role.OPERATOR), ("m_sup", Role.SUPERVISOR)):
        await auth.add_user(name, "metrics-password", role)
    tokens = {}
    for name in ("m_op", "m_sup"):
        token = (await auth.login(name, "metrics-password")).token
        assert token is not None
        tokens[name] = token
    outside = {"X-Forwarded-For": "203.0.113.7"}
    async with aiohttp.ClientSession(base_url=behind_proxy.http_url) as http:
        async with http.get("/metrics") as reply:
            assert reply.status == 200  # loopback itself: the default HOTLINE_METRICS_ALLOW
        async with http.get("/metrics", headers=outside) as reply:
            assert reply.status == 403
            assert (await reply.json())["error_id"] == "metrics-forbidden"
        as_operator = outside | {"Authorization": f"Bearer {tokens['m_op']}"}
        async with http.get("/metrics", headers=as_operator) as reply:
            assert reply.status == 403
        as_supervisor = outside | {"Authorization": f"Bearer {tokens['m_sup']}"}
        assert value(await scrape(http, as_supervisor), "hotline_database_up") == 1


def test_given_two_apps_in_one_process_when_built_then_each_counts_its_own_figures(
    database_url: str, tmp_path: Path
) -> None:
    one = build_app(service_settings(database_url, tmp_path / "one"))
    two = build_app(service_settings(database_url, tmp_path / "two"))
    one[METRICS].calls.labels("1022", "queued").inc()
    queued = {"line": "1022", "outcome": "queued"}
    assert one[METRICS].registry.get_sample_value("hotline_calls_total", queued) == 1
    assert two[METRICS].registry.get_sample_value("hotline_calls_total", queued) is None


async def test_given_queue_log_rows_the_applier_cannot_take_yet_when_scraped_then_they_are_counted_until_applied(
    behind_proxy: RunningService, db: asyncpg.Connection, database_url: str
) -> None:
    """Another instance holds the cursor (db/queue_log.py locks it FOR UPDATE per batch)."""
    insert = (
        "INSERT INTO queue_log (time, callid, queuename, agent, event, data1, data2, data3)"
        " VALUES (now()::timestamp, $1, 'hotline-1022', 'NONE', 'ENTERQUEUE', '', $2, '1')"
    )
    async with aiohttp.ClientSession(base_url=behind_proxy.http_url) as http:
        holder = await asyncpg.connect(database_url)
        try:
            async with holder.transaction():
                await holder.execute("SELECT 1 FROM queue_log_cursor WHERE id = 1 FOR UPDATE")
                for n in range(3):
                    await db.execute(insert, f"pbx-a-1.{n}", f"090100000{n}")
                now = await scrape(http)
                assert value(now, "hotline_queue_log_rows_behind") == 3
        finally:
            await holder.close()

        async def applied() -> bool:
            return value(await scrape(http), "hotline_queue_log_rows_behind") == 0

        await eventually(applied)
