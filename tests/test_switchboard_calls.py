"""Calls through the switchboard's dialplan and app_queue, watched over AMI like the backend
watches Asterisk: causal event order (reference §3.6), field order (§3.5), the ring-no-answer,
ringall, abandon, wrap-up, autopause and re-queue paths. The FastAGI target is unreachable
here (AGISTATUS=FAILURE ⇒ apology + the line's queue, as the real dialplan does)."""

from __future__ import annotations

import asyncio
import re
import wave
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from switchboard import (
    CalledParty,
    CallOutcome,
    Clock,
    QueueConfig,
    Softphone,
    StaticMember,
    Switchboard,
)
from switchboard.raw_client import Message, RawAmi
from switchboard.testing import (
    BACKEND_USER,
    EVENT_KEYS,
    EVERYTHING_USER,
    SNAPSHOT_KEYS,
    find_in_order,
    is_event,
)

SCALE = 50.0


def make_board(
    tmp_path: Path, *, scale: float = SCALE, clock: Clock | None = None, **kw: object
) -> Switchboard:
    return Switchboard(
        agi_port=1,
        recordings_dir=tmp_path / "rec",
        sounds_dir=Path(__file__).resolve().parent.parent / "asterisk_conf" / "sounds",
        ami_users={"hotline": BACKEND_USER, "admin": EVERYTHING_USER},
        clock=clock or Clock(scale=scale),
        seed=11,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Switchboard]:
    board = make_board(tmp_path)
    await board.start()
    yield board
    await board.stop()


@pytest.fixture
async def ami(board: Switchboard) -> AsyncIterator[RawAmi]:
    client = await RawAmi.connect("127.0.0.1", board.ami_port)
    await client.login("hotline", "secret")
    await client.next_event("FullyBooted")
    yield client
    await client.close()


async def log_in(ami: RawAmi, queue: str, *interfaces: str) -> None:
    for interface in interfaces:
        reply = await ami.action("QueueAdd", ("Queue", queue), ("Interface", interface))
        assert reply["Message"] == "Added interface to queue"


async def collect(
    ami: RawAmi, stop: Callable[[Message], bool], within: float = 10.0
) -> list[Message]:
    messages: list[Message] = []
    while True:
        message = await ami.read(within)
        messages.append(message)
        if stop(message):
            return messages


def caller_hangup(channel: str) -> Callable[[Message], bool]:
    return lambda m: m.event == "Hangup" and m.get("Channel") == channel


def ints(message: Message, *keys: str) -> list[int]:
    return [int(message[key]) for key in keys]


async def test_given_an_operator_who_answers_when_a_1022_call_comes_then_events_follow_asterisks_causal_order(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=2.0, talk_time=10.0, name="Operator 101"))
    await log_in(ami, "hotline-1022", "PJSIP/op101")

    call = await board.place_call("1022", "0901234567")
    messages = await collect(ami, caller_hangup(call.channel))
    messages += await collect(ami, lambda m: m.event == "QueueMemberStatus")
    outcome = await call.wait()

    op = "PJSIP/op101-"
    found = find_in_order(
        messages,
        [
            is_event("Newchannel", Channel=call.channel, ChannelState="4"),
            is_event("Newstate", Channel=call.channel, ChannelState="6"),
            is_event("QueueCallerJoin", Channel=call.channel, Queue="hotline-1022"),
            is_event("MusicOnHoldStart", Channel=call.channel),
            is_event("Newchannel", Channel=op, ChannelState="0"),
            is_event("AgentCalled", Channel=call.channel, DestChannel=op),
            is_event("DialBegin", DestChannel=op),
            is_event("Newstate", Channel=op, ChannelState="5"),
            is_event("DialState", DestChannel=op, DialStatus="RINGING"),
            is_event("QueueMemberStatus", Interface="PJSIP/op101", Status="6"),
            is_event("Newstate", Channel=op, ChannelState="6"),
            is_event("DialEnd", DestChannel=op, DialStatus="ANSWER"),
            is_event("MusicOnHoldStop", Channel=call.channel),
            is_event("QueueCallerLeave", Channel=call.channel, Count="0"),
            is_event("AgentConnect", Channel=call.channel, DestChannel=op),
            is_event("BridgeCreate"),
            is_event("BridgeEnter", Channel=call.channel, BridgeNumChannels="1"),
            is_event("BridgeEnter", Channel=op, BridgeNumChannels="2"),
            is_event("QueueMemberStatus", Status="2", InCall="1"),
            is_event("HangupRequest", Channel=call.channel),
            is_event("BridgeLeave", Channel=call.channel),
            is_event("BridgeLeave", Channel=op),
            is_event("AgentComplete", Reason="caller"),
            is_event("BridgeDestroy", BridgeNumChannels="0"),
            is_event("Hangup", Channel=call.channel),
            is_event("Hangup", Channel=op),
            is_event("QueueMemberStatus", Status="1", InCall="0", CallsTaken="1"),
        ],
    )
    by_name = {m.event: m for m in found}
    for name in ("QueueCallerJoin", "AgentCalled", "AgentConnect", "AgentComplete", "Newchannel"):
        assert by_name[name].keys() == EVENT_KEYS[name], name
    assert found[9].keys() == EVENT_KEYS["QueueMemberStatus"]
    assert by_name["DialBegin"].keys() == EVENT_KEYS["DialBegin"]
    assert by_name["DialBegin"]["DialString"] == "PJSIP/op101"
    assert by_name["DialEnd"].keys() == EVENT_KEYS["DialEnd"]
    assert found[-3].keys() == EVENT_KEYS["Hangup"]

    newchannel = found[0]
    assert re.fullmatch(r"PJSIP/telco-[0-9a-f]{8}", newchannel["Channel"])
    assert re.fullmatch(r"\d{10}\.\d+", newchannel["Uniqueid"])
    assert newchannel["Linkedid"] == newchannel["Uniqueid"] == call.uniqueid
    assert (newchannel["ChannelStateDesc"], newchannel["CallerIDNum"]) == ("Ring", "0901234567")
    assert (newchannel["CallerIDName"], newchannel["ConnectedLineNum"]) == (
        "<unknown>",
        "<unknown>",
    )
    assert (newchannel["Context"], newchannel["Exten"], newchannel["AccountCode"]) == (
        "from-trunk",
        "1022",
        "",
    )
    called = by_name["AgentCalled"]
    assert called["Privilege"] == "agent,all"
    assert called["DestLinkedid"] == call.uniqueid
    assert re.fullmatch(r"PJSIP/op101-[0-9a-f]{8}", called["DestChannel"])
    assert (called["DestCallerIDNum"], called["DestCallerIDName"]) == ("op101", "Operator 101")
    assert called["DestConnectedLineNum"] == "0901234567"
    assert (called["Interface"], called["MemberName"]) == ("PJSIP/op101", "PJSIP/op101")
    connect = by_name["AgentConnect"]
    # Lower bounds are causal (the phone rang 2 s, the apology played first); the emulator runs
    # SCALE times faster than real time, so a loaded machine only ever adds to them. Seconds, not
    # milliseconds: the upper bound tells them apart.
    assert 2 <= int(connect["RingTime"]) < 1000
    hold = int(connect["HoldTime"])
    assert 2 <= hold < 1000
    complete = by_name["AgentComplete"]
    assert int(complete["HoldTime"]) == hold
    assert 9 <= int(complete["TalkTime"]) < 1000
    assert (found[-3]["Cause"], found[-3]["Cause-txt"]) == ("16", "Normal Clearing")
    final_status = found[-1]
    assert int(final_status["LastCall"]) > 0
    assert outcome.answered_by == "PJSIP/op101"
    assert outcome.agistatus == "FAILURE"
    assert outcome.fallback
    assert outcome.played == ["hotline/apology"]
    assert outcome.recording is not None
    assert outcome.recording.name == f"{call.uniqueid}-call.wav"
    with wave.open(str(outcome.recording)) as audio:
        assert audio.getframerate() == 8000
        assert audio.getnframes() / 8000 >= 10  # apology + wait + conversation


