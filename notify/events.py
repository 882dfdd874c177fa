"""Which citizen notifications a ticket change causes (the outbox rows written with it)."""

from __future__ import annotations

from notify.templates import Event

_BY_ACTION: dict[str, tuple[Event, ...]] = {
    "classify": (Event.RECEIVED,),
    "forward": (Event.FORWARDED,),
    "reassign": (Event.FORWARDED,),
    "respond": (Event.RESPONDED, Event.SURVEY),
    "close": (Event.CLOSED,),
}


def events_for(action: str, line: str) -> tuple[Event, ...]:
    """The survey is for 1022 requests an agency answered; 115 gets no survey."""
    events = _BY_ACTION.get(action, ())
    if line == "115":
        return tuple(e for e in events if e is not Event.SURVEY)
    return events


def is_urgent(line: str) -> bool:
    """115 messages are never held back by quiet hours."""
    return line == "115"
