"""Manager events and the bus that hands them to AMI sessions (reference §3.4).

An event is its name, its class (``Privilege: <class>,all``) and its body in emission order.
Publishing is synchronous: every subscriber gets the event in the order it was published.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from switchboard.ami_wire import Fields, encode

logger = logging.getLogger(__name__)

EVENT_CLASSES = (
    "system",
    "call",
    "log",
    "verbose",
    "command",
    "agent",
    "user",
    "config",
    "dtmf",
    "reporting",
    "cdr",
    "dialplan",
    "originate",
    "agi",
    "cc",
    "aoc",
    "test",
    "security",
    "message",
)


@dataclass(frozen=True)
class AmiEvent:
    name: str
    cls: str
    body: tuple[tuple[str, str], ...]

    def fields(self, timestamp: float | None = None, systemname: str = "") -> Fields:
        """The head as ``__manager_event_sessions_va`` writes it (main/manager.c): Event,
        Privilege, Timestamp (``timestampevents``), SystemName (asterisk.conf ``systemname``)."""
        head = [("Event", self.name), ("Privilege", f"{self.cls},all")]
        if timestamp is not None:
            head.append(("Timestamp", f"{timestamp:.6f}"))
        if systemname:
            head.append(("SystemName", systemname))
        return head + list(self.body)

    def encode(self, timestamp: float | None = None, systemname: str = "") -> bytes:
        return encode(self.fields(timestamp, systemname))

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.body if k == key), None)


Subscriber = Callable[[AmiEvent], None]


class EventBus:
    """Synchronous fan-out to subscribers, plus a bounded history for tests and debugging."""

    def __init__(self, history: int = 10_000) -> None:
        self._subscribers: list[Subscriber] = []
        self.history: deque[AmiEvent] = deque(maxlen=history)

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        self._subscribers.append(subscriber)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def publish(self, name: str, cls: str, body: Fields) -> AmiEvent:
        event = AmiEvent(name, cls, tuple(body))
        self.history.append(event)
        for subscriber in list(self._subscribers):
            try:
                subscriber(event)
            except Exception:
                logger.exception("event subscriber failed on %s", name)
        return event