async def test_given_a_call_in_the_evening_utc_when_mixmonitor_records_it_then_its_folder_is_the_day_in_vietnam(
    tmp_path: Path,
) -> None:
    # 23:30 UTC on the 6th is 06:30 on the 7th in Vietnam, the day the IVR files its own
    # recordings of the call under (the call's recording went to 20261206 on a UTC server)
    evening = datetime(2026, 12, 6, 23, 30, tzinfo=UTC).timestamp()
    board = make_board(tmp_path, clock=Clock(scale=SCALE, start=evening))
    await board.start()
    try:
        call = await board.place_call("1022", "0901234567")
        await asyncio.sleep(0.5)
        call.hangup()
        outcome = await call.wait()
    finally:
        await board.stop()
    assert outcome.recording is not None
    assert outcome.recording.relative_to(tmp_path / "rec") == Path(
        "20261207", f"{call.uniqueid}-call.wav"
    )


async def test_given_an_operator_who_never_answers_when_leastrecent_rings_then_ring_no_answer_autopause_and_the_next(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", answers=False))
    board.add_softphone(Softphone("op102", ring_delay=1.0, talk_time=3.0))
    await log_in(ami, "hotline-1022", "PJSIP/op101", "PJSIP/op102")

    call = await board.place_call("1022")
    messages = await collect(ami, caller_hangup(call.channel))
    outcome = await call.wait()

    found = find_in_order(
        messages,
        [
            is_event("AgentCalled", Interface="PJSIP/op101"),
            is_event("AgentRingNoAnswer", Interface="PJSIP/op101"),
            is_event("DialEnd", DestChannel="PJSIP/op101-", DialStatus="NOANSWER"),
            is_event("Hangup", Channel="PJSIP/op101-"),
            is_event("QueueMemberPause", Interface="PJSIP/op101", Paused="1"),
            is_event("AgentCalled", Interface="PJSIP/op102"),
            is_event("AgentConnect", Interface="PJSIP/op102"),
        ],
    )
    rna = found[1]
    assert rna.keys() == EVENT_KEYS["AgentRingNoAnswer"]
    assert int(rna["RingTime"]) >= 20_000  # milliseconds: at least the queue's 20 s timeout
    assert found[4]["PausedReason"] == "Auto-Pause"
    assert found[3]["Cause"] == "26"  # option C: legs cancelled by the queue, "answered elsewhere"
    assert not any(
        m.event == "AgentCalled" and m["Interface"] == "PJSIP/op101"
        for m in messages[messages.index(found[1]) :]
    )
    assert outcome.answered_by == "PJSIP/op102"
    assert outcome.hold_time is not None
    assert outcome.hold_time >= 24  # the 20 s ring timeout, the wrap-up, op102's ring
    member = {m.interface: m for m in board.truth().queues["hotline-1022"].members}
    assert member["PJSIP/op101"].paused
    assert member["PJSIP/op101"].paused_reason == "Auto-Pause"


async def test_given_two_dispatchers_when_a_115_call_rings_all_then_the_first_to_answer_wins(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op201", ring_delay=4.0))
    board.add_softphone(Softphone("op202", ring_delay=1.0, talk_time=2.0, hangs_up="operator"))
    await log_in(ami, "emergency-115", "PJSIP/op201", "PJSIP/op202")

    call = await board.place_call("115", "0912345678")
    messages = await collect(ami, caller_hangup(call.channel))
    outcome = await call.wait()

    find_in_order(
        messages,
        [
            is_event("QueueCallerJoin", Queue="emergency-115"),
            is_event("AgentCalled", Interface="PJSIP/op201"),
            is_event("AgentCalled", Interface="PJSIP/op202"),
            is_event("DialEnd", DestChannel="PJSIP/op202-", DialStatus="ANSWER"),
            is_event("DialEnd", DestChannel="PJSIP/op201-", DialStatus="CANCEL"),
            is_event("Hangup", Channel="PJSIP/op201-", Cause="26"),
            is_event("AgentConnect", Interface="PJSIP/op202"),
            is_event("HangupRequest", Channel="PJSIP/op202-"),
            is_event("AgentComplete", Interface="PJSIP/op202", Reason="agent"),
        ],
    )
    assert not any(m.event in ("AgentRingNoAnswer", "QueueMemberPause") for m in messages)
    assert outcome.answered_by == "PJSIP/op202"
    assert outcome.hung_up_by == "operator"


async def test_given_an_impatient_caller_when_they_hang_up_while_an_operator_rings_then_abandon(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", answers=False))
    await log_in(ami, "hotline-1022", "PJSIP/op101")

    call = await board.place_call("1022", patience=5.0)
    messages = await collect(ami, caller_hangup(call.channel))
    outcome = await call.wait()

    found = find_in_order(
        messages,
        [
            is_event("QueueCallerJoin", Channel=call.channel),
            is_event("AgentCalled", Interface="PJSIP/op101"),
            is_event("HangupRequest", Channel=call.channel),
            is_event("DialEnd", DestChannel="PJSIP/op101-", DialStatus="CANCEL"),
            is_event("Hangup", Channel="PJSIP/op101-"),
            is_event("QueueCallerAbandon", Channel=call.channel),
            is_event("QueueCallerLeave", Channel=call.channel),
            is_event("Hangup", Channel=call.channel),
        ],
    )
    abandon = found[5]
    assert abandon.keys() == EVENT_KEYS["QueueCallerAbandon"]
    assert (abandon["Position"], abandon["OriginalPosition"]) == ("1", "1")
    assert 5 <= int(abandon["HoldTime"]) < 1000  # seconds: the caller's patience, then the hang-up
    assert not any(m.event in ("AgentRingNoAnswer", "AgentConnect") for m in messages)
    assert outcome.abandoned
    assert outcome.answered_by is None
    queue = board.truth().queues["hotline-1022"]
    assert (queue.abandoned, queue.completed, queue.callers) == (1, 0, ())


async def call_on_a_fast_clock(
    tmp_path: Path, phone: Softphone, patience: float | None
) -> tuple[CallOutcome, str, list[Message]]:
    """One 1022 call at 1,000,000×, where the caller's task may look at the time only after
    several moments (the phone's answer, the ring timeout, the caller's patience) have passed;
    the AMI login (its timeout is simulated too) runs at the tests' usual scale. The events
    until the caller hangs up or the first ring ends (then AMI hangs the caller up)."""
    clock = Clock(scale=1_000_000.0)
    setting_up = clock.hold(clock.now(), SCALE)
    board = make_board(tmp_path, clock=clock)
    await board.start()
    try:
        client = await RawAmi.connect("127.0.0.1", board.ami_port)
        await client.login("hotline", "secret")
        await client.next_event("FullyBooted")
        board.add_softphone(phone)
        await log_in(client, "hotline-1022", f"PJSIP/{phone.endpoint}")
        setting_up()
        call = await board.place_call("1022", patience=patience)
        ring_ended = ("AgentConnect", "AgentRingNoAnswer")
        hung_up = caller_hangup(call.channel)
        messages = await collect(client, lambda m: hung_up(m) or m.event in ring_ended)
        await client.action("Hangup", ("Channel", call.channel))  # refused once it is gone
        outcome = await call.wait()
        await client.close()
    finally:
        await board.stop()
    return outcome, call.channel, messages


async def test_given_a_fast_clock_when_the_callers_patience_ends_before_the_operator_picks_up_then_abandon(
    tmp_path: Path,
) -> None:
    """The earlier simulated moment wins. In Asterisk the caller's hang-up during the ring
    reaches wait_for_answer (apps/app_queue.c, ``winner == in``: "Got hung up") before the
    operator picks up, so queue_exec records an abandon, never a connect."""
    phone = Softphone("op101", ring_delay=1.0)
    outcome, channel, messages = await call_on_a_fast_clock(tmp_path, phone, patience=0.5)

    find_in_order(
        messages,
        [
            is_event("QueueCallerJoin", Channel=channel),
            is_event("HangupRequest", Channel=channel),
            is_event("QueueCallerAbandon", Channel=channel),
            is_event("QueueCallerLeave", Channel=channel),
            is_event("Hangup", Channel=channel),
        ],
    )
    assert not any(m.event == "AgentConnect" for m in messages)
    assert outcome.abandoned
    assert outcome.answered_by is None


async def test_given_a_fast_clock_when_the_ring_times_out_before_the_operator_picks_up_then_ring_no_answer(
    tmp_path: Path,
) -> None:
    """The queue's ``timeout`` (20 s for 1022) ends the ring before a pick-up at 20.5 s:
    when wait_for_answer's ``*to`` runs out it calls ``rna`` for each ringing member
    (apps/app_queue.c) — however late the emulator's task looks."""
    phone = Softphone("op101", ring_delay=20.5)
    outcome, channel, messages = await call_on_a_fast_clock(tmp_path, phone, patience=None)

    find_in_order(
        messages,
        [
            is_event("QueueCallerJoin", Channel=channel),
            is_event("AgentCalled", Interface="PJSIP/op101"),
            is_event("AgentRingNoAnswer", Interface="PJSIP/op101"),
        ],
    )
    assert not any(m.event == "AgentConnect" for m in messages)
    assert outcome.abandoned
    assert outcome.answered_by is None


async def test_given_an_operator_in_wrap_up_when_the_next_caller_waits_then_they_are_rung_only_after_it(
    tmp_path: Path,
) -> None:
    queue = QueueConfig(
        "hotline-1022",
        strategy="leastrecent",
        wrapuptime=10,
        ringinuse=False,
        retry=1,
        members=(StaticMember("PJSIP/op101", name="Operator 101"),),
    )
    board = make_board(tmp_path, queues=[queue, QueueConfig("emergency-115")])
    await board.start()
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=4.0))
    try:
        first = await board.place_call("1022", "0900000001")
        first_outcome = await first.wait()
        ended = board.clock.now()
        second = await board.place_call("1022", "0900000002")
        await asyncio.sleep(0.01)
        assert board.truth().queues["hotline-1022"].members[0].in_wrapup
        second_outcome = await second.wait()
    finally:
        await board.stop()
    rung = [
        e for e in board.events if e.name == "AgentCalled" and e.get("Channel") == second.channel
    ]

    assert first_outcome.answered_by == second_outcome.answered_by == "PJSIP/op101"
    assert len(rung) == 1
    # op101 hung up at `ended`; the second caller reached them no sooner than 10 s later
    # (wrap-up) plus the 1 s ring.
    assert second_outcome.talk_time is not None
    answered_at = board.clock.now() - second_outcome.talk_time
    assert answered_at - ended >= 10 + 1 - 0.5


@pytest.mark.parametrize(("version", "answeredtime"), [("20.19.0", "0"), ("21.12.0", None)])
async def test_given_no_operator_when_the_maximum_wait_passes_then_abandon_leave_and_the_caller_rejoins_then_is_answered(
    tmp_path: Path, version: str, answeredtime: str | None
) -> None:
    """apps/app_queue.c queue_exec (Asterisk 20): each timeout exit (after wait_our_turn, in
    the head-caller loop, after try_calling) calls record_abandoned — QueueCallerAbandon —
    then leave_queue — QueueCallerLeave — and returns QUEUE_TIMEOUT with the channel up.
    From 20.19.0 queue_exec clears ANSWEREDTIME on entry and its ``stop:`` block sets "0" when
    no bridge set it; 21 never sets it. extensions.conf's ``$[0${ANSWEREDTIME} > 0]`` queues
    the 115 caller again on both, and an operator who logs in later answers them."""
    board = make_board(tmp_path, scale=400.0, asterisk_version=version)
    await board.start()
    board.add_softphone(Softphone("op201", ring_delay=1.0, talk_time=5.0))
    client = await RawAmi.connect("127.0.0.1", board.ami_port)
    await client.login("admin", "secret")
    try:
        call = await board.place_call("115", "0912345678")
        messages = await collect(
            client, lambda m: m.event == "QueueCallerJoin" and m.get("Channel") == call.channel
        )
        messages += await collect(
            client, lambda m: m.event == "QueueCallerJoin" and m.get("Channel") == call.channel
        )
        waiting = board.truth().queues["emergency-115"].callers
        board.app_queue.add_member("emergency-115", "PJSIP/op201")
        outcome = await call.wait()
    finally:
        await client.close()
        await board.stop()

    found = find_in_order(
        messages,
        [
            is_event("VarSet", Variable="QUEUE_PRIO", Value="10"),
            is_event("QueueCallerJoin", Channel=call.channel),
            is_event("QueueCallerAbandon", Channel=call.channel),
            is_event("QueueCallerLeave", Channel=call.channel),
            is_event("VarSet", Variable="QUEUESTATUS", Value="TIMEOUT"),
            is_event("Newexten", Channel=call.channel, Application="GotoIf"),
            is_event("VarSet", Variable="QUEUE_PRIO", Value="11"),
            is_event("QueueCallerJoin", Channel=call.channel),
        ],
    )
    first_exit = messages[messages.index(found[0]) : messages.index(found[4])]
    values = [m["Value"] for m in first_exit if m.get("Variable") == "ANSWEREDTIME"]
    assert values == ([] if answeredtime is None else ["", answeredtime])
    steps = dialplan_steps("hotline-queue", "_X.")
    guard = steps[[app for app, _ in steps].index("Queue") + 1]
    assert guard == ("GotoIf", "$[0${ANSWEREDTIME} > 0]?gone")
    assert found[5]["AppData"] == guard[1].replace("${ANSWEREDTIME}", answeredtime or "")
    assert int(found[2]["HoldTime"]) >= 120  # HOTLINE_MAXWAIT of 115
    assert [c.priority for c in waiting] == [11]
    assert outcome.variables["QUEUESTATUS"] == "TIMEOUT"  # of the first Queue()
    assert outcome.answered_by == "PJSIP/op201"
    assert not outcome.abandoned
    assert board.truth().queues["emergency-115"].abandoned == 1  # Asterisk's own counter


async def test_given_strict_joinempty_when_nobody_is_logged_in_then_joinempty_and_hold_music_loop(
    tmp_path: Path,
) -> None:
    strict = QueueConfig("hotline-1022", joinempty="strict")
    board = make_board(tmp_path, queues=[strict, QueueConfig("emergency-115")], scale=200.0)
    await board.start()
    try:
        call = await board.place_call("1022")
        while sum(e.name == "MusicOnHoldStop" for e in board.events) < 2:
            await asyncio.sleep(0.01)
        call.hangup()
        outcome = await call.wait()
    finally:
        await board.stop()

    names = [e.name for e in board.events]
    assert "QueueCallerJoin" not in names
    assert outcome.queue_status == "JOINEMPTY"
    statuses = [e.get("Value") for e in board.events if e.get("Variable") == "QUEUESTATUS"]
    assert statuses[:2] == ["JOINEMPTY", "JOINEMPTY"]


async def test_given_a_full_queue_when_another_caller_comes_then_full(tmp_path: Path) -> None:
    small = QueueConfig("hotline-1022", maxlen=1)
    board = make_board(tmp_path, queues=[small, QueueConfig("emergency-115")])
    await board.start()
    try:
        first = await board.place_call("1022", "0900000001")
        while not board.truth().queues["hotline-1022"].callers:
            await asyncio.sleep(0.01)
        second = await board.place_call("1022", "0900000002")
        while not any(e.get("Value") == "FULL" for e in board.events):
            await asyncio.sleep(0.01)
        callers = board.truth().queues["hotline-1022"].callers
        first.hangup()
        second.hangup()
        await first.wait()
        await second.wait()
    finally:
        await board.stop()

    assert [c.callerid for c in callers] == ["0900000001"]


async def run_calls(tmp_path: Path, config: QueueConfig, count: int) -> list[CallOutcome]:
    board = make_board(tmp_path, queues=[config, QueueConfig("emergency-115")])
    await board.start()
    for n in (1, 2, 3):
        board.add_softphone(Softphone(f"op{n}", ring_delay=0.5, talk_time=1.0))
    outcomes = []
    try:
        for _ in range(count):
            call = await board.place_call("1022")
            outcomes.append(await call.wait())
    finally:
        await board.stop()
    return outcomes


MEMBERS = tuple(StaticMember(f"PJSIP/op{n}") for n in (1, 2, 3))


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [
        ("rrmemory", ["PJSIP/op1", "PJSIP/op2", "PJSIP/op3", "PJSIP/op1"]),
        ("linear", ["PJSIP/op1", "PJSIP/op1", "PJSIP/op1", "PJSIP/op1"]),
        ("leastrecent", ["PJSIP/op1", "PJSIP/op2", "PJSIP/op3", "PJSIP/op1"]),
        ("fewestcalls", ["PJSIP/op1", "PJSIP/op2", "PJSIP/op3", "PJSIP/op1"]),
    ],
)
async def test_given_a_strategy_when_calls_come_one_after_another_then_operators_are_rung_in_its_order(
    tmp_path: Path, strategy: str, expected: list[str]
) -> None:
    config = QueueConfig("hotline-1022", strategy=strategy, members=MEMBERS)

    outcomes = await run_calls(tmp_path, config, 4)

    assert [o.answered_by for o in outcomes] == expected


