"""The switchboard's AMI server against Asterisk 20's exact bytes (reference §3): banner,
login, replies, list actions, queue actions and their events, read-class filtering, and the
fault hooks (freeze, restart, inject)."""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from switchboard import Clock, QueueConfig, Softphone, StaticMember, Switchboard
from switchboard.raw_client import Message, RawAmi
from switchboard.testing import BACKEND_USER, EVENT_KEYS, EVERYTHING_USER

SCALE = 50.0


def make_board(tmp_path: Path, **kw: object) -> Switchboard:
    return Switchboard(
        agi_port=1,  # nothing listens: AGISTATUS=FAILURE, apology, the line's queue
        recordings_dir=tmp_path / "rec",
        ami_users={
            "hotline": BACKEND_USER,
            "admin": EVERYTHING_USER,
            "reader": ("pw", {"read": {"agent"}, "write": set()}),
        },
        clock=Clock(scale=SCALE),
        seed=7,
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
    reply = await client.login("hotline", "secret")
    assert reply["Message"] == "Authentication accepted"
    assert (await client.read()).event == "FullyBooted"
    yield client
    await client.close()


async def connect(board: Switchboard) -> RawAmi:
    return await RawAmi.connect("127.0.0.1", board.ami_port)


async def test_given_a_connection_when_it_opens_then_the_banner_is_asterisk_20s_line(
    board: Switchboard,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", board.ami_port)
    first = await asyncio.wait_for(reader.read(100), 2)
    writer.close()

    assert first == b"Asterisk Call Manager/9.0.0\r\n"


async def test_given_good_credentials_when_logging_in_then_accepted_and_fully_booted_follows(
    board: Switchboard,
) -> None:
    client = await connect(board)
    client.send_raw(b"Action: Login\r\nActionID: 42\r\nUsername: hotline\r\nSecret: secret\r\n\r\n")

    reply = await client.read()
    booted = await client.read()
    await client.close()

    assert reply.raw == (
        b"Response: Success\r\nActionID: 42\r\nMessage: Authentication accepted\r\n\r\n"
    )
    assert booted.keys() == ["Event", "Privilege", "Uptime", "LastReload", "Status"]
    assert booted["Privilege"] == "system,all"
    assert booted["Status"] == "Fully Booted"


async def test_given_lf_only_lines_when_logging_in_then_the_server_accepts_them(
    board: Switchboard,
) -> None:
    client = await connect(board)
    client.send_raw(b"action: login\nusername: hotline\nsecret: secret\nevents: off\n\n")

    reply = await client.read()
    client.send_raw(b"Action: Ping\n\n")
    pong = await client.read()
    await client.close()

    assert reply.raw == b"Response: Success\r\nMessage: Authentication accepted\r\n\r\n"
    assert pong["Ping"] == "Pong"  # events off: no FullyBooted in between


async def test_given_a_wrong_secret_when_logging_in_then_one_second_later_error_and_close(
    board: Switchboard,
) -> None:
    client = await connect(board)
    started = time.monotonic()
    client.send_raw(b"Action: Login\r\nUsername: hotline\r\nSecret: nope\r\n\r\n")

    reply = await client.read()
    elapsed = time.monotonic() - started
    rest = await asyncio.wait_for(client.reader.read(), 2)

    assert reply.raw == b"Response: Error\r\nMessage: Authentication failed\r\n\r\n"
    assert elapsed >= 1.0 / SCALE  # Asterisk's 1 s, in simulated time
    assert rest == b""  # the server closed the connection


async def test_given_a_challenge_when_logging_in_with_its_md5_then_accepted(
    board: Switchboard,
) -> None:
    client = await connect(board)
    challenge = await client.action("Challenge", ("AuthType", "MD5"), ("ActionID", "c1"))
    key = hashlib.md5((challenge["Challenge"] + "secret").encode()).hexdigest()  # noqa: S324

    reply = await client.action(
        "Login",
        ("AuthType", "MD5"),
        ("Username", "hotline"),
        ("Key", key),
        ("Events", "off"),
    )
    await client.close()

    assert challenge.keys() == ["Response", "ActionID", "Challenge"]
    assert challenge["Challenge"].isdigit()
    assert reply["Message"] == "Authentication accepted"


async def test_given_a_challenge_without_authtype_when_sent_then_error(board: Switchboard) -> None:
    client = await connect(board)

    reply = await client.action("Challenge")
    await client.close()

    assert reply.raw == b"Response: Error\r\nMessage: Must specify AuthType\r\n\r\n"


async def test_given_no_login_when_an_action_is_sent_then_permission_denied(
    board: Switchboard,
) -> None:
    client = await connect(board)

    reply = await client.action("QueueStatus", ("ActionID", "x"))
    await client.close()

    assert reply.raw == b"Response: Error\r\nActionID: x\r\nMessage: Permission denied\r\n\r\n"


async def test_given_a_logged_in_session_when_logging_in_again_then_already_authenticated(
    ami: RawAmi,
) -> None:
    reply = await ami.login("hotline", "secret")

    assert reply.raw == b"Response: Success\r\nMessage: Already authenticated\r\n\r\n"


async def test_given_an_unknown_action_when_sent_then_invalid_unknown_command(ami: RawAmi) -> None:
    reply = await ami.action("Frobnicate", ("ActionID", "9"))
    missing = await ami.action("", ("ActionID", "10"))

    assert reply.raw == (
        b"Response: Error\r\nActionID: 9\r\nMessage: Invalid/unknown command: Frobnicate."
        b" Use Action: ListCommands to show available commands.\r\n\r\n"
    )
    assert missing["Message"] == "Missing action in request"


async def test_given_a_user_without_write_class_when_queueadd_then_permission_denied(
    board: Switchboard,
) -> None:
    client = await connect(board)
    await client.login("reader", "pw")

    reply = await client.action("QueueAdd", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))
    await client.close()

    assert reply["Response"] == "Error"
    assert reply["Message"] == "Permission denied"
    assert board.truth().queues["hotline-1022"].members == ()


async def test_given_ping_when_sent_then_pong_with_a_microsecond_timestamp(ami: RawAmi) -> None:
    reply = await ami.action("Ping", ("ActionID", "p"))

    assert reply.keys() == ["Response", "ActionID", "Ping", "Timestamp"]
    assert reply["Ping"] == "Pong"
    seconds, micros = reply["Timestamp"].split(".")
    assert seconds.isdigit()
    assert len(micros) == 6


async def test_given_no_actionid_when_replying_then_none_is_echoed(ami: RawAmi) -> None:
    reply = await ami.action("Ping")

    assert "ActionID" not in reply


@pytest.fixture
async def admin(board: Switchboard) -> AsyncIterator[RawAmi]:
    client = await RawAmi.connect("127.0.0.1", board.ami_port)
    await client.login("admin", "secret", events="off")
    yield client
    await client.close()


async def test_given_core_show_version_when_commanded_then_output_headers_follow(
    ami: RawAmi, admin: RawAmi
) -> None:
    denied = await ami.action("Command", ("Command", "core show version"))
    reply = await admin.action("Command", ("Command", "core show version"), ("ActionID", "v"))

    assert denied["Message"] == "Permission denied"  # manager.conf grants no "command"
    assert reply.keys() == ["Response", "ActionID", "Message", "Output"]
    assert reply["Message"] == "Command output follows"
    assert reply["Output"].startswith("Asterisk 20.")


async def test_given_queue_show_when_commanded_then_each_line_is_an_output_header(
    board: Switchboard, admin: RawAmi
) -> None:
    ami = admin
    board.add_softphone(Softphone("op101"))
    await ami.action(
        "QueueAdd",
        ("Queue", "hotline-1022"),
        ("Interface", "PJSIP/op101"),
        ("MemberName", "Operator 101"),
    )

    reply = await ami.action("Command", ("Command", "queue show hotline-1022"))
    unknown = await ami.action("Command", ("Command", "frob nicate"))

    outputs = [v for k, v in reply.fields if k == "Output"]
    assert outputs[0].startswith("hotline-1022 has 0 calls (max unlimited) in 'leastrecent'")
    assert outputs[1] == "   Members: "
    assert outputs[2].startswith("      Operator 101 (PJSIP/op101) (ringinuse disabled) (dynamic)")
    assert "(Not in use)" in outputs[2]
    assert outputs[3] == "   No Callers"
    assert unknown["Response"] == "Error"
    assert unknown["Output"].startswith("No such command 'frob nicate'")


async def test_given_queues_with_members_and_a_caller_when_queuestatus_then_the_list_is_complete(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101", answers=False))
    for op in ("PJSIP/op101", "PJSIP/op102"):
        await ami.action("QueueAdd", ("Queue", "hotline-1022"), ("Interface", op))
    call = await board.place_call("1022", "0901234567")
    while not board.truth().queues["hotline-1022"].callers:
        await asyncio.sleep(0.01)

    ami.send([("Action", "QueueStatus"), ("ActionID", "qs")])
    messages: list[Message] = []
    while not messages or messages[-1].event != "QueueStatusComplete":
        message = await ami.read()
        if message.get("ActionID") == "qs":
            messages.append(message)
    call.hangup()
    await call.wait()

    first, *items, last = messages
    assert first.raw == (
        b"Response: Success\r\nActionID: qs\r\nEventList: start\r\n"
        b"Message: Queue status will follow\r\n\r\n"
    )
    assert [m.event for m in items] == [
        "QueueParams",
        "QueueMember",
        "QueueMember",
        "QueueEntry",
        "QueueParams",
    ]
    assert all("Privilege" not in m and m.keys()[-1] == "ActionID" for m in items)
    assert items[0].keys()[1:-1] == [
        "Queue",
        "Max",
        "Strategy",
        "Calls",
        "Holdtime",
        "TalkTime",
        "Completed",
        "Abandoned",
        "ServiceLevel",
        "ServicelevelPerf",
        "ServicelevelPerf2",
        "Weight",
    ]
    assert items[0]["Calls"] == "1"
    assert items[1].keys()[1:-1] == [
        "Queue",
        "Name",
        "Location",
        "StateInterface",
        "Membership",
        "Penalty",
        "CallsTaken",
        "LastCall",
        "LastPause",
        "LoginTime",
        "InCall",
        "Status",
        "Paused",
        "PausedReason",
        "Wrapuptime",
    ]
    assert items[2]["Status"] == "4"  # op102 has no softphone: Invalid
    assert items[3]["Channel"].startswith("PJSIP/telco-")
    assert items[3]["Position"] == "1"
    assert items[3]["CallerIDNum"] == "0901234567"
    assert items[3]["CallerIDName"] == "unknown"
    assert items[4]["Queue"] == "emergency-115"
    assert last.raw == (
        b"Event: QueueStatusComplete\r\nActionID: qs\r\nEventList: Complete\r\nListItems: 5\r\n\r\n"
    )


async def test_given_a_queue_filter_when_queuesummary_then_one_item_and_complete(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101"))
    await ami.action("QueueAdd", ("Queue", "emergency-115"), ("Interface", "PJSIP/op101"))

    ami.send([("Action", "QueueSummary"), ("Queue", "emergency-115"), ("ActionID", "s")])
    messages = [await ami.read() for _ in range(4)]

    replies = [m for m in messages if m.get("ActionID") == "s"]
    assert replies[0]["Message"] == "Queue summary will follow"
    assert replies[1].keys() == [
        "Event",
        "Queue",
        "LoggedIn",
        "Available",
        "Callers",
        "HoldTime",
        "TalkTime",
        "LongestHoldTime",
        "ActionID",
    ]
    assert (replies[1]["LoggedIn"], replies[1]["Available"]) == ("1", "1")
    assert replies[2]["Event"] == "QueueSummaryComplete"
    assert replies[2]["ListItems"] == "1"


async def test_given_queueadd_when_the_reply_comes_then_member_added_follows_it(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101"))
    assert (await ami.read()).event == "DeviceStateChange"
    ami.send(
        [
            ("Action", "QueueAdd"),
            ("ActionID", "a1"),
            ("Queue", "hotline-1022"),
            ("Interface", "PJSIP/op101"),
            ("MemberName", "Operator 101"),
            ("Penalty", "2"),
        ]
    )

    reply = await ami.read()
    added = await ami.read()
    again = await ami.action("QueueAdd", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))
    await ami.action(
        "QueueAdd",
        ("Queue", "hotline-1022"),
        ("Interface", "PJSIP/op102"),
        ("Wrapuptime", "30"),
    )
    own = await ami.next_event("QueueMemberAdded")
    nowhere = await ami.action("QueueAdd", ("Queue", "nope"), ("Interface", "PJSIP/op101"))

    assert (
        reply.raw
        == b"Response: Success\r\nActionID: a1\r\nMessage: Added interface to queue\r\n\r\n"
    )
    assert added.keys() == EVENT_KEYS["QueueMemberAdded"]
    assert added["Privilege"] == "agent,all"
    assert (added["MemberName"], added["Membership"], added["Penalty"]) == (
        "Operator 101",
        "dynamic",
        "2",
    )
    assert (added["Status"], added["Paused"], added["Ringinuse"], added["Wrapuptime"]) == (
        "1",
        "0",
        "0",
        "0",  # queue_member_blob_create: the member's own wrapuptime, not the queue's 15
    )
    assert (own["Interface"], own["Wrapuptime"]) == ("PJSIP/op102", "30")
    assert again["Message"] == "Unable to add interface: Already there"
    assert nowhere["Message"] == "Unable to add interface to queue: No such queue"


async def test_given_a_member_when_paused_with_reason_then_reply_and_pause_event(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101"))
    for queue in ("hotline-1022", "emergency-115"):
        await ami.action("QueueAdd", ("Queue", queue), ("Interface", "PJSIP/op101"))
        await ami.read()

    ami.send(
        [
            ("Action", "QueuePause"),
            ("Interface", "PJSIP/op101"),
            ("Paused", "true"),
            ("Reason", "Lunch"),
        ]
    )
    reply = await ami.read()
    events = [await ami.read(), await ami.read()]
    one = await ami.action(
        "QueuePause",
        ("Interface", "PJSIP/op101"),
        ("Paused", "false"),
        ("Queue", "emergency-115"),
    )
    unpaused = await ami.read()
    missing = await ami.action("QueuePause", ("Interface", "PJSIP/op999"), ("Paused", "true"))
    no_args = await ami.action("QueuePause", ("Interface", "PJSIP/op101"))

    assert reply["Message"] == "Interface paused successfully"
    assert [(e.event, e["Queue"], e["Paused"], e["PausedReason"]) for e in events] == [
        ("QueueMemberPause", "hotline-1022", "1", "Lunch"),
        ("QueueMemberPause", "emergency-115", "1", "Lunch"),
    ]
    assert events[0].keys() == EVENT_KEYS["QueueMemberPause"]
    assert int(events[0]["LastPause"]) > 0
    assert one["Message"] == "Interface unpaused successfully"
    assert (unpaused["Queue"], unpaused["Paused"], unpaused["PausedReason"]) == (
        "emergency-115",
        "0",
        "",
    )
    assert missing["Message"] == "Interface not found"
    assert no_args["Message"] == "Need 'Interface' and 'Paused' parameters."
    paused = {m.queue: m.paused for q in board.truth().queues.values() for m in q.members}
    assert paused == {"hotline-1022": True, "emergency-115": False}


async def test_given_a_member_when_removed_then_reply_event_and_not_there_afterwards(
    board: Switchboard, ami: RawAmi
) -> None:
    await ami.action("QueueAdd", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))
    await ami.read()

    reply = await ami.action("QueueRemove", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))
    removed = await ami.read()
    again = await ami.action("QueueRemove", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))

    assert reply["Message"] == "Removed interface from queue"
    assert removed.keys() == EVENT_KEYS["QueueMemberRemoved"]
    assert removed["Interface"] == "PJSIP/op101"
    assert again["Message"] == "Unable to remove interface: Not there"


async def test_given_a_static_member_when_removed_then_member_not_dynamic(tmp_path: Path) -> None:
    board = make_board(
        tmp_path,
        queues=[QueueConfig("q", members=(StaticMember("PJSIP/op101", name="Op"),))],
    )
    await board.start()
    client = await connect(board)
    await client.login("hotline", "secret", events="off")

    reply = await client.action("QueueRemove", ("Queue", "q"), ("Interface", "PJSIP/op101"))
    await client.close()
    await board.stop()

    assert reply["Message"] == "Member not dynamic"


async def test_given_a_member_when_its_penalty_is_set_then_reply_and_penalty_event(
    board: Switchboard, ami: RawAmi
) -> None:
    await ami.action("QueueAdd", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))
    await ami.read()

    reply = await ami.action("QueuePenalty", ("Interface", "PJSIP/op101"), ("Penalty", "3"))
    event = await ami.read()
    bad = await ami.action("QueuePenalty", ("Interface", "PJSIP/op999"), ("Penalty", "3"))

    assert reply["Message"] == "Interface penalty set successfully"
    assert (event.event, event["Penalty"]) == ("QueueMemberPenalty", "3")
    assert bad["Message"] == "Invalid interface, queuename or penalty"


