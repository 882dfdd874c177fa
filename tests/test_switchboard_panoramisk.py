"""panoramisk 1.4 (pinned in pyproject) against the switchboard over real TCP: login with
FullyBooted, pushed events, list and single replies (reference §1.2, §1.7)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from panoramisk import Manager

from switchboard import Clock, Softphone, Switchboard
from switchboard.testing import BACKEND_USER


@pytest.fixture
async def board(tmp_path: Path) -> AsyncIterator[Switchboard]:
    board = Switchboard(
        agi_port=1,
        recordings_dir=tmp_path,
        ami_users={"hotline-backend": BACKEND_USER},
        clock=Clock(scale=50.0),
        seed=3,
    )
    await board.start()
    yield board
    await board.stop()


@pytest.fixture
async def manager(board: Switchboard) -> AsyncIterator[Any]:
    manager = Manager(
        host="127.0.0.1",
        port=board.ami_port,
        username="hotline-backend",
        secret="secret",
        ping_delay=60,
        reconnect_timeout=0.1,
    )
    await manager.connect()
    reply = await asyncio.wait_for(manager.authenticated_future, 5)
    assert reply.message == "Authentication accepted"
    yield manager
    manager.close()


async def test_given_panoramisk_when_it_logs_in_then_the_banner_version_is_parsed(
    manager: Any,
) -> None:
    assert manager.authenticated
    assert manager.protocol.version == "9.0.0"


async def test_given_panoramisk_when_queueadd_with_as_list_false_then_the_reply_resolves(
    board: Switchboard, manager: Any
) -> None:
    board.add_softphone(Softphone("op101"))

    reply = await asyncio.wait_for(
        manager.send_action(
            {"Action": "QueueAdd", "Queue": "hotline-1022", "Interface": "PJSIP/op101"},
            as_list=False,
        ),
        5,
    )
    pong = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), 5)

    assert reply.success
    assert reply.message == "Added interface to queue"
    assert pong.ping == "Pong"
    assert [m.interface for m in board.truth().queues["hotline-1022"].members] == ["PJSIP/op101"]


async def test_given_panoramisk_when_queuestatus_then_a_list_ending_in_complete(
    board: Switchboard, manager: Any
) -> None:
    board.add_softphone(Softphone("op101"))
    await manager.send_action(
        {"Action": "QueueAdd", "Queue": "emergency-115", "Interface": "PJSIP/op101"},
        as_list=False,
    )

    messages = await asyncio.wait_for(manager.send_action({"Action": "QueueStatus"}), 5)

    assert messages[0].message == "Queue status will follow"
    assert [m.event for m in messages[1:]] == [
        "QueueParams",
        "QueueParams",
        "QueueMember",
        "QueueStatusComplete",
    ]
    assert messages[3].location == "PJSIP/op101"
    assert messages[-1].listitems == "3"


async def test_given_panoramisk_callbacks_when_a_call_is_answered_then_queue_events_arrive(
    board: Switchboard, manager: Any
) -> None:
    seen: list[tuple[str, str]] = []
    done = asyncio.Event()

    def on_event(_: Any, message: Any) -> None:
        seen.append((message.event, message.get("DestChannel", "")))
        if message.event == "AgentComplete":
            done.set()

    manager.register_event("*", on_event)
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
    await manager.send_action(
        {"Action": "QueueAdd", "Queue": "hotline-1022", "Interface": "PJSIP/op101"},
        as_list=False,
    )

    call = await board.place_call("1022", "0901234567")
    await asyncio.wait_for(done.wait(), 10)
    outcome = await call.wait()

    names = [name for name, _ in seen]
    assert outcome.answered_by == "PJSIP/op101"
    for before, after in [
        ("QueueCallerJoin", "AgentCalled"),
        ("AgentCalled", "AgentConnect"),
        ("AgentConnect", "AgentComplete"),
    ]:
        assert names.index(before) < names.index(after)
    connect = next(dest for name, dest in seen if name == "AgentConnect")
    assert connect.startswith("PJSIP/op101-")


async def test_given_panoramisk_when_async_originate_then_the_originateresponse_completes_it(
    board: Switchboard, manager: Any
) -> None:
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=2.0))

    messages = await asyncio.wait_for(
        manager.send_action(
            {
                "Action": "Originate",
                "Channel": "PJSIP/op101",
                "Context": "operators",
                "Exten": "0901234567",
                "Priority": "1",
                "Async": "true",
                "CallerID": "Hotline <1022>",
            }
        ),
        5,
    )

    assert messages[0].message == "Originate successfully queued"
    assert messages[1].event == "OriginateResponse"
    assert messages[1].response == "Success"
    assert messages[1].reason == "4"
    assert messages[1].channel.startswith("PJSIP/op101-")


async def test_given_panoramisk_when_the_ami_restarts_then_it_reconnects_and_logs_in_again(
    board: Switchboard, manager: Any
) -> None:
    booted = asyncio.Event()
    manager.register_event("FullyBooted", lambda _, __: booted.set())
    first_protocol = manager.protocol

    await board.restart_ami()
    await asyncio.wait_for(booted.wait(), 5)
    pong = await asyncio.wait_for(manager.send_action({"Action": "Ping"}), 5)

    assert manager.protocol is not first_protocol
    assert pong.ping == "Pong"
