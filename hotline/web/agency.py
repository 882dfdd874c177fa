"""The agency inbox: the page, the list of an agency's tickets (overdue first, then by
deadline; the caller's number masked for agency users), files attached to an answer (PDF, JPEG,
PNG, checked by content, stored under a generated name) and the request to hand a ticket to
another agency, which supervisors see live and act on with the existing reassign.

An agency user only ever sees its own agency's tickets: its agency comes from its account,
never from the request."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from db.agency import InboxItem
from hotline.keys import AGENCY, ATTACHMENTS, BACKOFFICE, BUS, SETTINGS
from hotline.web.errors import ApiError
from hotline.web.http import (
    MAX_PAGE,
    UNREADABLE_BODY,
    USER,
    int_param,
    json_object,
    requires,
    ticket_id_of,
)
from hotline.web.openapi import describe
from hotline.web.pages import page, render
from tickets.attachments import (
    MAX_ATTACHMENT_BYTES,
    SNIFF_BYTES,
    Attachment,
    AttachmentTooLarge,
    UnsupportedAttachment,
    Upload,
    display_name,
    sniff,
)
from tickets.codes import plain_int
from tickets.errors import InvalidRequest, InvalidTransition
from tickets.events import EventKind
from tickets.model import Role, TicketStatus, User
from tickets.phone import mask_phone
from tickets.privacy import summary
from tickets.service import utc_now
from tickets.text import check_text

logger = logging.getLogger(__name__)

AGENCY_SIDE = (Role.AGENCY, Role.SUPERVISOR, Role.ADMIN)
STATUS_FILTERS: dict[str, frozenset[TicketStatus]] = {
    "open": frozenset({TicketStatus.FORWARDED, TicketStatus.ACCEPTED, TicketStatus.RESPONDED}),
    "forwarded": frozenset({TicketStatus.FORWARDED}),
    "accepted": frozenset({TicketStatus.ACCEPTED}),
    "responded": frozenset({TicketStatus.RESPONDED}),
    "closed": frozenset({TicketStatus.CLOSED}),
    "all": frozenset(
        {TicketStatus.FORWARDED, TicketStatus.ACCEPTED, TicketStatus.RESPONDED, TicketStatus.CLOSED}
    ),
}
REASSIGNABLE = frozenset({TicketStatus.FORWARDED, TicketStatus.ACCEPTED})
MAX_REASON = 1000
SUMMARY_CHARS = 280
MAX_AGENCY_CODE = 64
CHUNK = 64 * 1024
MULTIPART_OVERHEAD = 64 * 1024
STORED_NAME = re.compile(r"^[0-9a-f]{32}$")


def _attachments_dir(request: web.Request) -> Path:
    return request.app[SETTINGS].data_dir / "attachments"


def _inbox_agency(request: web.Request, user: User) -> str:
    """An agency user's own agency (whatever the query says); the one asked for otherwise."""
    if user.role is Role.AGENCY:
        assert user.agency_code is not None  # the database ties agency users to an agency
        return user.agency_code
    code = request.query.get("agency", "").strip()
    if not code or len(code) > MAX_AGENCY_CODE:
        raise ApiError(400, "invalid-request", "agency: the agency code is required")
    return code


def item_json(item: InboxItem, viewer: User) -> dict[str, Any]:
    agency = viewer.role is Role.AGENCY
    phone = mask_phone(item.caller_phone) if agency else item.caller_phone
    text = item.request_text
    return {
        "id": item.id,
        "code": item.code,
        "category": item.category,
        "category_name": {"vi": item.category_name_vi, "en": item.category_name_en},
        "subcategory": item.subcategory,
        "locality": item.locality,
        "locality_name": {"vi": item.locality_name_vi, "en": item.locality_name_en},
        "status": item.status.value,
        "caller_phone": phone,
        "summary": summary(text, SUMMARY_CHARS) if agency else text and text[:SUMMARY_CHARS],
        "created_at": item.created_at.isoformat(),
        "deadline_at": item.deadline_at.isoformat() if item.deadline_at else None,
        "accepted_at": item.accepted_at.isoformat() if item.accepted_at else None,
        "responded_at": item.responded_at.isoformat() if item.responded_at else None,
        "response": item.response,
        "overdue": item.overdue,
        "attachments": item.attachments,
    }


def attachment_json(attachment: Attachment, ticket_code: str | None = None) -> dict[str, Any]:
    ticket = ticket_code or str(attachment.ticket_id)
    return {
        "id": attachment.id,
        "filename": attachment.filename,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "uploaded_by": attachment.uploaded_by,
        "at": attachment.at.isoformat(),
        "url": f"/api/v1/tickets/{ticket}/attachments/{attachment.id}",
    }


