"""AMI transcripts replayed over TCP to our AMI adapter and applied to the live model: real ones
recorded by panoramisk (Asterisk 11 era: every frame parses, unknown and old-style events are
ignored, nothing breaks) and Asterisk 20 sequences written from app_queue.c (a queue timeout,
transfers of a waiting and of a talking caller). All in tests/fixtures/ami (SOURCES.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.ami import AmiConnection, AmiItem, AmiUrl, Reconnected
from agents.events import AmiEvent
from agents.model import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallerJoined,
    LiveModel,
    OperatorState,
    Outcome,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "ami"
RECORDED = [
    "agent_loggued_in.yaml",
    "agent_not_in_pause.yaml",
    "originate_with_events.yaml",
    "queue_status.yaml",
]
TIMEOUT = "queue_timeout_then_answered.yaml"
MOVED_WAITING = "transfer_while_waiting.yaml"
MOVED_TALKING = "transfer_while_talking.yaml"
EVENT_FILES = [*RECORDED, TIMEOUT, MOVED_WAITING, MOVED_TALKING]
CALLER = "1796400000.42"


def blocks(name: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8", errors="replace")
    return [b.strip("\n") for b in text.split("\n\n") if b.strip().startswith("Event:")]


async def replay_server(frames: list[str]) -> tuple[asyncio.Server, int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        login = (await reader.readuntil(b"\r\n\r\n")).decode()
        action_id = next(
            line.split(": ", 1)[1]
            for line in login.split("\r\n")
            if line.lower().startswith("actionid")
        )
        writer.write(
            f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted\r\n\r\n".encode()
        )
        for frame in frames:
            writer.write(frame.replace("\n", "\r\n").encode() + b"\r\n\r\n")
        await writer.drain()
        await reader.read()  # keep the session open until the client goes

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
def inbox() -> asyncio.Queue[AmiItem]:
    return asyncio.Queue()


@pytest.mark.parametrize("name", EVENT_FILES)
async def test_given_a_recorded_transcript_when_replayed_over_tcp_then_every_event_reaches_the_model(
    name: str, inbox: asyncio.Queue[AmiItem]
) -> None:
    frames = blocks(name)
    server, port = await replay_server(frames)
    ami = AmiConnection(
        AmiUrl("127.0.0.1", port, "hotline", "s"), inbox, ping_interval=30, action_timeout=2
    )
    await ami.start()
    try:
        received: list[AmiEvent] = []
        async with asyncio.timeout(10):
            while len(received) < len(frames):
                item = await inbox.get()
                if not isinstance(item, Reconnected):
                    received.append(item)
    finally:
        await ami.close()
        server.close()
        await server.wait_closed()

    model = LiveModel(["hotline-1022"])
    for event in received:
        model.apply(event)
    assert [e.name for e in received] == [
        f.split("\n", 1)[0].split(": ", 1)[1].strip() for f in frames
    ]
    assert all(e.fields for e in received)


def test_given_the_fixture_folder_when_listed_then_it_holds_exactly_the_transcripts_read_here() -> (
    None
):
    assert sorted(p.name for p in FIXTURES.glob("*.yaml")) == sorted(EVENT_FILES)
    assert all(len(blocks(name)) > 0 for name in EVENT_FILES)
    written = [TIMEOUT, MOVED_WAITING, MOVED_TALKING]
    assert all("app_queue.c" in (FIXTURES / name).read_text().split("\n\n")[0] for name in written)


def timed(name: str) -> list[AmiEvent]:
    """The transcript's events, each at its own ``Timestamp:`` (timestampevents = yes)."""
    events = []
    for block in blocks(name):
        fields = dict(line.partition(": ")[::2] for line in block.split("\n"))
        at = datetime.fromtimestamp(float(fields["Timestamp"]), UTC)
        events.append(AmiEvent.of(fields, at))
    return events


def replay(
    name: str, until: Callable[[AmiEvent], bool] | None = None
) -> tuple[LiveModel, list[Outcome]]:
    """Apply the transcript to a fresh live model, up to and including the first event that
    ``until`` accepts."""
    model = LiveModel(["hotline-1022", "emergency-115"])
    outcomes: list[Outcome] = []
    for event in timed(name):
        outcomes += model.apply(event)
        if until is not None and until(event):
            break
    return model, outcomes


def named(name: str, **fields: str) -> Callable[[AmiEvent], bool]:
    return lambda e: e.name == name and all(e.get(k) == v for k, v in fields.items())