async def test_given_autofill_when_two_callers_wait_then_two_free_operators_ring_in_parallel(
    tmp_path: Path,
) -> None:
    results = {}
    for autofill in (True, False):
        config = QueueConfig(
            "hotline-1022", strategy="leastrecent", autofill=autofill, members=MEMBERS[:2]
        )
        board = make_board(tmp_path, queues=[config, QueueConfig("emergency-115")])
        await board.start()
        for n in (1, 2):
            board.add_softphone(Softphone(f"op{n}", answers=False))
        try:
            first = await board.place_call("1022", "0900000001")
            second = await board.place_call("1022", "0900000002")
            while len(board.truth().queues["hotline-1022"].callers) < 2:
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)
            results[autofill] = [c.ringing for c in board.truth().queues["hotline-1022"].callers]
            first.hangup()
            second.hangup()
        finally:
            await board.stop()

    assert results == {True: [True, True], False: [True, False]}


async def test_given_a_bridged_call_when_ami_hangs_up_the_operator_then_agentcomplete_reason_agent(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
    await log_in(ami, "hotline-1022", "PJSIP/op101")
    call = await board.place_call("1022")
    connect = await ami.next_event("AgentConnect")

    reply = await ami.action("Hangup", ("Channel", connect["DestChannel"]), ("ActionID", "h"))
    messages = await collect(ami, caller_hangup(call.channel))
    outcome = await call.wait()

    assert reply["Message"] == "Channel Hungup"
    find_in_order(
        messages,
        [
            is_event("SoftHangupRequest", Channel=connect["DestChannel"], Cause="16"),
            is_event("AgentComplete", Reason="agent"),
            is_event("Hangup", Channel=connect["DestChannel"]),
        ],
    )
    assert outcome.hung_up_by == "operator"


async def test_given_a_bridged_caller_when_redirected_to_the_emergency_queue_then_no_agent_complete_until_the_call_ends(
    board: Switchboard, ami: RawAmi
) -> None:
    """Follows main/manager.c action_redirect → main/pbx.c ast_async_goto (bridged:
    ast_explicit_goto + ast_softhangup_nolock(ASYNCGOTO), which publishes no hang-up request)
    and apps/app_queue.c handle_hangup / update_status / update_queue, checked twice:
    app_queue only ends a call's record on a hang-up *request* (or a bridge transfer), so the
    Redirect makes no AgentComplete. The operator's leg is hung up by the bridge
    (ast_bridge_run_after_goto → ast_hangup, no request either); its device going NOT_INUSE
    runs update_queue: QueueMemberStatus InCall 0, CallsTaken 1 — the first operator's talk
    ends there. The AgentComplete of the first operator comes when the caller's channel gets
    its next hang-up request (here: the end of its dialplan), Reason caller, TalkTime from the
    first answer to the end, without Dest* fields (that leg's snapshot is gone)."""
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
    board.add_softphone(Softphone("op201", ring_delay=1.0, talk_time=2.0))
    await log_in(ami, "hotline-1022", "PJSIP/op101")
    await log_in(ami, "emergency-115", "PJSIP/op201")
    call = await board.place_call("1022")
    await ami.next_event("AgentConnect")

    setvar = await ami.action(
        "Setvar",
        ("Channel", call.channel),
        ("Variable", "HOTLINE_QUEUE"),
        ("Value", "emergency-115"),
    )
    reply = await ami.action(
        "Redirect",
        ("Channel", call.channel),
        ("Context", "hotline-queue"),
        ("Exten", "115"),
        ("Priority", "queue"),
    )
    messages = await collect(ami, caller_hangup(call.channel))
    outcome = await call.wait()

    assert setvar["Message"] == "Variable Set"
    assert reply["Message"] == "Redirect successful"
    found = find_in_order(
        messages,
        [
            is_event("BridgeLeave", Channel=call.channel),
            is_event("BridgeLeave", Channel="PJSIP/op101-"),
            is_event("Hangup", Channel="PJSIP/op101-"),
            is_event("QueueMemberStatus", Interface="PJSIP/op101", InCall="0", CallsTaken="1"),
            is_event("QueueCallerJoin", Channel=call.channel, Queue="emergency-115"),
            is_event("AgentConnect", Interface="PJSIP/op201"),
            is_event("HangupRequest", Channel=call.channel),
            is_event("AgentComplete", Interface="PJSIP/op201", Reason="caller"),
            is_event("Hangup", Channel=call.channel),
        ],
    )
    the_end = messages.index(found[6])
    first = [m for m in messages if m.event == "AgentComplete" and m["Interface"] == "PJSIP/op101"]
    assert not [m for m in messages[:the_end] if m.event == "AgentComplete"]
    assert not [
        m
        for m in messages[:the_end]
        if m.event in ("HangupRequest", "SoftHangupRequest") and m["Channel"] == call.channel
    ]
    assert not [m for m in messages if m.event == "QueueCallerAbandon"]
    assert len(first) == 1
    assert first[0]["Reason"] == "caller"
    assert not first[0].get("DestChannel")
    assert the_end < messages.index(first[0]) < messages.index(found[8])
    second = found[7]
    assert int(first[0]["TalkTime"]) >= int(second["HoldTime"]) + int(second["TalkTime"])
    assert outcome.answered_by == "PJSIP/op201"
    op101 = next(m for m in board.truth().queues["hotline-1022"].members)
    assert (op101.calls_taken, op101.in_call) == (1, False)
    assert board.truth().queues["hotline-1022"].completed == 1


async def test_given_an_operator_when_originating_a_call_back_then_the_citizen_answers(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=1.0))
    board.set_called_party(None, CalledParty(ring_delay=3.0, talk_time=5.0))
    missing = await ami.action(
        "Originate",
        ("Channel", "PJSIP/op999"),
        ("Context", "operators"),
        ("Exten", "0901234567"),
        ("Async", "true"),
        ("ActionID", "o0"),
    )
    failed = await ami.next_event("OriginateResponse")

    reply = await ami.action(
        "Originate",
        ("Channel", "PJSIP/op101"),
        ("Context", "operators"),
        ("Exten", "0901234567"),
        ("Priority", "1"),
        ("Async", "true"),
        ("ActionID", "o1"),
    )
    messages = await collect(ami, lambda m: m.event == "BridgeDestroy", within=10)

    assert missing["Message"] == "Originate successfully queued"
    assert (failed["ActionID"], failed["Response"], failed["Reason"]) == ("o0", "Failure", "0")
    assert reply.raw == (
        b"Response: Success\r\nActionID: o1\r\nMessage: Originate successfully queued\r\n\r\n"
    )
    found = find_in_order(
        messages,
        [
            is_event("Newchannel", Channel="PJSIP/op101-", ChannelState="0"),
            is_event("Newstate", Channel="PJSIP/op101-", ChannelState="5"),
            is_event("Newstate", Channel="PJSIP/op101-", ChannelState="6"),
            is_event("OriginateResponse", ActionID="o1", Response="Success", Reason="4"),
            is_event("DialBegin", Channel="PJSIP/op101-", DestChannel="PJSIP/telco-"),
            is_event("DialEnd", DestChannel="PJSIP/telco-", DialStatus="ANSWER"),
            is_event("BridgeEnter", Channel="PJSIP/telco-"),
            is_event("BridgeDestroy"),
        ],
    )
    response = found[3]
    assert response.keys() == [
        "Event",
        "Privilege",
        "ActionID",
        "Response",
        "Channel",
        "Context",
        "Exten",
        "Reason",
        "Uniqueid",
        "CallerIDNum",
        "CallerIDName",
    ]
    assert found[4]["DialString"] == "0901234567@telco"


