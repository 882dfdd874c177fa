"""Live events for consoles: an in-process fan-out to WebSocket subscribers.

Every event has a topic (``queues``, ``operators``, ``calls``, ``tickets``, ``me``); ``me`` events
go to one user only. Subscribers get a bounded queue: a console that cannot keep up loses its
oldest events and is told to reload (``{"kind": "overflow"}``), never the service's memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

logger = logging.getLogger(__name__)

TOPICS = frozenset({"queues", "operators", "calls", "tickets", "me"})


@dataclass(frozen=True)
class LiveEvent:
    topic: str
    kind: str
    data: dict[str, Any]
    user_id: int | None = None  # only for topic "me"
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "data": self.data,
        }


class Subscription:
    def __init__(self, user_id: int, topics: Iterable[str], size: int) -> None:
        self.user_id = user_id
        self.topics = set(topics)
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(size)

    def offer(self, event: LiveEvent) -> None:
        if event.topic not in self.topics:
            return
        if event.topic == "me" and event.user_id != self.user_id:
            return
        if self.queue.full():
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(LiveEvent(event.topic, "overflow", {}))
            return
        self.queue.put_nowait(event)


class EventBus:
    def __init__(self, subscriber_queue: int = 1000) -> None:
        self._subscriptions: set[Subscription] = set()
        self._size = subscriber_queue

    def subscribe(self, user_id: int, topics: Iterable[str]) -> Subscription:
        subscription = Subscription(user_id, topics, self._size)
        self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    def emit(self, topic: str, kind: str, data: dict[str, Any], user_id: int | None = None) -> None:
        self.publish(LiveEvent(topic, kind, data, user_id))

    def publish(self, event: LiveEvent) -> None:
        for subscription in list(self._subscriptions):
            subscription.offer(event)

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)
