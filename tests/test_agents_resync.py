"""Rebuilding the live model from Asterisk: only once it is fully booted, again after a failure,
and with no call left over when Asterisk lists no channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.events import AmiEvent
from agents.model import LiveModel
from switchboard import CallerScript, Softphone, StaticMember
from switchboard.queues import default_queues
from switchboard.testing import BACKEND_USER
from tests.support.live import eventually, live_hotline
from tickets.model import Role

T0 = datetime(2026, 12, 6, 20, 0, tzinfo=UTC)
QUEUE = "hotline-1022"
REBUILT = "live model rebuilt from Asterisk"


def queues_with_a_member() -> list[object]:
    queues = default_queues()
    queues[0].members = (StaticMember("PJSIP/op101", name="lan"),)
    return list(queues)


def rebuilt(caplog: pytest.LogCaptureFixture) -> int:
    return sum(REBUILT in r.getMessage() for r in caplog.records)


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.INFO, logger="agents"):
        yield caplog


async def test_given_asterisk_still_booting_when_the_service_logs_in_then_it_reads_the_queues_only_after_fully_booted(
    database_url: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    """manager.c ``action_login`` sends FullyBooted only once ``ast_fully_booted``; otherwise
    asterisk.c publishes it (class system) when the last module has loaded. Before that
    app_queue's actions may not be registered (QueueStatus: "Invalid/unknown command")."""
    async with live_hotline(
        database_url,
        tmp_path,
        seed=3,
        users={},
        board_options={"fully_booted": False, "queues": queues_with_a_member()},
    ) as live:
        await asyncio.sleep(1.0)  # logged in, and nothing asked of a booting Asterisk
        assert rebuilt(logs) == 0
        assert not any("not rebuilt" in r.getMessage() for r in logs.records)
        assert live.agents.model.operators == {}

        live.board.finish_boot()

        await eventually(lambda: "PJSIP/op101" in live.agents.model.operators, seconds=30)
        assert rebuilt(logs) == 1


async def test_given_a_user_that_does_not_read_system_when_asterisk_boots_then_the_resync_is_retried_until_it_works(
    database_url: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    """Without the ``system`` read class no FullyBooted ever comes: after HOTLINE_AMI_BOOT_WAIT
    the service reads the queues all the same, QueueStatus is refused while app_queue is not
    loaded, and the service tries again (1 s, then doubling) instead of giving up."""
    _, grants = BACKEND_USER
    blind = ("secret", {"read": grants["read"] - {"system"}, "write": grants["write"]})
    async with live_hotline(
        database_url,
        tmp_path,
        seed=4,
        users={},
        settings={"ami_boot_wait": 0.2},
        board_options={
            "fully_booted": False,
            "queues": queues_with_a_member(),
            "ami_users": {"hotline": blind},
        },
    ) as live:
        await eventually(lambda: any("trying again" in r.getMessage() for r in logs.records))
        assert any("no FullyBooted" in r.getMessage() for r in logs.records)
        assert live.agents.model.operators == {}

        live.board.finish_boot()

        await eventually(lambda: "PJSIP/op101" in live.agents.model.operators, seconds=30)
        assert rebuilt(logs) == 1


async def test_given_a_call_that_ended_while_the_ami_link_was_down_when_asterisk_lists_no_channel_then_no_call_is_left(
    database_url: str, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    async with live_hotline(database_url, tmp_path, seed=5, users={"lan": Role.OPERATOR}) as live:
        live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=20.0))
        await live.login("lan", "op101")
        call = await live.board.place_call("1022", script=CallerScript(keys=["1"]))
        await eventually(lambda: bool(live.agents.model.calls))
        before = rebuilt(logs)

        await live.board.restart_ami(down_for=60.0)  # the conversation ends meanwhile
        await call.wait()
        assert live.board.truth().channels == ()

        await eventually(lambda: rebuilt(logs) > before, seconds=30)
        assert live.agents.model.calls == {}
        assert live.agents.model.call_of("PJSIP/op101") is None


def test_given_a_call_in_the_model_when_the_listing_has_no_channel_then_the_call_and_the_operators_call_are_gone() -> (
    None
):
    model = LiveModel([QUEUE])
    fields = {"Queue": QUEUE, "Uniqueid": "1.7", "Interface": "PJSIP/op101", "MemberName": "lan"}
    model.apply(AmiEvent.of({"Event": "AgentConnect", "Channel": "PJSIP/telco-1", **fields}, T0))
    assert set(model.calls) == {"1.7"}
    member = {"Queue": QUEUE, "Name": "lan", "Location": "PJSIP/op101", "Status": "2"}

    model.resync(
        [
            AmiEvent.of({"Event": "QueueParams", "Queue": QUEUE}),
            AmiEvent.of({"Event": "QueueMember", **member}),
            AmiEvent.of({"Event": "QueueStatusComplete", "EventList": "Complete"}),
            AmiEvent.of({"Event": "CoreShowChannelsComplete", "ListItems": "0"}),
        ],
        T0,
    )

    assert model.calls == {}
    assert model.call_of("PJSIP/op101") is None
    assert model.operators["PJSIP/op101"].current_call is None