async def test_given_an_operator_in_both_queues_when_both_have_callers_then_the_heavier_115_goes_first(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=3.0))
    await log_in(ami, "hotline-1022", "PJSIP/op101")
    await log_in(ami, "emergency-115", "PJSIP/op101")
    first = await board.place_call("1022", "0900000001")
    await ami.next_event("AgentConnect")
    citizen = await board.place_call("1022", "0900000002")
    while len(board.truth().queues["hotline-1022"].callers) < 1:
        await asyncio.sleep(0.01)
    emergency = await board.place_call("115", "0900000003")

    outcomes = [await c.wait() for c in (first, emergency, citizen)]

    called = [e.get("Channel") for e in board.events if e.name == "AgentCalled"]
    assert called == [first.channel, emergency.channel, citizen.channel]
    assert [o.answered_by for o in outcomes] == ["PJSIP/op101"] * 3
    assert outcomes[1].hold_time is not None
    assert outcomes[2].hold_time is not None
    assert outcomes[2].hold_time > outcomes[1].hold_time


async def test_given_penalties_when_ringall_rings_then_only_the_best_tier_until_it_is_paused(
    tmp_path: Path,
) -> None:
    config = QueueConfig(
        "emergency-115",
        strategy="ringall",
        members=(
            StaticMember("PJSIP/op1", penalty=0),
            StaticMember("PJSIP/op2", penalty=0),
            StaticMember("PJSIP/op3", penalty=1),
        ),
    )
    board = make_board(tmp_path, queues=[QueueConfig("hotline-1022"), config])
    await board.start()
    for n in (1, 2, 3):
        board.add_softphone(Softphone(f"op{n}", ring_delay=1.0, talk_time=1.0))
    try:
        first = await (await board.place_call("115")).wait()
        tier_one = {e.get("Interface") for e in board.events if e.name == "AgentCalled"}
        board.app_queue.pause_member("PJSIP/op1", True)
        board.app_queue.pause_member("PJSIP/op2", True)
        second = await (await board.place_call("115")).wait()
    finally:
        await board.stop()

    assert tier_one == {"PJSIP/op1", "PJSIP/op2"}
    assert first.answered_by in ("PJSIP/op1", "PJSIP/op2")
    assert second.answered_by == "PJSIP/op3"