async def test_given_a_softphone_when_it_unregisters_then_queuememberstatus_only_on_change(
    board: Switchboard, ami: RawAmi
) -> None:
    board.add_softphone(Softphone("op101"))
    await ami.action("QueueAdd", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))
    await ami.read()

    board.set_registered("op101", False)
    board.set_registered("op101", False)  # no change, no event
    board.set_registered("op101", True)
    ami.send([("Action", "Ping")])  # everything published before the reply is on the wire
    messages: list[Message] = []
    while not messages or messages[-1].get("Ping") != "Pong":
        messages.append(await ami.read())

    statuses = [m for m in messages if m.event == "QueueMemberStatus"]
    assert [m["Status"] for m in statuses] == ["5", "1"]
    assert statuses[0].keys() == EVENT_KEYS["QueueMemberStatus"]
    assert [m["State"] for m in messages if m.event == "DeviceStateChange"] == [
        "UNAVAILABLE",
        "NOT_INUSE",
    ]


async def test_given_events_filtered_to_agent_when_a_call_arrives_then_only_agent_events_come(
    board: Switchboard,
) -> None:
    client = await connect(board)
    await client.login("reader", "pw")  # read = agent only: no FullyBooted
    call_events = await connect(board)
    await call_events.login("hotline", "secret", events="call")

    call = await board.place_call("1022")
    join = await client.read()
    first_call_event = await call_events.read()
    call.hangup()
    await call.wait()
    await client.close()
    await call_events.close()

    assert join.event == "QueueCallerJoin"
    assert first_call_event.event == "Newchannel"