# ---------------------------------------------------------------- page


@describe(
    query={"agency": {"type": "string"}, "lang": {"type": "string", "enum": ["vi", "en"]}},
    produces="text/html",
    tag="pages",
)
@page(*AGENCY_SIDE)
async def agency_page(request: web.Request) -> web.Response:
    """The agency inbox (HTML); supervisors and administrators choose the agency."""
    user: User = request[USER]
    if user.role is Role.AGENCY:
        agency = user.agency_code
    else:
        agency = request.query.get("agency", "").strip()[:MAX_AGENCY_CODE] or None
    return render(
        request,
        "agency.html",
        page="agency",
        title_key="agency.title",
        user=user,
        data={"agency": agency, "max_bytes": MAX_ATTACHMENT_BYTES},
        agency=agency,
    )


# ---------------------------------------------------------------- inbox


@describe(
    query={
        "agency": {"type": "string"},
        "status": {"type": "string", "enum": sorted(STATUS_FILTERS)},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        "offset": {"type": "integer", "minimum": 0},
    },
    responses={400: "agency missing (supervisor, admin) or a bad filter"},
)
@requires(*AGENCY_SIDE)
async def inbox(request: web.Request) -> web.Response:
    """An agency's tickets: overdue first, then by deadline, then newest."""
    user: User = request[USER]
    agency = _inbox_agency(request, user)
    raw_status = request.query.get("status", "open")
    statuses = STATUS_FILTERS.get(raw_status)
    if statuses is None:
        raise ApiError(400, "invalid-request", f"status: one of {', '.join(STATUS_FILTERS)}")
    limit = int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    items, total = await request.app[AGENCY].inbox(
        agency, statuses, utc_now(), limit=limit, offset=offset
    )
    return web.json_response(
        {
            "agency": agency,
            "items": [item_json(i, user) for i in items],
            "limit": limit,
            "offset": offset,
            "total": total,
        }
    )


# ---------------------------------------------------------------- attachments


def _open_new(path: Path) -> Any:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("xb")


async def _receive(request: web.Request, directory: Path) -> Upload:
    """The ``file`` part streamed to disk under a generated name while its size and hash are
    counted; refused (and removed) past the limit or when its first bytes are not a PDF,
    JPEG or PNG."""
    if request.content_type != "multipart/form-data":
        raise ApiError(400, "invalid-request", "send the file as multipart/form-data (field file)")
    length = request.content_length
    if length is not None and length > MAX_ATTACHMENT_BYTES + MULTIPART_OVERHEAD:
        raise AttachmentTooLarge(f"at most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                check_text(part.filename or "", "file: the file name")
                return await _store_part(part, directory)
            await part.release()
    except UNREADABLE_BODY as err:
        raise ApiError(400, "invalid-request", f"the form cannot be read: {err}") from err
    raise ApiError(400, "invalid-request", "the form has no file field")


async def _store_part(part: BodyPartReader, directory: Path) -> Upload:
    stored_name = uuid.uuid4().hex
    partial = directory / f"{stored_name}.part"
    digest = hashlib.sha256()
    size = 0
    head = b""
    handle = await asyncio.to_thread(_open_new, partial)
    try:
        try:
            while chunk := await part.read_chunk(CHUNK):
                size += len(chunk)
                if size > MAX_ATTACHMENT_BYTES:
                    raise AttachmentTooLarge(f"at most {MAX_ATTACHMENT_BYTES // (1024 * 1024)} MB")
                if len(head) < SNIFF_BYTES:
                    head += chunk[: SNIFF_BYTES - len(head)]
                digest.update(chunk)
                await asyncio.to_thread(handle.write, chunk)
        finally:
            await asyncio.to_thread(handle.close)
        content_type = sniff(head)
        if content_type is None:
            raise UnsupportedAttachment("only PDF, JPEG or PNG files are accepted")
        await asyncio.to_thread(partial.rename, directory / stored_name)
    except BaseException:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
        raise
    return Upload(
        filename=display_name(part.filename, content_type),
        stored_name=stored_name,
        content_type=content_type,
        size=size,
        sha256=digest.hexdigest(),
    )


@describe(
    body={
        "type": "object",
        "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary"}},
    },
    body_type="multipart/form-data",
    responses={
        201: "stored",
        404: "no such ticket (or not this agency's)",
        409: "the ticket no longer takes an answer",
        413: "larger than 10 MB",
        415: "not a PDF, JPEG or PNG",
    },
)
@requires(*AGENCY_SIDE)
async def upload_attachment(request: web.Request) -> web.Response:
    """Attach a PDF, JPEG or PNG (at most 10 MB) to a ticket's answer."""
    user: User = request[USER]
    service = request.app[ATTACHMENTS]
    ticket = await service.check_attachable(user, await ticket_id_of(request))
    directory = _attachments_dir(request)
    upload = await _receive(request, directory)
    try:
        attachment = await service.attach(user, ticket.id, upload, utc_now())
    except BaseException:
        await asyncio.to_thread((directory / upload.stored_name).unlink, missing_ok=True)
        raise
    logger.info(
        "ticket %s: %s attached %s (%d bytes)",
        ticket.code,
        user.username,
        upload.sha256,
        upload.size,
    )
    return web.json_response(attachment_json(attachment, ticket.code), status=201)