async def test_given_a_waiting_caller_given_a_higher_priority_when_redirected_back_then_abandon_leave_and_they_jump_the_line(
    board: Switchboard, ami: RawAmi
) -> None:
    """A Redirect of a caller waiting in Queue(): main/pbx.c ast_async_goto sets
    AST_SOFTHANGUP_ASYNCGOTO, the wait in apps/app_queue.c wait_our_turn returns -1, and
    queue_exec's ``stop:`` sees res < 0 with !qe.handled ⇒ record_abandoned
    (QueueCallerAbandon), then leave_queue (QueueCallerLeave); then the dialplan continues at
    the Redirect's target (Asterisk 20)."""
    calls = []
    for n in (1, 2):  # one after the other: the second joins second (Position 2)
        calls.append(await board.place_call("1022", f"090000000{n}"))
        while len(board.truth().queues["hotline-1022"].callers) < n:
            await asyncio.sleep(0.01)

    await ami.action(
        "Setvar", ("Channel", calls[1].channel), ("Variable", "QUEUE_PRIO"), ("Value", "5")
    )
    await ami.action(
        "Redirect",
        ("Channel", calls[1].channel),
        ("Context", "hotline-queue"),
        ("Exten", "1022"),
        ("Priority", "queue"),
    )
    moved = await ami.until("QueueCallerJoin")
    rejoin = moved[-1]
    callers = board.truth().queues["hotline-1022"].callers
    for call in calls:
        call.hangup()
        await call.wait()

    find_in_order(
        moved,
        [
            is_event("QueueCallerAbandon", Channel=calls[1].channel, Position="2"),
            is_event("QueueCallerLeave", Channel=calls[1].channel, Count="1"),
            is_event("QueueCallerJoin", Channel=calls[1].channel),
        ],
    )
    assert not [m for m in moved if m.get("Channel") == calls[0].channel]
    assert (rejoin["Channel"], rejoin["Position"], rejoin["Count"]) == (calls[1].channel, "1", "2")
    assert [(c.channel, c.priority) for c in callers] == [
        (calls[1].channel, 5),
        (calls[0].channel, 0),
    ]


