"""Device states of the operators' phones (``enum ast_device_state``, reference §5.2), derived
from the softphone (registered or not) and the channels ringing or up on it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from switchboard.people import Softphone

UNKNOWN, NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD = range(9)
DEVICE_STATE_NAMES = (
    "UNKNOWN",
    "NOT_INUSE",
    "INUSE",
    "BUSY",
    "INVALID",
    "UNAVAILABLE",
    "RINGING",
    "RINGINUSE",
    "ONHOLD",
)
DEVICE_STATE_TEXT = (
    "Unknown",
    "Not in use",
    "In use",
    "Busy",
    "Invalid",
    "Unavailable",
    "Ringing",
    "Ring+Inuse",
    "On Hold",
)

Listener = Callable[[str, int], None]


class Devices:
    def __init__(self) -> None:
        self.phones: dict[str, Softphone] = {}
        self._ringing: Counter[str] = Counter()
        self._in_use: Counter[str] = Counter()
        self._last: dict[str, int] = {}
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def phone(self, interface: str) -> Softphone | None:
        return self.phones.get(interface.lower())

    def state(self, interface: str) -> int:
        phone = self.phone(interface)
        if phone is None:
            return INVALID
        if not phone.registered:
            return UNAVAILABLE
        key = interface.lower()
        ringing, in_use = self._ringing[key] > 0, self._in_use[key] > 0
        if ringing and in_use:
            return RINGINUSE
        if ringing:
            return RINGING
        if in_use:
            return INUSE
        return NOT_INUSE

    def add(self, phone: Softphone) -> None:
        self.phones[phone.interface.lower()] = phone
        self.changed(phone.interface)

    def set_registered(self, interface: str, registered: bool) -> None:
        phone = self.phone(interface)
        if phone is not None:
            phone.registered = registered
            self.changed(interface)

    def ring(self, interface: str, delta: int) -> None:
        self._ringing[interface.lower()] += delta
        self.changed(interface)

    def use(self, interface: str, delta: int) -> None:
        self._in_use[interface.lower()] += delta
        self.changed(interface)

    def transition(self, interface: str, *, ring: int = 0, use: int = 0) -> None:
        """Several counters at once: one state change (e.g. Ringing → In use)."""
        self._ringing[interface.lower()] += ring
        self._in_use[interface.lower()] += use
        self.changed(interface)

    def changed(self, interface: str) -> None:
        """Tell listeners when the state really changed."""
        key = interface.lower()
        state = self.state(interface)
        if self._last.get(key) == state:
            return
        self._last[key] = state
        for listener in list(self._listeners):
            listener(interface, state)
