"""Value types of the ticket domain; the strings are API and database contracts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class Line(StrEnum):
    CITIZEN = "1022"
    MEDICAL = "115"


class Category(StrEnum):
    ADMIN_PROCEDURE = "admin_procedure"
    FIELD_REPORT = "field_report"
    INFORMATION = "information"
    MEDICAL = "medical"
    UNCLASSIFIED = "unclassified"


class TicketStatus(StrEnum):
    NEW = "new"
    CLASSIFIED = "classified"
    FORWARDED = "forwarded"
    ACCEPTED = "accepted"
    RESPONDED = "responded"
    CLOSED = "closed"
    MERGED = "merged"
    TRANSFERRED = "transferred"


class CallDisposition(StrEnum):
    IN_IVR = "in_ivr"
    QUEUED = "queued"
    ABANDONED_IN_IVR = "abandoned_in_ivr"
    FALLBACK = "fallback"


class Role(StrEnum):
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    AGENCY = "agency"
    ADMIN = "admin"


@dataclass(frozen=True)
class TicketEvent:
    at: datetime
    actor: str
    kind: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Ticket:
    id: int
    code: str
    line: Line
    category: Category
    status: TicketStatus
    caller_phone: str | None
    caller_raw: str
    description: str | None
    description_recording: str | None
    location: str | None
    location_recording: str | None
    transcript: str | None
    locality: str | None
    agency_code: str | None
    call_uniqueid: str | None
    call_disposition: CallDisposition | None
    ivr_path: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    events: list[TicketEvent]


@dataclass(frozen=True)
class User:
    id: int
    username: str
    role: Role
    agency_code: str | None


@dataclass(frozen=True)
class Credentials:
    """What a login checks: the argon2 hash, an account switched off."""

    user: User
    password_hash: str
    active: bool