async def test_given_leavewhenempty_when_the_last_operator_pauses_then_the_caller_leaves_with_leaveempty(
    tmp_path: Path,
) -> None:
    config = QueueConfig("hotline-1022", leavewhenempty="yes", members=(StaticMember("PJSIP/op1"),))
    board = make_board(tmp_path, queues=[config, QueueConfig("emergency-115")])
    await board.start()
    board.add_softphone(Softphone("op1", answers=False))
    try:
        call = await board.place_call("1022")
        while not board.truth().queues["hotline-1022"].callers:
            await asyncio.sleep(0.01)
        board.app_queue.pause_member("PJSIP/op1", True, reason="Break")
        while not any(e.get("Value") == "LEAVEEMPTY" for e in board.events):
            await asyncio.sleep(0.01)
        call.hangup()
        outcome = await call.wait()
    finally:
        await board.stop()

    names = [e.name for e in board.events if e.get("Channel") == call.channel]
    assert names.index("QueueCallerLeave") < names.index("VarSet", names.index("QueueCallerLeave"))
    assert outcome.queue_status == "LEAVEEMPTY"
    assert not outcome.abandoned  # hung up during the hold music, outside the queue


async def test_given_an_operator_when_originating_to_a_colleagues_extension_then_their_phone_rings(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=1.0))
    board.add_softphone(Softphone("1002", ring_delay=2.0, talk_time=3.0))

    await ami.action(
        "Originate",
        ("Channel", "PJSIP/op101"),
        ("Context", "operators"),
        ("Exten", "1002"),
        ("Priority", "1"),
        ("Async", "true"),
    )
    messages = await collect(
        ami, lambda m: m.event == "Hangup" and m["Channel"].startswith("PJSIP/op101-")
    )

    find_in_order(
        messages,
        [
            is_event("OriginateResponse", Response="Success"),
            is_event(
                "DialBegin", Channel="PJSIP/op101-", DestChannel="PJSIP/1002-", DialString="1002"
            ),
            is_event("DeviceStateChange", Device="PJSIP/1002", State="RINGING"),
            is_event("DialEnd", DestChannel="PJSIP/1002-", DialStatus="ANSWER"),
            is_event("DeviceStateChange", Device="PJSIP/1002", State="INUSE"),
            is_event("BridgeDestroy"),
            is_event("Hangup", Channel="PJSIP/1002-"),
            is_event("DeviceStateChange", Device="PJSIP/1002", State="NOT_INUSE"),
            is_event("Hangup", Channel="PJSIP/op101-"),
        ],
    )
    assert board.truth().channels == ()


