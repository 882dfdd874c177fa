"""Statistics, call-backs and tickets from Asterisk's queue_log, exactly once: two service
instances on one PostgreSQL, two emulated PBXs (system names ``pbx-a`` and ``pbx-b``) writing
their queue_log rows as res_config_pgsql does (main/logger.c ``ast_queue_log``), the rows'
meaning as app_queue writes them (apps/app_queue.c ``queue_exec``, ``try_calling``,
``handle_hangup``). AMI is for the live view only: an instance whose AMI link is down
records the same."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agents.stats import ServiceLevels
from db.queue_log import PostgresQueueLog
from hotline.keys import AGENTS, MENU, QUEUE_LOG
from switchboard import Clock, QueueLogConfig, Softphone, Switchboard
from switchboard.raw_client import RawAmi
from switchboard.testing import BACKEND_USER
from tests.conftest import SOUNDS
from tests.support.live import eventually
from tests.support.service import RunningService, running_service, service_settings
from tests.support.tcpproxy import TcpProxy
from tickets.staffing import queue_lines

SCALE = 20.0


def pbx(
    tmp_path: Path, name: str, database_url: str, seed: int, scale: float = SCALE
) -> Switchboard:
    return Switchboard(
        recordings_dir=tmp_path / name / "recordings",
        sounds_dir=SOUNDS,
        ami_users={"hotline": BACKEND_USER},
        clock=Clock(scale=scale),
        seed=seed,
        systemname=name,
        queue_log=QueueLogConfig(database_url=database_url, file=tmp_path / name / "queue_log"),
    )


@asynccontextmanager
async def instance(
    database_url: str, data_dir: Path, *, ami_port: int | None
) -> AsyncIterator[RunningService]:
    extra: dict[str, Any] = {}
    if ami_port is not None:
        extra = {
            "ami_url": f"ami://hotline:secret@127.0.0.1:{ami_port}",
            "ami_ping_interval": 0.5,
            "ami_action_timeout": 3.0,
        }
    async with running_service(service_settings(database_url, data_dir, **extra)) as service:
        if ami_port is not None:
            await eventually(lambda: service.app[AGENTS].connected)
        yield service


async def settled(boards: list[Switchboard], services: list[RunningService]) -> None:
    """Every row the PBXs wrote is in the table, and no instance has any left to apply."""
    for board in boards:
        await board.queue_log.flushed()

    async def nothing_behind() -> bool:
        return all([await s.app[QUEUE_LOG].rows_behind() == 0 for s in services])

    await eventually(nothing_behind, 20)


QUEUE_TOTALS = (
    "SELECT queue, sum(received)::int AS received, sum(answered)::int AS answered,"
    " sum(abandoned)::int AS abandoned, sum(completed)::int AS completed"
    " FROM queue_intervals GROUP BY queue ORDER BY queue"
)


async def derived(db: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    tables = {
        "queue_intervals": "SELECT * FROM queue_intervals ORDER BY queue, interval_start",
        "operator_intervals": "SELECT * FROM operator_intervals ORDER BY interface, interval_start",
        "queue_calls": "SELECT * FROM queue_calls ORDER BY callid, queue",
        "callbacks": "SELECT call_uniqueid, queue, line, phone, caller_raw, hold_seconds,"
        " abandoned_at, status FROM callbacks ORDER BY call_uniqueid",
        "calls": "SELECT uniqueid, queue_joined_at, answered_at, abandoned_at,"
        " queue_wait_seconds, answered_by FROM calls ORDER BY uniqueid",
    }
    return {name: [tuple(r) for r in await db.fetch(sql)] for name, sql in tables.items()}


async def test_given_two_instances_and_two_pbxs_when_calls_are_answered_and_abandoned_then_each_counts_once(
    tmp_path: Path, database_url: str, db: asyncpg.Connection
) -> None:
    """The issue's run: before, each instance persisted what it heard on AMI (2 answered and
    2 abandoned for one of each); now the queue_log is applied once, whoever applies it."""
    a, b = pbx(tmp_path, "pbx-a", database_url, 1), pbx(tmp_path, "pbx-b", database_url, 2)
    async with AsyncExitStack() as stack:
        for board in (a, b):
            await board.start()
            stack.push_async_callback(board.stop)
        one = await stack.enter_async_context(
            instance(database_url, tmp_path / "one", ami_port=a.ami_port)
        )
        two = await stack.enter_async_context(
            instance(database_url, tmp_path / "two", ami_port=a.ami_port)
        )
        a.dialplan.agi_port, b.dialplan.agi_port = one.agi_port, two.agi_port
        for board in (a, b):
            board.add_softphone(Softphone("op101", ring_delay=2.0, talk_time=10.0))
            board.app_queue.add_member("hotline-1022", "PJSIP/op101")

        answered = await (await a.place_call("1022", "0901234567")).wait()
        # op101 is in its 15 s wrap-up: this caller gives up after 5 s
        abandoned = await (await a.place_call("1022", "0912000111", patience=5.0)).wait()
        other = await (await b.place_call("1022", "0988000222")).wait()
        await settled([a, b], [one, two])

        assert answered.answered_by == other.answered_by == "PJSIP/op101"
        assert abandoned.abandoned
        assert {answered.uniqueid[:6], other.uniqueid[:6]} == {"pbx-a-", "pbx-b-"}
        totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
        assert totals == [("hotline-1022", 3, 2, 1, 2)]
        callbacks = await db.fetch("SELECT call_uniqueid, phone, hold_seconds FROM callbacks")
        assert [tuple(r) for r in callbacks] == [(abandoned.uniqueid, "+84912000111", 5)]
        operator = await db.fetchrow(
            "SELECT sum(answered)::int, sum(completed)::int FROM operator_intervals"
            " WHERE interface = 'PJSIP/op101'"
        )
        assert operator is not None
        assert tuple(operator) == (2, 2)
        calls = await db.fetch(
            "SELECT uniqueid, answered_by, abandoned_at IS NOT NULL FROM calls ORDER BY uniqueid"
        )
        assert sorted(tuple(r) for r in calls) == sorted(
            [
                (answered.uniqueid, "PJSIP/op101", False),
                (abandoned.uniqueid, None, True),
                (other.uniqueid, "PJSIP/op101", False),
            ]
        )
        applied = one.app[QUEUE_LOG].applied + two.app[QUEUE_LOG].applied
        written = len(a.queue_log.entries) + len(b.queue_log.entries)
        assert applied == written  # each row applied by exactly one instance

        # rebuilt from nothing, the same tables
        before = await derived(db)
        await rebuilder(one).rebuild()
        assert (await db.fetch(QUEUE_TOTALS)) == []
        assert await one.app[QUEUE_LOG].rows_behind() == written
        await one.app[QUEUE_LOG].apply_pending()
        assert await derived(db) == before


def rebuilder(service: RunningService) -> PostgresQueueLog:
    settings = service.settings
    return PostgresQueueLog(
        service.pool,
        levels=ServiceLevels(settings.service_level_1, settings.service_level_2),
        queue_lines=queue_lines(service.app[MENU].lines),
    )


async def test_given_a_batch_that_fails_midway_when_applied_again_then_nothing_is_doubled_or_skipped(
    tmp_path: Path, database_url: str, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """Writing the abandoned call's outcome fails twice (a trigger standing for a full disk or
    a killed connection): the rest of the batch rolls back with it, the cursor stays, and the
    retries apply each row once; a replay afterwards finds nothing."""
    board = pbx(tmp_path, "pbx-a", database_url, 3)
    board.dialplan.agi_port = 1  # no backend: the fallback queues callers
    await board.start()
    try:
        board.add_softphone(Softphone("op101", ring_delay=2.0, talk_time=10.0))
        board.app_queue.add_member("hotline-1022", "PJSIP/op101")
        answered = await (await board.place_call("1022", "0901234567")).wait()
        abandoned = await (await board.place_call("1022", "0912000111", patience=5.0)).wait()
        await board.queue_log.flushed()
    finally:
        await board.stop()
    await db.execute(
        "CREATE SEQUENCE failures;"
        " CREATE FUNCTION fail_twice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        "  IF NEW.outcome = 'abandoned' AND nextval('failures') <= 2 THEN"
        "   RAISE EXCEPTION 'could not extend file (test)'; END IF; RETURN NEW; END $$;"
        " CREATE TRIGGER fail_twice BEFORE INSERT OR UPDATE ON queue_calls"
        "  FOR EACH ROW EXECUTE FUNCTION fail_twice();"
    )
    store = PostgresQueueLog(pool, levels=ServiceLevels(), queue_lines={})
    rows = len(board.queue_log.entries)
    for _ in range(2):
        with pytest.raises(asyncpg.RaiseError, match="could not extend file"):
            await store.apply(100)
        assert await store.rows_behind() == rows
        assert await db.fetchval("SELECT count(*) FROM queue_intervals") == 0
        assert await db.fetchval("SELECT count(*) FROM queue_calls") == 0

    assert await store.apply(100) == rows
    assert await store.apply(100) == 0
    totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
    assert totals == [("hotline-1022", 2, 1, 1, 1)]
    assert await db.fetchval("SELECT count(*) FROM callbacks") == 1
    made = await db.fetch("SELECT c.uniqueid FROM calls c JOIN tickets t ON t.id = c.ticket_id")
    assert sorted(r[0] for r in made) == sorted([answered.uniqueid, abandoned.uniqueid])


async def test_given_the_database_failing_when_the_service_applies_then_it_tries_again_and_loses_nothing(
    tmp_path: Path, database_url: str, db: asyncpg.Connection
) -> None:
    await db.execute(
        "CREATE SEQUENCE failures;"
        " CREATE FUNCTION fail_twice() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
        "  IF nextval('failures') <= 2 THEN RAISE EXCEPTION 'deadlock (test)'; END IF;"
        "  RETURN NEW; END $$;"
        " CREATE TRIGGER fail_twice BEFORE INSERT ON queue_calls"
        "  FOR EACH ROW EXECUTE FUNCTION fail_twice();"
    )
    board = pbx(tmp_path, "pbx-a", database_url, 4)
    await board.start()
    try:
        async with instance(database_url, tmp_path / "one", ami_port=None) as one:
            board.dialplan.agi_port = one.agi_port
            abandoned = await (await board.place_call("115", "0912000111", patience=4.0)).wait()
            await settled([board], [one])
            assert one.app[QUEUE_LOG].failures == 2
    finally:
        await board.stop()

    assert abandoned.abandoned
    totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
    assert totals == [("emergency-115", 1, 0, 1, 0)]
    callback = await db.fetchrow("SELECT call_uniqueid, line FROM callbacks")
    assert callback is not None
    assert tuple(callback) == (abandoned.uniqueid, "115")


async def test_given_the_ami_link_down_the_whole_time_when_calls_end_then_outcomes_and_tickets_are_recorded(
    tmp_path: Path, database_url: str, db: asyncpg.Connection
) -> None:
    """Nothing listens where the instance looks for AMI; the IVR is unreachable too (the
    fallback queues the caller): the queue_log alone records the calls and makes the ticket."""
    board = pbx(tmp_path, "pbx-a", database_url, 5)
    await board.start()
    try:
        async with running_service(
            service_settings(
                database_url,
                tmp_path / "one",
                ami_url="ami://hotline:secret@127.0.0.1:1",
                ami_ping_interval=0.5,
                ami_action_timeout=1.0,
            )
        ) as one:
            board.dialplan.agi_port = 1
            board.add_softphone(Softphone("op101", ring_delay=2.0, talk_time=10.0))
            board.app_queue.add_member("emergency-115", "PJSIP/op101")
            answered = await (await board.place_call("115", "0901234567")).wait()
            await settled([board], [one])
            assert not one.app[AGENTS].connected
    finally:
        await board.stop()

    assert answered.fallback
    totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
    assert totals == [("emergency-115", 1, 1, 0, 1)]
    ticket = await db.fetchrow(
        "SELECT t.line, t.category, c.disposition, c.answered_by FROM calls c"
        " JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
        answered.uniqueid,
    )
    assert ticket is not None
    assert dict(ticket) == {
        "line": "115",
        "category": "medical",
        "disposition": "fallback",
        "answered_by": "PJSIP/op101",
    }


async def test_given_a_caller_whose_queue_times_out_when_queued_again_and_answered_then_one_offered_call_never_abandoned(
    tmp_path: Path, database_url: str, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """extensions.conf puts a caller whose Queue() timed out (EXITWITHTIMEOUT) back in."""
    board = pbx(tmp_path, "pbx-a", database_url, 6, scale=400.0)
    board.dialplan.agi_port = 1
    await board.start()
    try:
        call = await board.place_call("115", "0912345678")
        await eventually(
            lambda: (
                [e.event for e in board.queue_log.of_call(call.uniqueid)][-1:] == ["ENTERQUEUE"]
                and len(board.queue_log.of_call(call.uniqueid)) == 3
            ),
            20,
        )
        board.add_softphone(Softphone("op101", ring_delay=2.0, talk_time=10.0))
        board.app_queue.add_member("emergency-115", "PJSIP/op101")
        outcome = await call.wait()
        await board.queue_log.flushed()
    finally:
        await board.stop()
    store = PostgresQueueLog(pool, levels=ServiceLevels(), queue_lines={})
    await store.apply(100)

    assert outcome.answered_by == "PJSIP/op101"
    events = [e.event for e in board.queue_log.of_call(call.uniqueid)]
    assert events[:3] == ["ENTERQUEUE", "EXITWITHTIMEOUT", "ENTERQUEUE"]
    totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
    assert totals == [("emergency-115", 1, 1, 0, 1)]
    assert await db.fetchval("SELECT count(*) FROM callbacks") == 0
    row = await db.fetchrow("SELECT entries, outcome FROM queue_calls")
    assert row is not None
    assert tuple(row) == (2, "completed")


async def test_given_the_pbx_cut_from_postgresql_when_both_instances_read_its_file_then_the_lost_rows_are_recovered_once(
    tmp_path: Path,
    database_url: str,
    db: asyncpg.Connection,
    db_proxy: tuple[TcpProxy, str],
) -> None:
    """The PBX reaches PostgreSQL through a link that is cut during the second call: its
    realtime inserts fail and are not retried (main/logger.c ``ast_queue_log``); the file has
    them. Both instances read the file; each row is inserted once and applied once."""
    proxy, through_proxy = db_proxy
    board = pbx(tmp_path, "pbx-a", through_proxy, 7)
    qlog = tmp_path / "pbx-a" / "queue_log"
    files = {"queue_log_files": str(qlog), "queue_log_recover_interval": 0.2}
    await board.start()
    try:
        async with (
            running_service(service_settings(database_url, tmp_path / "one", **files)) as one,
            running_service(service_settings(database_url, tmp_path / "two", **files)) as two,
        ):
            board.dialplan.agi_port = one.agi_port
            board.add_softphone(Softphone("op101", ring_delay=2.0, talk_time=10.0))
            board.app_queue.add_member("hotline-1022", "PJSIP/op101")
            answered = await (await board.place_call("1022", "0901234567")).wait()
            await board.queue_log.flushed()
            proxy.cut()
            abandoned = await (await board.place_call("1022", "0912000111", patience=5.0)).wait()
            await board.queue_log.flushed()
            proxy.restore()

            async def all_in() -> bool:
                stored = await db.fetchval("SELECT count(*) FROM queue_log")
                return bool(stored == len(board.queue_log.entries))

            await eventually(all_in, 20)
            await settled([board], [one, two])
            recovered = one.app[QUEUE_LOG].recovered + two.app[QUEUE_LOG].recovered
            readings = [s.app[QUEUE_LOG].readings for s in (one, two)]
            await eventually(  # both read the file twice more: nothing more to insert
                lambda: all(
                    s.app[QUEUE_LOG].readings >= n + 2
                    for s, n in zip((one, two), readings, strict=True)
                )
            )
    finally:
        await board.stop()

    assert [(e.callid, e.event) for e in board.queue_log.lost] == [
        (abandoned.uniqueid, "ENTERQUEUE"),
        (abandoned.uniqueid, "ABANDON"),
    ]
    assert recovered == 2
    assert await db.fetchval("SELECT count(*) FROM queue_log") == len(board.queue_log.entries)
    totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
    assert totals == [("hotline-1022", 2, 1, 1, 1)]
    callbacks = await db.fetch("SELECT call_uniqueid FROM callbacks")
    assert [r[0] for r in callbacks] == [abandoned.uniqueid]
    assert answered.answered_by == "PJSIP/op101"


async def test_given_a_waiting_caller_moved_to_the_other_line_when_answered_there_then_no_abandon_and_no_call_back(
    tmp_path: Path, database_url: str, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """The console's transfer of a waiting caller is an AMI Redirect to hotline-transfer: it
    ends queue_exec unhandled (``ABANDON`` in queue_log, apps/app_queue.c ``queue_exec``), then
    the caller enters the 115 queue (``ENTERQUEUE``) and is answered there."""
    board = pbx(tmp_path, "pbx-a", database_url, 8)
    board.dialplan.agi_port = 1
    await board.start()
    try:
        call = await board.place_call("1022", "0912345678")
        while not board.truth().queues["hotline-1022"].callers:
            await asyncio.sleep(0.01)
        await transfer_to_115(board, call.channel, talk_time=10.0)
        outcome = await call.wait()
        await board.queue_log.flushed()
    finally:
        await board.stop()
    store = PostgresQueueLog(pool, levels=ServiceLevels(), queue_lines={})
    await store.apply(100)

    assert outcome.answered_by == "PJSIP/op115"
    steps = [(e.queuename, e.event) for e in board.queue_log.of_call(call.uniqueid)]
    assert steps[:3] == [
        ("hotline-1022", "ENTERQUEUE"),
        ("hotline-1022", "ABANDON"),
        ("emergency-115", "ENTERQUEUE"),
    ]
    totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
    assert totals == [("emergency-115", 1, 1, 0, 1), ("hotline-1022", 1, 0, 0, 0)]
    assert await db.fetchval("SELECT count(*) FROM callbacks") == 0
    outcomes = await db.fetch("SELECT queue, outcome FROM queue_calls ORDER BY queue")
    assert [tuple(r) for r in outcomes] == [
        ("emergency-115", "completed"),
        ("hotline-1022", "moved"),
    ]


async def test_given_a_talking_caller_moved_to_the_other_line_when_applied_then_the_first_operators_talk_ends_at_the_transfer(
    tmp_path: Path, database_url: str, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """The console's transfer of a caller talking to an operator: an AMI Redirect, whose soft
    hang-up publishes no hang-up request (main/pbx.c ast_async_goto), so app_queue logs
    nothing then; the first operator's COMPLETECALLER comes when the whole call ends, with a
    talk time covering the wait in 115 and the second conversation (apps/app_queue.c
    handle_hangup). The first conversation ends when the caller enters 115; that late row
    counts nothing more."""
    board = pbx(tmp_path, "pbx-a", database_url, 9)
    board.dialplan.agi_port = 1
    await board.start()
    try:
        board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
        board.app_queue.add_member("hotline-1022", "PJSIP/op101")
        call = await board.place_call("1022", "0912345678")
        while not any(c.bridge for c in board.channels if c.name == call.channel):
            await asyncio.sleep(0.01)
        await transfer_to_115(board, call.channel, talk_time=30.0)
        outcome = await call.wait()
        await board.queue_log.flushed()
    finally:
        await board.stop()
    store = PostgresQueueLog(pool, levels=ServiceLevels(), queue_lines={})
    await store.apply(100)

    assert outcome.answered_by == "PJSIP/op115"
    steps = [(e.queuename, e.event) for e in board.queue_log.of_call(call.uniqueid)]
    assert steps[:4] == [
        ("hotline-1022", "ENTERQUEUE"),
        ("hotline-1022", "CONNECT"),
        ("emergency-115", "ENTERQUEUE"),
        ("emergency-115", "CONNECT"),
    ]
    assert sorted(steps[4:]) == [
        ("emergency-115", "COMPLETECALLER"),
        ("hotline-1022", "COMPLETECALLER"),
    ]
    (late,) = [
        e
        for e in board.queue_log.of_call(call.uniqueid)
        if (e.queuename, e.event) == ("hotline-1022", "COMPLETECALLER")
    ]
    rows = await db.fetch(
        "SELECT queue, outcome, ended_by, talk_seconds FROM queue_calls ORDER BY queue"
    )
    second, first = (tuple(r) for r in rows)
    assert first[:3] == ("hotline-1022", "completed", "transfer")
    assert second[:3] == ("emergency-115", "completed", "caller")
    assert first[3] < int(late.fields[1])  # not the late row's talk time (the whole call)
    totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
    assert totals == [("emergency-115", 1, 1, 0, 1), ("hotline-1022", 1, 1, 0, 1)]
    talk = {
        r["interface"]: r["talk"]
        for r in await db.fetch(
            "SELECT interface, sum(talk_seconds_sum)::int AS talk FROM operator_intervals"
            " GROUP BY interface"
        )
    }
    assert talk == {"PJSIP/op101": first[3], "PJSIP/op115": second[3]}


async def test_given_a_calls_enterqueue_recovered_after_its_later_rows_when_applied_then_the_call_keeps_its_outcome(
    database_url: str, db: asyncpg.Connection, pool: asyncpg.Pool
) -> None:
    """PostgreSQL was away when the caller entered: CONNECT and COMPLETECALLER were stored and
    applied first, ENTERQUEUE came back later from the file."""
    insert = (
        "INSERT INTO queue_log (time, callid, queuename, agent, event, data1, data2, data3)"
        " VALUES ($1::text::timestamp, 'pbx-a-9.1', 'hotline-1022', $2, $3, $4, $5, $6)"
    )
    store = PostgresQueueLog(pool, levels=ServiceLevels(), queue_lines={})
    await db.execute(
        insert, "2026-12-06 08:00:12", "PJSIP/op101", "CONNECT", "12", "pbx-a-9.2", "2"
    )
    await db.execute(
        insert, "2026-12-06 08:01:40", "PJSIP/op101", "COMPLETECALLER", "12", "88", "1"
    )
    assert await store.apply(100) == 2
    await db.execute(insert, "2026-12-06 08:00:00", "NONE", "ENTERQUEUE", "", "0901234567", "1")
    assert await store.apply(100) == 1

    totals = [tuple(r) for r in await db.fetch(QUEUE_TOTALS)]
    assert totals == [("hotline-1022", 1, 1, 0, 1)]
    call = await db.fetchrow("SELECT outcome, caller, entered_at FROM queue_calls")
    assert call is not None
    assert (call["outcome"], call["caller"]) == ("completed", "0901234567")
    assert call["entered_at"].isoformat() == "2026-12-06T08:00:00+00:00"


async def transfer_to_115(board: Switchboard, channel: str, *, talk_time: float) -> None:
    """The console's transfer as Asterisk gets it: a dispatcher (op115) is on the 115 queue and
    an AMI Redirect sends ``channel`` to ``hotline-transfer,115,1``."""
    ami = await RawAmi.connect("127.0.0.1", board.ami_port)
    try:
        await ami.login("hotline", "secret")
        board.add_softphone(Softphone("op115", ring_delay=2.0, talk_time=talk_time))
        board.app_queue.add_member("emergency-115", "PJSIP/op115")
        reply = await ami.action(
            "Redirect",
            ("Channel", channel),
            ("Context", "hotline-transfer"),
            ("Exten", "115"),
            ("Priority", "1"),
        )
        assert reply["Response"] == "Success"
    finally:
        await ami.close()
