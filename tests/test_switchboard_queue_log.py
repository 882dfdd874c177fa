"""The emulator's queue_log, as Asterisk 20 writes it: the ``ast_queue_log`` calls of
apps/app_queue.c (``queue_exec``, ``try_calling``, ``rna``, ``handle_hangup``,
``set_queue_member_pause``/``set_member_paused``, ``manager_add_queue_member``/
``manager_remove_queue_member``) stored the way main/logger.c ``ast_queue_log`` stores them —
a realtime insert into the ``queue_log`` table (data1…data5, never retried) and a line in the
file — and uniqueids prefixed with ``systemname`` (main/channel_internal_api.c
``__ast_channel_internal_alloc``), with a ``SystemName:`` header on AMI events (main/manager.c
``__manager_event_sessions_va``). The FastAGI target is unreachable (the fallback queues the
caller)."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path

import asyncpg

from switchboard import Clock, Softphone, Switchboard
from switchboard.queue_log import QueueLogConfig
from switchboard.raw_client import RawAmi
from switchboard.testing import BACKEND_USER, EVERYTHING_USER
from tests.support.tcpproxy import TcpProxy

SOUNDS = Path(__file__).resolve().parent.parent / "asterisk_conf" / "sounds"


def make_board(tmp_path: Path, *, scale: float = 50.0, **kw: object) -> Switchboard:
    return Switchboard(
        agi_port=1,
        recordings_dir=tmp_path / "rec",
        sounds_dir=SOUNDS,
        ami_users={"hotline": BACKEND_USER, "admin": EVERYTHING_USER},
        clock=Clock(scale=scale),
        seed=13,
        **kw,  # type: ignore[arg-type]
    )


async def table_rows(database_url: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        return await conn.fetch(
            "SELECT time, callid, queuename, agent, event, data1, data2, data3, data4, data5"
            " FROM queue_log ORDER BY id"
        )
    finally:
        await conn.close()


def file_lines(path: Path) -> list[list[str]]:
    return [line.split("|") for line in path.read_text(encoding="utf-8").splitlines()]


async def test_given_an_answered_and_an_abandoned_call_when_the_pbx_logs_them_then_table_and_file_hold_asterisks_rows(
    tmp_path: Path, database_url: str
) -> None:
    qlog = tmp_path / "log" / "queue_log"
    board = make_board(
        tmp_path,
        systemname="pbx-a",
        queue_log=QueueLogConfig(database_url=database_url, file=qlog),
    )
    await board.start()
    ami = await RawAmi.connect("127.0.0.1", board.ami_port)
    try:
        await ami.login("admin", "secret")
        board.add_softphone(Softphone("op101", ring_delay=2.0, talk_time=10.0))
        reply = await ami.action(
            "QueueAdd", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101")
        )
        assert reply["Response"] == "Success"
        answered = await (await board.place_call("1022", "0901234567")).wait()
        # op101 is in its 15 s wrap-up: the next caller waits and gives up after 5 s
        abandoned = await (await board.place_call("1022", "0912000111", patience=5.0)).wait()
        await board.queue_log.flushed()
        joined = await ami.next_event("QueueCallerJoin")
    finally:
        await ami.close()
        await board.stop()

    assert answered.answered_by == "PJSIP/op101"
    assert abandoned.abandoned
    assert answered.uniqueid.startswith("pbx-a-")
    assert abandoned.uniqueid.startswith("pbx-a-")
    assert joined["SystemName"] == "pbx-a"
    assert joined.keys()[:3] == ["Event", "Privilege", "SystemName"]

    rows = await table_rows(database_url)
    steps = [(r["callid"], r["queuename"], r["agent"], r["event"]) for r in rows]
    one, two = answered.uniqueid, abandoned.uniqueid
    complete = "COMPLETEAGENT" if answered.hung_up_by == "operator" else "COMPLETECALLER"
    assert steps == [
        ("MANAGER", "hotline-1022", "PJSIP/op101", "ADDMEMBER"),
        (one, "hotline-1022", "NONE", "ENTERQUEUE"),
        (one, "hotline-1022", "PJSIP/op101", "CONNECT"),
        (one, "hotline-1022", "PJSIP/op101", complete),
        (two, "hotline-1022", "NONE", "ENTERQUEUE"),
        (two, "hotline-1022", "NONE", "ABANDON"),
    ]
    data = [(r["data1"], r["data2"], r["data3"], r["data4"], r["data5"]) for r in rows]
    assert data[0] == ("", "", "", "", "")
    assert data[1] == ("", "0901234567", "1", "", "")  # url | caller id number | position
    hold, peer, ring = data[2][:3]
    assert peer.startswith("pbx-a-")
    assert peer != one
    assert int(hold) == int(ring) == 2  # the phone rang 2 s, nobody else waited
    assert data[3][0] == hold
    assert data[3][2] == "1"
    assert int(data[3][1]) in (9, 10)
    assert data[5] == ("1", "1", "5", "", "")  # position | original position | waited

    # the file has the same entries, epoch seconds first; the table's time is UTC
    lines = file_lines(qlog)
    assert [line[1:5] for line in lines] == [list(step) for step in steps]
    assert [line[5:] for line in lines][1] == ["", "0901234567", "1"]
    for line, row in zip(lines, rows, strict=True):
        assert int(row["time"].replace(tzinfo=UTC).timestamp()) == int(line[0])
    assert [(e.callid, e.event) for e in board.queue_log.entries] == [s[::3] for s in steps]


async def test_given_postgresql_unreachable_when_the_pbx_logs_then_the_rows_are_lost_from_the_table_and_kept_in_the_file(
    tmp_path: Path, db_proxy: tuple[TcpProxy, str], database_url: str
) -> None:
    """res_config_pgsql fails the insert; ast_queue_log never retries it."""
    proxy, url = db_proxy
    qlog = tmp_path / "queue_log"
    board = make_board(tmp_path, queue_log=QueueLogConfig(database_url=url, file=qlog))
    await board.start()
    try:
        proxy.cut()
        lost = await (await board.place_call("1022", "0901000001", patience=3.0)).wait()
        await board.queue_log.flushed()
        proxy.restore()
        kept = await (await board.place_call("1022", "0901000002", patience=3.0)).wait()
        await board.queue_log.flushed()
    finally:
        await board.stop()

    rows = await table_rows(database_url)
    assert [(r["callid"], r["event"]) for r in rows] == [
        (kept.uniqueid, "ENTERQUEUE"),
        (kept.uniqueid, "ABANDON"),
    ]
    assert [(e.callid, e.event) for e in board.queue_log.lost] == [
        (lost.uniqueid, "ENTERQUEUE"),
        (lost.uniqueid, "ABANDON"),
    ]
    assert [line[1] for line in file_lines(qlog)] == [lost.uniqueid] * 2 + [kept.uniqueid] * 2


async def test_given_a_caller_nobody_answers_when_queue_times_out_then_exitwithtimeout_and_the_same_callid_enters_again(
    tmp_path: Path,
) -> None:
    board = make_board(tmp_path, scale=400.0)
    await board.start()
    try:
        call = await board.place_call("115", "0912345678")
        ami = await RawAmi.connect("127.0.0.1", board.ami_port)
        await ami.login("admin", "secret")
        for _ in range(2):
            while (await ami.next_event("QueueCallerJoin", within=10))["Uniqueid"] != call.uniqueid:
                pass
        await ami.close()
        call.hangup()
        outcome = await call.wait()
    finally:
        await board.stop()

    events = [(e.event, e.fields[:3]) for e in board.queue_log.of_call(call.uniqueid)]
    assert [name for name, _ in events] == [
        "ENTERQUEUE",
        "EXITWITHTIMEOUT",
        "ENTERQUEUE",
        "ABANDON",
    ]
    position, original, waited = events[1][1]
    assert (position, original) == ("1", "1")
    assert int(waited) >= 120
    assert outcome.queue_status == "TIMEOUT"


async def test_given_an_operator_when_added_paused_unpaused_and_removed_over_ami_then_member_rows_follow(
    tmp_path: Path,
) -> None:
    board = make_board(tmp_path)
    await board.start()
    ami = await RawAmi.connect("127.0.0.1", board.ami_port)
    try:
        await ami.login("hotline", "secret")
        board.add_softphone(Softphone("op101"))
        for queue in ("hotline-1022", "emergency-115"):
            await ami.action(
                "QueueAdd",
                ("Queue", queue),
                ("Interface", "PJSIP/op101"),
                ("MemberName", "lan"),
                ("Paused", "true" if queue == "emergency-115" else "false"),
            )
        await ami.action(
            "QueuePause", ("Interface", "PJSIP/op101"), ("Paused", "true"), ("Reason", "Nghỉ trưa")
        )
        await ami.action(
            "QueuePause",
            ("Queue", "emergency-115"),
            ("Interface", "PJSIP/op101"),
            ("Paused", "false"),
        )
        await ami.action("QueueRemove", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))
    finally:
        await ami.close()
        await board.stop()

    assert [(e.queuename, e.callid, e.agent, e.event, e.data) for e in board.queue_log.entries] == [
        ("hotline-1022", "MANAGER", "PJSIP/op101", "ADDMEMBER", ""),
        ("emergency-115", "MANAGER", "PJSIP/op101", "ADDMEMBER", "PAUSED"),
        ("NONE", "NONE", "lan", "PAUSEALL", "Nghỉ trưa"),
        ("hotline-1022", "NONE", "lan", "PAUSE", "Nghỉ trưa"),
        ("emergency-115", "NONE", "lan", "PAUSE", "Nghỉ trưa"),
        ("emergency-115", "NONE", "lan", "UNPAUSE", ""),
        ("hotline-1022", "MANAGER", "PJSIP/op101", "REMOVEMEMBER", ""),
    ]