@describe(responses={404: "no such ticket (or not this agency's)"})
@requires(*AGENCY_SIDE)
async def list_attachments(request: web.Request) -> web.Response:
    """The files attached to a ticket's answers."""
    ident = request.match_info["ticket"]
    found = await request.app[ATTACHMENTS].list(request[USER], await ticket_id_of(request))
    return web.json_response({"items": [attachment_json(a, ident) for a in found]})


def _ascii_name(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


@describe(
    responses={404: "no such ticket, attachment (or not this agency's)"},
    produces="application/octet-stream",
)
@requires(*AGENCY_SIDE)
async def download_attachment(request: web.Request) -> web.StreamResponse:
    """One attached file, as it was uploaded."""
    number = plain_int(request.match_info["attachment"])
    if number is None:
        raise ApiError(404, "attachment-not-found", "no such attachment")
    attachment = await request.app[ATTACHMENTS].get(
        request[USER], await ticket_id_of(request), number
    )
    root = _attachments_dir(request).resolve()
    path = (root / attachment.stored_name).resolve()
    if (
        not STORED_NAME.match(attachment.stored_name)
        or not path.is_relative_to(root)
        or not await asyncio.to_thread(path.is_file)
    ):
        logger.warning("attachment %d: file %s is missing", attachment.id, attachment.stored_name)
        raise ApiError(404, "attachment-not-found", "the file is no longer stored")
    disposition = (
        f'attachment; filename="{_ascii_name(attachment.filename)}";'
        f" filename*=UTF-8''{quote(attachment.filename, safe='')}"
    )
    return web.FileResponse(
        path,
        headers={
            "Content-Type": attachment.content_type,
            "Content-Disposition": disposition,
            "Cache-Control": "private, no-store",
        },
    )


# ---------------------------------------------------------------- reassignment request


@describe(
    body={
        "type": "object",
        "required": ["reason"],
        "properties": {"reason": {"type": "string", "maxLength": MAX_REASON}},
    },
    responses={
        202: "the supervisors are told",
        404: "no such ticket (or not this agency's)",
        409: "the ticket is not with the agency any more",
    },
)
@requires(Role.AGENCY)
async def reassign_request(request: web.Request) -> web.Response:
    """Ask the supervisors to hand this ticket to another agency (with the reason)."""
    body = await json_object(request)
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidRequest(f"reason: a non-empty text of at most {MAX_REASON} characters")
    user: User = request[USER]
    ticket = await request.app[BACKOFFICE].ticket(await ticket_id_of(request), user)
    if ticket.status not in REASSIGNABLE:
        raise InvalidTransition(f"cannot ask to reassign a ticket that is {ticket.status}")
    data = {"agency": ticket.agency_code, "reason": reason.strip()}
    await request.app[AGENCY].note(
        ticket.id, utc_now(), user.username, EventKind.REASSIGN_REQUESTED, data
    )
    request.app[BUS].emit(
        "tickets",
        "reassign_requested",
        {"id": ticket.id, "code": ticket.code, "by": user.username, **data},
    )
    return web.json_response({"code": ticket.code, "reassign_requested": True}, status=202)


def add_routes(app: web.Application) -> None:
    ticket = "/api/v1/tickets/{ticket}"
    app.router.add_get("/agency", agency_page)
    app.router.add_get("/api/v1/agency/tickets", inbox)
    app.router.add_post(f"{ticket}/attachments", upload_attachment)
    app.router.add_get(f"{ticket}/attachments", list_attachments)
    app.router.add_get(f"{ticket}/attachments/{{attachment}}", download_attachment)
    app.router.add_post(f"{ticket}/reassign-request", reassign_request)
