"""The callback worklist: every caller who gave up in a queue is called back by an operator.

pending → calling → reached | unreachable; an unanswered attempt goes back to pending until
``MAX_ATTEMPTS`` attempts were made. 115 callers come first, then the longest-waiting."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from agents.errors import AgentsError

MAX_ATTEMPTS = 3


class CallbackStatus(StrEnum):
    PENDING = "pending"
    CALLING = "calling"
    REACHED = "reached"
    UNREACHABLE = "unreachable"


class InvalidTransition(AgentsError):
    error_id = "callback-invalid-transition"
    status = 409


@dataclass(frozen=True)
class Callback:
    id: int
    call_uniqueid: str
    ticket_code: str | None
    line: str
    queue: str
    phone: str | None
    caller_raw: str
    status: CallbackStatus
    attempts: int
    hold_seconds: int
    abandoned_at: datetime
    last_attempt_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "call_uniqueid": self.call_uniqueid,
            "ticket_code": self.ticket_code,
            "line": self.line,
            "queue": self.queue,
            "phone": self.phone,
            "status": self.status.value,
            "attempts": self.attempts,
            "hold_seconds": self.hold_seconds,
            "abandoned_at": self.abandoned_at.isoformat(),
            "last_attempt_at": self.last_attempt_at.isoformat() if self.last_attempt_at else None,
        }


def start_attempt(callback: Callback) -> CallbackStatus:
    if callback.status is not CallbackStatus.PENDING:
        raise InvalidTransition(f"callback {callback.id} is {callback.status.value}, not pending")
    if callback.phone is None:
        raise InvalidTransition(f"callback {callback.id}: the caller's number is unknown")
    return CallbackStatus.CALLING


def finish_attempt(callback: Callback, reached: bool) -> CallbackStatus:
    """``callback.attempts`` already counts the attempt being finished."""
    if callback.status is not CallbackStatus.CALLING:
        raise InvalidTransition(f"callback {callback.id} is {callback.status.value}, not calling")
    if reached:
        return CallbackStatus.REACHED
    if callback.attempts >= MAX_ATTEMPTS:
        return CallbackStatus.UNREACHABLE
    return CallbackStatus.PENDING