async def test_given_events_off_when_the_events_action_turns_them_on_then_they_flow(
    board: Switchboard,
) -> None:
    client = await connect(board)
    await client.login("admin", "secret", events="off")

    reply = await client.action("Events", ("EventMask", "agent"), ("ActionID", "e"))
    board.add_softphone(Softphone("op101"))
    await client.action("QueueAdd", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101"))
    event = await client.read()
    off = await client.action("Events", ("EventMask", "off"))
    await client.close()

    assert reply.raw == b"Response: Success\r\nActionID: e\r\nEvents: On\r\n\r\n"
    assert event.event == "QueueMemberAdded"
    assert off["Events"] == "Off"


async def test_given_logoff_when_sent_then_goodbye_and_close(ami: RawAmi) -> None:
    reply = await ami.action("Logoff")
    rest = await asyncio.wait_for(ami.reader.read(), 2)

    assert reply.raw == b"Response: Goodbye\r\nMessage: Thanks for all the fish.\r\n\r\n"
    assert rest == b""


async def test_given_a_frozen_server_when_pinged_then_silence_until_thawed(
    board: Switchboard, ami: RawAmi
) -> None:
    board.freeze_ami()
    ami.send([("Action", "Ping"), ("ActionID", "frozen")])
    with pytest.raises(TimeoutError):
        await ami.read(0.2)

    board.thaw_ami()
    reply = await ami.read()

    assert reply["ActionID"] == "frozen"


async def test_given_a_restart_when_clients_reconnect_then_a_new_banner_on_the_same_port(
    board: Switchboard, ami: RawAmi
) -> None:
    port = board.ami_port

    await board.restart_ami()
    closed = await asyncio.wait_for(ami.reader.read(), 2)
    again = await connect(board)
    reply = await again.login("hotline", "secret")
    await again.close()

    assert closed == b""
    assert board.ami_port == port
    assert again.banner == b"Asterisk Call Manager/9.0.0\r\n"
    assert reply["Message"] == "Authentication accepted"


async def test_given_injected_bytes_when_sent_then_every_session_receives_them_verbatim(
    board: Switchboard, ami: RawAmi
) -> None:
    board.inject_ami(b"Event: Bogus\r\nNoColonHere\r\n\r\n")

    message = await ami.read()

    assert message.raw == b"Event: Bogus\r\nNoColonHere\r\n\r\n"


async def test_given_a_waiting_caller_when_coreshowchannels_then_its_channel_is_listed(
    board: Switchboard, ami: RawAmi
) -> None:
    call = await board.place_call("115", "0912345678")
    while not board.truth().queues["emergency-115"].callers:
        await asyncio.sleep(0.01)

    ami.send([("Action", "CoreShowChannels"), ("ActionID", "c")])
    listed: list[Message] = []
    while not listed or listed[-1].event != "CoreShowChannelsComplete":
        message = await ami.read()
        if message.get("ActionID") == "c":
            listed.append(message)
    getvar = await ami.action(
        "Getvar", ("Channel", call.channel), ("Variable", "HOTLINE_QUEUE"), ("ActionID", "g")
    )
    nochan = await ami.action("Getvar", ("Channel", "PJSIP/x-1"), ("Variable", "A"))
    call.hangup()
    await call.wait()

    assert listed[0]["Message"] == "Channels will follow"
    assert listed[1].keys()[:3] == ["Event", "ActionID", "Channel"]
    assert listed[1]["Channel"] == call.channel
    assert listed[1]["Application"] == "Queue"
    assert listed[1]["ApplicationData"] == "emergency-115,tC,,,120"
    assert listed[-1]["ListItems"] == "1"
    assert getvar.keys() == ["Response", "ActionID", "Variable", "Value"]
    assert getvar["Value"] == "emergency-115"
    assert nochan["Message"] == "No such channel"


async def test_given_no_login_when_the_auth_timeout_passes_then_the_connection_closes(
    board: Switchboard,
) -> None:
    client = await connect(board)

    rest = await asyncio.wait_for(client.reader.read(), 30.0 / SCALE + 2)

    assert rest == b""


async def test_given_a_line_longer_than_asterisks_buffer_when_sent_then_line_too_long(
    ami: RawAmi,
) -> None:
    ami.send_raw(b"Action: Ping\r\nX-Long: " + b"x" * 2000 + b"\r\n\r\n")

    reply = await ami.read()
    pong = await ami.action("Ping")

    assert reply["Message"] == "Failed to parse message: line too long"
    assert pong["Ping"] == "Pong"


async def test_given_timestampevents_when_an_event_is_sent_then_timestamp_follows_privilege(
    tmp_path: Path,
) -> None:
    board = make_board(tmp_path, timestamp_events=True)
    await board.start()
    client = await connect(board)
    await client.login("admin", "secret")
    await client.next_event("FullyBooted")

    board.add_softphone(Softphone("op101"))
    event = await client.next_event("DeviceStateChange")
    await client.close()
    await board.stop()

    assert event.keys() == ["Event", "Privilege", "Timestamp", "Device", "State"]
    assert re.fullmatch(r"\d{10}\.\d{6}", event["Timestamp"])


async def test_given_a_queue_with_statistics_when_queuereset_then_counters_return_to_zero(
    board: Switchboard, ami: RawAmi
) -> None:
    call = await board.place_call("1022", patience=1.0)
    await call.wait()
    before = board.truth().queues["hotline-1022"].abandoned

    reply = await ami.action("QueueReset", ("Queue", "hotline-1022"))
    log = await ami.action("QueueLog", ("Queue", "hotline-1022"), ("Event", "CUSTOM"))

    assert before == 1
    assert reply["Message"] == "Queue stats reset successfully"
    assert board.truth().queues["hotline-1022"].abandoned == 0
    assert log["Message"] == "Event added successfully"


async def test_given_an_action_split_across_tcp_segments_when_it_arrives_then_it_is_one_action(
    ami: RawAmi,
) -> None:
    for piece in (b"Action: Pi", b"ng\r\nActionID: sp", b"lit\r\n", b"\r\n"):
        ami.send_raw(piece)
        await ami.writer.drain()
        await asyncio.sleep(0.01)

    reply = await ami.read()

    assert (reply["ActionID"], reply["Ping"]) == ("split", "Pong")


async def test_given_sessions_when_killed_then_they_close_and_the_listener_still_accepts(
    board: Switchboard, ami: RawAmi
) -> None:
    await board.kill_ami_sessions()

    closed = await asyncio.wait_for(ami.reader.read(), 2)
    again = await connect(board)
    reply = await again.login("hotline", "secret")
    await again.close()

    assert closed == b""
    assert reply["Message"] == "Authentication accepted"
