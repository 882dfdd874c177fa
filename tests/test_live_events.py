"""The consoles' event bus: what one console's frames hold (hotline/events.py)."""

from __future__ import annotations

import asyncio
import json

from hotline.events import EventBus


async def test_given_events_in_one_turn_when_the_console_reads_then_one_frame_holds_them_in_order() -> (
    None
):
    bus = EventBus()
    console = bus.subscribe(7, {"calls", "queues"})
    bus.emit("calls", "changed", {"uniqueid": "1.1"})
    bus.emit("queues", "changed", {"name": "hotline-1022", "waiting": [1]}, key="hotline-1022")
    bus.emit("calls", "changed", {"uniqueid": "1.2"})
    bus.emit("queues", "changed", {"name": "hotline-1022", "waiting": [1, 2]}, key="hotline-1022")
    bus.emit("tickets", "changed", {"code": "1022-26-000001"})  # not subscribed

    frame = json.loads(await console.next_frame())

    assert [(e["topic"], e["data"]) for e in frame] == [
        ("calls", {"uniqueid": "1.1"}),
        ("calls", {"uniqueid": "1.2"}),
        ("queues", {"name": "hotline-1022", "waiting": [1, 2]}),  # only the latest view
    ]


async def test_given_a_frame_sent_when_more_events_come_then_the_next_frame_holds_only_them() -> (
    None
):
    bus = EventBus()
    console = bus.subscribe(7, {"operators"})
    bus.emit("operators", "changed", {"interface": "PJSIP/op101"}, key="PJSIP/op101")
    await console.next_frame()
    waiting = asyncio.create_task(console.next_frame())
    await asyncio.sleep(0)
    assert not waiting.done()  # nothing new: no frame

    bus.emit("operators", "removed", {"interface": "PJSIP/op101"}, key="PJSIP/op101")
    bus.emit("operators", "changed", {"interface": "PJSIP/op102"}, key="PJSIP/op102")

    assert [(e["kind"], e["data"]["interface"]) for e in json.loads(await waiting)] == [
        ("removed", "PJSIP/op101"),
        ("changed", "PJSIP/op102"),
    ]


async def test_given_events_for_one_user_when_another_reads_then_they_are_not_in_its_frames() -> (
    None
):
    bus = EventBus()
    mine, theirs = bus.subscribe(7, {"me"}), bus.subscribe(8, {"me"})
    bus.emit("me", "screen_pop", {"uniqueid": "1.1"}, user_id=7)
    bus.emit("me", "screen_pop", {"uniqueid": "1.2"}, user_id=8)

    assert [e["data"]["uniqueid"] for e in json.loads(await mine.next_frame())] == ["1.1"]
    assert [e["data"]["uniqueid"] for e in json.loads(await theirs.next_frame())] == ["1.2"]


async def test_given_a_console_that_does_not_read_when_its_list_is_full_then_it_is_told_to_reload() -> (
    None
):
    bus = EventBus(subscriber_queue=3)
    console = bus.subscribe(7, {"calls"})
    for n in range(4):
        bus.emit("calls", "changed", {"uniqueid": f"1.{n}"})

    assert [e["kind"] for e in json.loads(await console.next_frame())] == ["overflow"]