async def test_given_an_operator_who_does_not_pick_up_when_originating_then_failure_reason_3(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", answers=False))
    board.add_softphone(Softphone("op102", ring_delay=1.0, talk_time=1.0))

    await ami.action(
        "Originate",
        ("Channel", "PJSIP/op101"),
        ("Context", "operators"),
        ("Exten", "0901234567"),
        ("Timeout", "5000"),
        ("Async", "yes"),
        ("ActionID", "late"),
    )
    response = await ami.next_event("OriginateResponse")
    sync = await ami.action(
        "Originate",
        ("Channel", "PJSIP/op102"),
        ("Application", "Wait"),
        ("Data", "1"),
        ("ActionID", "sync"),
    )

    assert (response["ActionID"], response["Response"], response["Reason"]) == (
        "late",
        "Failure",
        "3",
    )
    assert sync.raw == (
        b"Response: Success\r\nActionID: sync\r\nMessage: Originate successfully queued\r\n\r\n"
    )
    assert board.devices.state("PJSIP/op101") == 1  # Not in use again after ringing


async def test_given_a_call_in_conversation_when_the_truth_is_read_then_both_channels_share_a_bridge(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
    await log_in(ami, "hotline-1022", "PJSIP/op101")
    call = await board.place_call("1022", "0901234567")
    await ami.next_event("AgentConnect")

    truth = board.truth()
    call.hangup()
    await call.wait()

    channels = {c.name.split("-")[0]: c for c in truth.channels}
    assert set(channels) == {"PJSIP/telco", "PJSIP/op101"}
    assert channels["PJSIP/telco"].bridge is not None
    assert channels["PJSIP/telco"].bridge == channels["PJSIP/op101"].bridge
    assert channels["PJSIP/op101"].linkedid == call.uniqueid
    member = truth.queues["hotline-1022"].members[0]
    assert (member.in_call, member.status) == (True, 2)
    assert truth.device_states == {"PJSIP/op101": 2}
    assert board.truth().channels == ()


def dialplan_steps(context_name: str, exten: str) -> list[tuple[str, str]]:
    """(application, data) of each priority of ``[context_name]`` ``exten`` in the
    extensions.conf an administrator deploys (inline comments removed)."""
    conf = Path(__file__).resolve().parent.parent / "asterisk_conf" / "extensions.conf"
    steps: list[tuple[str, str]] = []
    context = current = ""
    for raw in conf.read_text().splitlines():
        text = raw.split(";", 1)[0].strip()
        if text.startswith("["):
            context = text.strip("[]")
            continue
        keyword, arrow, body = text.partition("=>")
        if context != context_name or not arrow:
            continue
        if keyword.strip() == "exten":
            current, _, body = body.strip().partition(",")  # exten => 1022,1,App(...)
        if current != exten:
            continue
        _, _, call = body.strip().partition(",")  # the priority: 1, n or n(label)
        app, _, data = call.partition("(")
        steps.append((app.strip(), data.rstrip().removesuffix(")")))
    return steps


def transfer_context(line: str) -> list[tuple[str, str]]:
    return dialplan_steps("hotline-transfer", line)


@pytest.mark.parametrize(
    ("line", "queue", "prio"), [("115", "emergency-115", "20"), ("1022", "hotline-1022", "5")]
)
async def test_given_a_bridged_1022_caller_when_redirected_to_hotline_transfer_then_the_dialplan_of_extensions_conf_runs_and_the_caller_rejoins(
    board: Switchboard, ami: RawAmi, line: str, queue: str, prio: str
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
    board.add_softphone(Softphone("op201", ring_delay=1.0, talk_time=2.0))
    await log_in(ami, "hotline-1022", "PJSIP/op101")
    call = await board.place_call("1022")
    await ami.next_event("AgentConnect")
    await log_in(ami, queue, "PJSIP/op201")

    reply = await ami.action(
        "Redirect",
        ("Channel", call.channel),
        ("Context", "hotline-transfer"),
        ("Exten", line),
        ("Priority", "1"),
    )
    await collect(ami, caller_hangup(call.channel))
    outcome = await call.wait()
    messages = [Message(e.encode(), tuple(e.fields())) for e in board.events]  # all classes

    assert reply["Message"] == "Redirect successful"
    ran = [
        (m["Application"], m["AppData"])
        for m in messages
        if m.event == "Newexten" and m.get("Context") == "hotline-transfer"
    ]
    values = {"UNIQUEID": call.uniqueid, "HOTLINE_TICKET": "", "EXTEN": line}
    values["HOTLINE_LINE_QUEUE"] = queue
    expected = [
        (app, re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], data))
        for app, data in transfer_context(line)
    ]
    assert ran == expected
    assert (f"QUEUE_PRIO={prio}") in [data for _, data in ran]
    find_in_order(
        messages,
        [
            is_event("Hangup", Channel="PJSIP/op101-"),
            is_event("VarSet", Channel=call.channel, Variable="ANSWEREDTIME", Value="0"),
            is_event("Newexten", Channel=call.channel, Context="hotline-transfer"),
            is_event("VarSet", Channel=call.channel, Variable="ANSWEREDTIME", Value=""),
            is_event("QueueCallerJoin", Channel=call.channel, Queue=queue),
            is_event("AgentConnect", Interface="PJSIP/op201"),
            is_event("AgentComplete", Interface="PJSIP/op101", Reason="caller"),
        ],
    )
    assert outcome.answered_by == "PJSIP/op201"


async def test_given_an_operator_in_conversation_when_chanspy_is_originated_with_E_then_start_and_stop_frame_the_spied_call(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=20.0))
    board.add_softphone(Softphone("op1010", ring_delay=1.0, talk_time=600.0))
    board.add_softphone(Softphone("sup201", ring_delay=1.0, talk_time=600.0))
    await log_in(ami, "hotline-1022", "PJSIP/op1010")
    other = await board.place_call("1022", "0911111111")
    await ami.next_event("AgentConnect")
    await log_in(ami, "hotline-1022", "PJSIP/op101")
    call = await board.place_call("1022", "0901234567")
    await ami.next_event("AgentConnect")

    reply = await ami.action(
        "Originate",
        ("Channel", "PJSIP/sup201"),
        ("Application", "ChanSpy"),
        ("Data", "PJSIP/op101-,bqwES"),
        ("CallerID", "Whisper <op101>"),
        ("Async", "true"),
    )
    messages = await collect(
        ami, lambda m: m.event == "Hangup" and (m.get("Channel") or "").startswith("PJSIP/sup201-")
    )
    outcome = await call.wait()
    other.hangup()
    await other.wait()

    assert reply["Message"] == "Originate successfully queued"
    found = find_in_order(
        messages,
        [
            is_event("Newchannel", Channel="PJSIP/sup201-"),
            is_event("OriginateResponse", Response="Success", Application="ChanSpy"),
            is_event("ChanSpyStart", SpyerChannel="PJSIP/sup201-", SpyeeChannel="PJSIP/op101-"),
            is_event("Hangup", Channel="PJSIP/op101-"),
            is_event("ChanSpyStop", SpyerChannel="PJSIP/sup201-", SpyeeChannel="PJSIP/op101-"),
            is_event("Hangup", Channel="PJSIP/sup201-"),
        ],
    )
    spy_keys = [f"{who}{key}" for who in ("Spyer", "Spyee") for key in SNAPSHOT_KEYS]
    assert found[2].keys() == ["Event", "Privilege", *spy_keys]
    assert found[2]["Privilege"] == "call,all"
    assert found[2]["SpyeeChannel"] == found[3]["Channel"]
    (session,) = board.spies
    assert (session.mode, session.quiet, session.ended_by) == ("whisper", True, "spyee-hangup")
    assert outcome.answered_by == "PJSIP/op101"
    assert not any(
        (m.get("SpyeeChannel") or "").startswith("PJSIP/op1010-") for m in messages
    )  # the dash keeps op101's prefix off op1010