def test_given_a_queue_timeout_when_the_caller_is_queued_again_then_they_wait_again_and_are_answered_with_the_second_wait() -> (
    None
):
    """app_queue.c ``queue_exec``: the timeout exit calls ``record_abandoned`` (Abandon), then
    ``leave_queue`` (Leave); the channel lives on and the dialplan queues it again."""
    events = timed(TIMEOUT)
    names = [e.name for e in events]
    abandon = names.index("QueueCallerAbandon")
    assert names[abandon : abandon + 3] == [
        "QueueCallerAbandon",
        "QueueCallerLeave",
        "QueueCallerJoin",
    ]
    assert not any(
        e.name == "Hangup" and e.get("Uniqueid") == CALLER for e in events[: abandon + 3]
    )

    model, _ = replay(
        TIMEOUT,
        until=named(
            "QueueCallerJoin", Queue="hotline-1022", Count="1", Timestamp="1796400600.000000"
        ),
    )
    assert list(model.queues["hotline-1022"].waiting) == [CALLER]

    model, outcomes = replay(TIMEOUT)
    assert not [o for o in outcomes if isinstance(o, CallAbandoned)]
    assert model.unanswered == {}
    assert [o.queue for o in outcomes if isinstance(o, CallerJoined)] == ["hotline-1022"] * 2
    (answered,) = [o for o in outcomes if isinstance(o, CallAnswered)]
    assert (answered.uniqueid, answered.interface, answered.hold_seconds) == (
        CALLER,
        "PJSIP/op101",
        6,
    )
    assert model.queues["hotline-1022"].waiting == {}
    assert model.calls == {}
    assert model.operators["PJSIP/op101"].current_call is None


def test_given_a_waiting_caller_moved_to_115_when_replayed_then_they_wait_on_115_only_and_a_dispatcher_answers() -> (
    None
):
    """manager.c ``action_redirect`` → soft hang-up; app_queue.c ``queue_exec`` ``stop:`` with
    ``!qe.handled``: ``record_abandoned`` then ``leave_queue`` on hotline-1022; the channel
    goes on into emergency-115."""
    model, _ = replay(MOVED_WAITING, until=named("QueueCallerJoin", Queue="emergency-115"))
    assert model.queues["hotline-1022"].waiting == {}
    assert list(model.queues["emergency-115"].waiting) == [CALLER]
    assert model.caller_channel(CALLER) == ("PJSIP/telco-0000002a", "emergency-115", "")

    model, outcomes = replay(MOVED_WAITING)
    assert not [o for o in outcomes if isinstance(o, CallAbandoned)]
    (answered,) = [o for o in outcomes if isinstance(o, CallAnswered)]
    assert (answered.queue, answered.interface, answered.hold_seconds) == (
        "emergency-115",
        "PJSIP/op201",
        4,
    )
    assert model.calls == {}


def test_given_a_talking_caller_moved_to_115_when_the_first_operators_leg_hangs_up_then_that_operator_is_off_the_call() -> (
    None
):
    """No AgentComplete at the Redirect (app_queue.c ``handle_hangup`` follows hang-up requests
    only, and the async goto's soft hang-up publishes none): the first operator's conversation
    ends with their leg's ``Hangup`` and ``QueueMemberStatus`` ``InCall: 0``; their
    AgentComplete comes at the very end, Reason caller, TalkTime of both conversations."""
    events = timed(MOVED_TALKING)
    redirect = next(
        i
        for i, e in enumerate(events)
        if e.name == "Hangup" and e.get("Channel").startswith("PJSIP/op101-")
    )
    assert not any(e.name == "AgentComplete" for e in events[:redirect])

    model, _ = replay(
        MOVED_TALKING, until=named("QueueMemberStatus", Interface="PJSIP/op101", InCall="0")
    )
    assert model.operators["PJSIP/op101"].current_call is None
    assert model.operators["PJSIP/op101"].state is not OperatorState.ON_CALL

    model, _ = replay(MOVED_TALKING, until=named("AgentConnect", Interface="PJSIP/op201"))
    assert model.calls[CALLER].interface == "PJSIP/op201"
    assert model.call_of("PJSIP/op201") is not None

    late = [e for e in events if e.name == "AgentComplete" and e.get("Interface") == "PJSIP/op101"]
    assert [(e.get("Queue"), e.get("Reason"), e.int("TalkTime")) for e in late] == [
        ("hotline-1022", "caller", 183)
    ]
    assert late[0].get("DestChannel") == ""


def test_given_a_talking_caller_moved_to_115_when_the_whole_call_is_replayed_then_each_operator_talked_only_their_part() -> (
    None
):
    """The first operator's conversation is 5 s → 65 s (their leg's Hangup), the second's
    68 s → 188 s; the late AgentComplete of the first (TalkTime 183) counts nothing more."""
    _, outcomes = replay(MOVED_TALKING)

    completed = [
        (o.interface, o.queue, o.talk_seconds, o.reason)
        for o in outcomes
        if isinstance(o, CallCompleted)
    ]
    assert completed == [
        ("PJSIP/op101", "hotline-1022", 60, "transfer"),
        ("PJSIP/op201", "emergency-115", 120, "caller"),
    ]
    assert not [o for o in outcomes if isinstance(o, CallAbandoned)]


def test_given_a_caller_queued_again_or_moved_while_waiting_when_replayed_then_nobody_is_abandoned() -> (
    None
):
    """Both sequences carry a QueueCallerAbandon although the caller goes on (app_queue.c
    queue_exec: record_abandoned at the timeout, and at the soft hang-up of a Redirect with
    !qe.handled); the live model keeps it aside and the caller joins a queue again."""
    for name in (TIMEOUT, MOVED_WAITING):
        model, outcomes = replay(name)
        assert not [o for o in outcomes if isinstance(o, CallAbandoned)]
        assert len([o for o in outcomes if isinstance(o, CallerJoined)]) == 2
        assert model.unanswered == {}
