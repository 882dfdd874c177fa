"""JSON shapes of the back office's answers: a ticket's state after a step, a 115 dispatch
request. Agency users get the caller's number masked."""

from __future__ import annotations

from typing import Any

from tickets.dispatch import Attempt
from tickets.model import Role, User
from tickets.phone import mask_phone
from tickets.service import TicketState


def state_json(ticket: TicketState, viewer: User) -> dict[str, Any]:
    full = viewer.role is not Role.AGENCY
    return {
        "id": ticket.id,
        "code": ticket.code,
        "line": ticket.line.value,
        "category": ticket.category.value,
        "subcategory": ticket.subcategory,
        "status": ticket.status.value,
        "locality": ticket.locality,
        "agency_code": ticket.agency_code,
        "caller_phone": ticket.caller_phone if full else mask_phone(ticket.caller_phone),
        "deadline_at": ticket.deadline_at.isoformat() if ticket.deadline_at else None,
        "merged_into": ticket.merged_into,
    }


def attempt_json(attempt: Attempt | None) -> dict[str, Any] | None:
    if attempt is None:
        return None
    return {
        "seq": attempt.seq,
        "facility": attempt.facility_code,
        "sent_at": attempt.sent_at.isoformat(),
        "due_at": attempt.due_at.isoformat(),
        "result": attempt.result.value,
    }