async def test_given_nobody_to_spy_on_when_chanspy_runs_then_S_ends_it_at_once_and_without_S_it_scans_until_hung_up(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("sup201", ring_delay=1.0, talk_time=600.0))
    board.add_softphone(Softphone("sup202", ring_delay=1.0, talk_time=600.0))

    for channel, data in (
        ("PJSIP/sup201", "PJSIP/op101-,bqES"),
        ("PJSIP/sup202", "PJSIP/op101-,q"),
    ):
        await ami.action(
            "Originate",
            ("Channel", channel),
            ("Application", "ChanSpy"),
            ("Data", data),
            ("Async", "true"),
        )
    stopped = await collect(
        ami, lambda m: m.event == "Hangup" and (m.get("Channel") or "").startswith("PJSIP/sup201-")
    )
    await board.clock.sleep(30.0)
    scanning = [c.name for c in board.truth().channels]
    hangup = await ami.action("Hangup", ("Channel", scanning[0]))
    gone = await ami.next_event("Hangup")

    assert not any(m.event == "ChanSpyStart" for m in stopped)
    assert [n.split("-")[0] for n in scanning] == ["PJSIP/sup202"]
    assert hangup["Message"] == "Channel Hungup"
    assert gone["Channel"] == scanning[0]
    assert board.spies == []


async def test_given_redirects_without_context_or_priority_or_with_an_unknown_label_when_sent_then_refused_as_action_redirect_does(
    board: Switchboard, ami: RawAmi
) -> None:
    """main/manager.c action_redirect (Asterisk 20) requires Channel, Context, Exten and
    Priority, looks a label up with ast_findlabel_extension ("Priority is invalid" when it
    is not there) and only then looks for the channel."""
    call = await board.place_call("1022")
    while not board.truth().queues["hotline-1022"].callers:
        await asyncio.sleep(0.01)
    where = [("Context", "hotline-transfer"), ("Exten", "115"), ("Priority", "1")]

    replies = [
        await ami.action("Redirect", ("Channel", call.channel), *without)
        for without in (where[1:], [where[0], where[2]], where[:2])
    ]
    label = await ami.action(
        "Redirect",
        ("Channel", call.channel),
        ("Context", "hotline-queue"),
        ("Exten", "115"),
        ("Priority", "nowhere"),
    )
    nobody = await ami.action("Redirect", ("Channel", "PJSIP/telco-ffffffff"), *where)
    callers = board.truth().queues["hotline-1022"].callers
    call.hangup()
    await call.wait()

    assert [r["Message"] for r in replies] == [
        "Context not specified",
        "Exten not specified",
        "Priority not specified",
    ]
    assert label["Message"] == "Priority is invalid"
    assert nobody["Message"] == "Channel does not exist: PJSIP/telco-ffffffff"
    assert [c.channel for c in callers] == [call.channel]  # still waiting, never moved


async def test_given_an_operators_leg_when_redirected_then_asterisk_takes_it_over_into_the_dialplan_and_the_caller_is_released(
    tmp_path: Path,
) -> None:
    """main/pbx.c ast_async_goto (Asterisk 20): a bridged channel that runs no dialplan — the
    operator's leg app_queue bridged — gets AST_SOFTHANGUP_ASYNCGOTO, leaves the bridge and runs
    the dialplan at the target (ast_bridge_run_after_goto), not "Redirect failed". The caller,
    alone, leaves the bridge; its dialplan ends with ast_softhangup(APPUNLOAD), on which
    apps/app_queue.c handle_hangup sends AgentComplete, Reason caller."""
    board = make_board(tmp_path)
    await board.start()
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
    board.add_softphone(Softphone("1002", ring_delay=1.0, talk_time=2.0))
    client = await RawAmi.connect("127.0.0.1", board.ami_port)
    await client.login("admin", "secret")
    try:
        board.app_queue.add_member("hotline-1022", "PJSIP/op101")
        call = await board.place_call("1022")
        connect = await client.next_event("AgentConnect", within=10)
        leg = connect["DestChannel"]
        reply = await client.action(
            "Redirect",
            ("Channel", leg),
            ("Context", "operators"),
            ("Exten", "1002"),
            ("Priority", "1"),
        )
        messages = await collect(client, lambda m: m.event == "Hangup" and m["Channel"] == leg)
        outcome = await call.wait()
    finally:
        await client.close()
        await board.stop()

    assert reply["Message"] == "Redirect successful"
    found = find_in_order(
        messages,
        [
            is_event("BridgeLeave", Channel=leg),
            is_event("BridgeLeave", Channel=call.channel),
            is_event("SoftHangupRequest", Channel=call.channel),
            is_event("AgentComplete", Interface="PJSIP/op101", Reason="caller", DestChannel=leg),
            is_event("Hangup", Channel=call.channel),
            is_event("Newexten", Channel=leg, Context="operators", Exten="1002"),
            is_event("DialBegin", Channel=leg, DestChannel="PJSIP/1002-"),
            is_event("Hangup", Channel=leg),
        ],
    )
    assert not [m for m in messages[: messages.index(found[4])] if m.event == "Hangup"]
    assert outcome.answered_by == "PJSIP/op101"
    assert board.truth().device_states.get("PJSIP/op101") == 1
