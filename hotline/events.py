"""Live events for consoles: an in-process fan-out to WebSocket subscribers.

Every event has a topic (``queues``, ``operators``, ``calls``, ``tickets``, ``me``); ``me`` events
go to one user only. A subscriber's events wait in its pending list until its socket takes them
as one frame (``Subscription.next_frame``): a JSON array of every event since the last frame,
oldest first, at most one frame per tick (``TICK``). A state event (a queue's or an operator's
whole view) carries a key; a later event with the same key replaces it in the pending list, so a
frame holds only the latest view of each queue and operator. Each event is encoded once,
whatever the number of consoles. The list is bounded: a console that cannot keep up loses what
was pending and is told to reload (``{"kind": "overflow"}``), never the service's memory.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

logger = logging.getLogger(__name__)

TOPICS = frozenset({"queues", "operators", "calls", "tickets", "me"})
# Seconds between two frames to one console while events keep coming. The first event after a
# quiet tick goes out at once (as soon as the event loop is free); those that follow within the
# tick wait for its end and go out together: a busy console gets ≤ 40 frames/s, each ≤ 25 ms late.
TICK = 0.025


@dataclass(frozen=True)
class LiveEvent:
    topic: str
    kind: str
    data: dict[str, Any]
    user_id: int | None = None  # only for topic "me"
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    key: str | None = None  # a state event: superseded by a later one with the same key

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "data": self.data,
        }

    @cached_property
    def encoded(self) -> str:
        """The event's JSON text, made once for every console that gets it."""
        return json.dumps(self.to_json(), ensure_ascii=False)


def frame(events: Iterable[LiveEvent]) -> str:
    """One WebSocket frame: a JSON array of events."""
    return "[" + ",".join(event.encoded for event in events) + "]"


class Subscription:
    def __init__(self, user_id: int, topics: Iterable[str], size: int, tick: float = TICK) -> None:
        self.user_id = user_id
        self.topics = set(topics)
        self._size = size
        self._tick = tick
        self._serial = itertools.count()  # keys of events that nothing supersedes
        self._pending: dict[Hashable, LiveEvent] = {}
        self._ready = asyncio.Event()
        self._sent_at = float("-inf")  # loop time of the last frame

    def offer(self, event: LiveEvent) -> None:
        if event.topic not in self.topics:
            return
        if event.topic == "me" and event.user_id != self.user_id:
            return
        self._ready.set()
        if len(self._pending) >= self._size:
            self._pending = {next(self._serial): LiveEvent(event.topic, "overflow", {})}
            return
        if event.key is None:
            self._pending[next(self._serial)] = event
        else:
            key = (event.topic, event.key)
            self._pending.pop(key, None)  # the newer view goes where the newest event goes
            self._pending[key] = event

    async def next_frame(self) -> str:
        """Every event since the last frame, as one frame. Waits for the first; when the last
        frame went out less than a tick ago, also for the end of that tick."""
        await self._ready.wait()
        loop = asyncio.get_running_loop()
        wait = self._sent_at + self._tick - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._sent_at = loop.time()
        events, self._pending = self._pending, {}
        self._ready.clear()
        return frame(events.values())


class EventBus:
    def __init__(self, subscriber_queue: int = 1000, tick: float = TICK) -> None:
        self._subscriptions: set[Subscription] = set()
        self._size = subscriber_queue
        self._tick = tick

    def subscribe(self, user_id: int, topics: Iterable[str]) -> Subscription:
        subscription = Subscription(user_id, topics, self._size, self._tick)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def emit(
        self,
        topic: str,
        kind: str,
        data: dict[str, Any],
        user_id: int | None = None,
        key: str | None = None,
    ) -> None:
        self.publish(LiveEvent(topic, kind, data, user_id, key=key))

    def publish(self, event: LiveEvent) -> None:
        for subscription in self._subscriptions:
            subscription.offer(event)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
