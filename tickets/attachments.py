"""Files an agency attaches to its answer: only PDF, JPEG and PNG (recognised by their first
bytes, never by the name or the declared type), at most 10 MB. The name the uploader gave is
kept to show, cleaned of any path; the bytes are stored under a generated name. Who may attach
or read: the agency that holds the ticket, supervisors and administrators."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tickets.errors import DomainError, InvalidTransition, NotFound
from tickets.model import Role, TicketStatus, User
from tickets.service import BackofficeService, TicketState

MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024
SNIFF_BYTES = 8
MAX_NAME = 120
# Statuses in which an answer (and its files) can still be given or completed.
ATTACHABLE = frozenset({TicketStatus.FORWARDED, TicketStatus.ACCEPTED, TicketStatus.RESPONDED})
ATTACHING_ROLES = frozenset({Role.AGENCY, Role.SUPERVISOR, Role.ADMIN})
EXTENSIONS = {"application/pdf": ".pdf", "image/jpeg": ".jpg", "image/png": ".png"}


class AttachmentTooLarge(DomainError):
    error_id = "attachment-too-large"
    status = 413


class UnsupportedAttachment(DomainError):
    error_id = "unsupported-attachment"
    status = 415


class AttachmentNotFound(NotFound):
    error_id = "attachment-not-found"


def sniff(head: bytes) -> str | None:
    """The content type the first bytes prove (PDF, JPEG, PNG), else ``None``."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def display_name(raw: str | None, content_type: str) -> str:
    """The uploader's file name without any directory part (``../../etc/passwd`` ⇒
    ``passwd``), control characters or a leading dot; a fallback when nothing is left."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip().lstrip(".")
    if len(name) > MAX_NAME:
        stem, dot, ext = name.rpartition(".")
        suffix = dot + ext if dot and len(ext) <= 8 else ""
        name = (stem if suffix else name)[: MAX_NAME - len(suffix)] + suffix
    return name or "tep-dinh-kem" + EXTENSIONS.get(content_type, "")


@dataclass(frozen=True)
class Upload:
    """A received file, already written under ``stored_name`` and checked."""

    filename: str
    stored_name: str
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Attachment:
    id: int
    ticket_id: int
    filename: str
    stored_name: str
    content_type: str
    size: int
    sha256: str
    uploaded_by: str
    at: datetime


class AttachmentStore(Protocol):
    async def add_attachment(
        self, ticket_id: int, upload: Upload, uploaded_by: str, at: datetime
    ) -> Attachment:
        """The row and the ticket's ``attachment_added`` event, in one transaction."""
        ...

    async def attachments(self, ticket_id: int) -> list[Attachment]: ...

    async def attachment(self, ticket_id: int, attachment_id: int) -> Attachment | None: ...


class AttachmentService:
    def __init__(self, tickets: BackofficeService, store: AttachmentStore) -> None:
        self._tickets = tickets
        self._store = store

    async def check_attachable(self, user: User, ticket_id: int) -> TicketState:
        """Before the bytes are read: the ticket exists, is the user's to answer (an agency
        only its own) and still takes an answer."""
        ticket = await self._tickets.ticket(ticket_id, user)
        if user.role not in ATTACHING_ROLES:
            raise InvalidTransition(f"the {user.role.value} role may not attach files")
        if ticket.status not in ATTACHABLE:
            raise InvalidTransition(f"cannot attach a file to a ticket that is {ticket.status}")
        return ticket

    async def attach(self, user: User, ticket_id: int, upload: Upload, at: datetime) -> Attachment:
        ticket = await self.check_attachable(user, ticket_id)
        return await self._store.add_attachment(ticket.id, upload, user.username, at)

    async def list(self, user: User, ticket_id: int) -> list[Attachment]:
        ticket = await self._tickets.ticket(ticket_id, user)
        return await self._store.attachments(ticket.id)

    async def get(self, user: User, ticket_id: int, attachment_id: int) -> Attachment:
        ticket = await self._tickets.ticket(ticket_id, user)
        found = await self._store.attachment(ticket.id, attachment_id)
        if found is None:
            raise AttachmentNotFound(f"no attachment {attachment_id} on {ticket.code}")
        return found
