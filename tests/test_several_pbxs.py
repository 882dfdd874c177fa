"""One service, two PBXs (``HOTLINE_AMI_URLS``): one live model of both, each operator's
action sent to the PBX where the softphone is registered, and queue_log rows of both applied.

The PBXs are two switchboard emulators with different system names, so their uniqueids differ
(main/channel_internal_api.c ``__ast_channel_internal_alloc``: ``"%s-%li.%d"`` with the
systemname); the service learns where a softphone is registered from DeviceStateChange
(res_manager_devicestate.c ``action_devicestatelist`` on every resync, and each change)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hotline.keys import METRICS
from switchboard import CalledParty, CallerScript, Clock, QueueLogConfig, Softphone, Switchboard
from switchboard.testing import BACKEND_USER
from tests.conftest import SOUNDS
from tests.support.live import SCALE, Live, eventually, live_hotline
from tickets.model import Role


@dataclass
class TwoPbxs:
    live: Live  # the service and PBX A
    b: Switchboard

    @property
    def a(self) -> Switchboard:
        return self.live.board

    def name(self, board: Switchboard) -> str:
        return f"127.0.0.1:{board.ami_port}"


@pytest.fixture
async def pbxs(database_url: str, tmp_path: Path) -> AsyncIterator[TwoPbxs]:
    b = Switchboard(
        recordings_dir=tmp_path / "recordings",
        sounds_dir=SOUNDS,
        ami_users={"hotline": BACKEND_USER},
        clock=Clock(scale=SCALE),
        seed=12,
        systemname="pbx-b",
        queue_log=QueueLogConfig(database_url=database_url, file=tmp_path / "queue_log_b"),
    )
    await b.start()
    users = {"lan": Role.OPERATOR, "minh": Role.OPERATOR, "sup": Role.SUPERVISOR}
    try:
        async with live_hotline(
            database_url,
            tmp_path,
            seed=11,
            users=users,
            settings={"ami_urls": f"ami://hotline:secret@127.0.0.1:{b.ami_port}"},
            board_options={"systemname": "pbx-a"},
        ) as live:
            b.dialplan.agi_port = live.service.agi_port
            yield TwoPbxs(live, b)
    finally:
        await b.stop()


def members(board: Switchboard) -> set[str]:
    return {m.interface for q in board.truth().queues.values() for m in q.members}


async def test_given_operators_on_two_pbxs_when_they_log_in_and_take_calls_then_each_action_goes_to_their_pbx(
    pbxs: TwoPbxs,
) -> None:
    live, a, b = pbxs.live, pbxs.a, pbxs.b
    a.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=10.0))
    b.add_softphone(Softphone("op201", ring_delay=1.0, talk_time=10.0))
    await eventually(lambda: {"PJSIP/op101", "PJSIP/op201"} <= set(live.agents.model.devices))

    await live.login("lan", "op101")
    await live.login("minh", "op201")
    assert (members(a), members(b)) == ({"PJSIP/op101"}, {"PJSIP/op201"})

    status, _ = await live.post("minh", "/api/v1/operators/me/pause", {"reason": "Nghỉ giải lao"})
    assert status == 200
    paused = {
        (m.interface, m.paused)
        for board in (a, b)
        for q in board.truth().queues.values()
        for m in q.members
    }
    assert paused == {("PJSIP/op101", False), ("PJSIP/op201", True)}
    status, _ = await live.post("minh", "/api/v1/operators/me/unpause", {})
    assert status == 200

    on_a = await a.place_call("1022", "0911111111", script=CallerScript(keys=["3"]))
    on_b = await b.place_call("1022", "0922222222", script=CallerScript(keys=["3"]))
    outcome_a, outcome_b = await on_a.wait(), await on_b.wait()
    assert (outcome_a.answered_by, outcome_b.answered_by) == ("PJSIP/op101", "PJSIP/op201")
    assert outcome_a.uniqueid.startswith("pbx-a-")
    assert outcome_b.uniqueid.startswith("pbx-b-")

    async def counted() -> bool:
        _, stats = await live.get("sup", "/api/v1/stats/queues")
        return bool(stats["queues"].get("hotline-1022", {}).get("answered") == 2)

    await eventually(counted)
    _, stats = await live.get("sup", "/api/v1/stats/queues")
    assert stats["queues"]["hotline-1022"]["received"] == 2

    registry = live.service.app[METRICS].registry
    for board in (a, b):
        assert registry.get_sample_value("hotline_ami_up", {"pbx": pbxs.name(board)}) == 1


async def test_given_two_pbxs_when_one_is_read_again_then_the_other_ones_operators_and_callers_stay(
    pbxs: TwoPbxs,
) -> None:
    """A resync replaces only that PBX's part of the live model (QueueStatus of PBX B knows
    nothing of PBX A's members and waiting callers)."""
    live, a, b = pbxs.live, pbxs.a, pbxs.b
    a.add_softphone(Softphone("op101", answers=False))
    b.add_softphone(Softphone("op201", answers=False))
    await eventually(lambda: {"PJSIP/op101", "PJSIP/op201"} <= set(live.agents.model.devices))
    await live.login("lan", "op101")
    await live.login("minh", "op201")
    await live.post("lan", "/api/v1/operators/me/pause", {})
    await live.post("minh", "/api/v1/operators/me/pause", {})
    waiting = await a.place_call("115", "0933333333", patience=600.0)

    def seen() -> bool:
        queue = live.agents.model.queues.get("emergency-115")
        return queue is not None and waiting.uniqueid in queue.waiting

    await eventually(seen)
    await live.agents.resync(pbxs.name(b))
    assert seen()
    assert live.agents.model.pbx_of("PJSIP/op101") == pbxs.name(a)
    assert live.agents.model.pbx_of("PJSIP/op201") == pbxs.name(b)
    await live.agents.resync(pbxs.name(a))
    assert seen()
    assert set(live.agents.model.operators) == {"PJSIP/op101", "PJSIP/op201"}
    waiting.hangup()
    await waiting.wait()


async def test_given_a_caller_who_gave_up_on_pbx_b_when_an_operator_there_calls_back_then_pbx_b_dials(
    pbxs: TwoPbxs,
) -> None:
    live, a, b = pbxs.live, pbxs.a, pbxs.b
    b.add_softphone(Softphone("op201", ring_delay=1.0, talk_time=10.0))
    b.set_called_party(None, CalledParty(answers=True, ring_delay=2.0, talk_time=10.0))
    await eventually(lambda: "PJSIP/op201" in live.agents.model.devices)
    gave_up = await b.place_call(
        "115", "0944444444", script=CallerScript(keys=["1"]), patience=10.0
    )
    assert (await gave_up.wait()).abandoned

    async def listed() -> bool:
        return len((await live.get("minh", "/api/v1/callbacks"))[1]["items"]) == 1

    await eventually(listed)
    _, worklist = await live.get("minh", "/api/v1/callbacks")
    (callback,) = worklist["items"]
    await live.login("minh", "op201")
    status, calling = await live.post("minh", f"/api/v1/callbacks/{callback['id']}/call")
    assert (status, calling["status"]) == (200, "calling")
    assert any(
        e.name == "DialBegin" and e.get("DialString") == "0944444444@telco" for e in b.events
    )
    assert not any(e.name == "OriginateResponse" for e in a.events)
