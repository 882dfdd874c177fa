"""Live calls over HTTP: a supervisor listens to, whispers to or barges into an operator's call;
an operator moves a caller between 1022 and 115; the console's player fetches a ticket's
recordings. Each route states its roles; the work is done by ``agents.service.AgentsService``
and ``tickets.service.BackofficeService``."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from aiohttp import web

from agents.service import SpyMode
from hotline.keys import BACKOFFICE, SETTINGS, TICKETS
from hotline.web.agents import agents_service
from hotline.web.errors import ApiError
from hotline.web.http import USER, json_object, requires
from hotline.web.openapi import describe
from tickets.codes import plain_int
from tickets.model import Line, Role, User

logger = logging.getLogger(__name__)

STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
OVERSEES = (Role.SUPERVISOR, Role.ADMIN)
RECORDING_KINDS = ("description", "location")


@describe(
    body={
        "type": "object",
        "required": ["mode", "extension"],
        "properties": {
            "mode": {"type": "string", "enum": [m.value for m in SpyMode]},
            "extension": {"type": "string", "description": "the supervisor's softphone"},
        },
    },
    responses={
        409: "the operator is not on a call, or the supervisor's softphone did not join it "
        "(error_id spy-no-answer, spy-busy, spy-congestion, spy-hung-up, spy-unavailable, "
        "spy-call-ended; details.extension names the softphone)",
        503: "no AMI connection",
    },
)
@requires(*OVERSEES)
async def spy(request: web.Request) -> web.Response:
    """Ring the supervisor's softphone and answer once it has joined the operator's call (up
    to 30 s of ringing); 409 when it did not, saying why."""
    service = agents_service(request)
    body = await json_object(request)
    try:
        mode = SpyMode(str(body.get("mode", "")))
    except ValueError as err:
        raise ApiError(400, "invalid-request", "mode: listen, whisper or barge") from err
    extension = str(body.get("extension", "")).strip()
    if not extension or not extension.replace("/", "").replace("-", "").isalnum():
        raise ApiError(400, "invalid-request", "extension: the supervisor's softphone, e.g. 201")
    interface = request.match_info["interface"]
    try:
        result = await service.spy(request[USER], interface, mode, extension)
    except ValueError as err:
        raise ApiError(400, "invalid-request", str(err)) from err
    return web.json_response(result)


@describe(
    body={
        "type": "object",
        "required": ["line"],
        "properties": {"line": {"type": "string", "enum": [line.value for line in Line]}},
    },
    responses={
        403: "not the operator on this call (nor a supervisor)",
        404: "no such call",
        409: "the caller is gone, already on that line, or the ticket cannot move",
        503: "no AMI connection",
    },
)
@requires(*STAFF)
async def transfer(request: web.Request) -> web.Response:
    """Move the caller to the other line's queue; the ticket follows (back-office transfer).
    Only the operator on the call, or a supervisor or administrator."""
    service = agents_service(request)
    body = await json_object(request)
    try:
        line = Line(str(body.get("line", "")))
    except ValueError as err:
        raise ApiError(400, "invalid-request", 'line: "1022" or "115"') from err
    user: User = request[USER]
    result = await service.transfer(
        user, request.match_info["uniqueid"], line, request.app[BACKOFFICE]
    )
    return web.json_response(result)


def inside_spool(root: Path, stored: str) -> Path | None:
    """The recording file, only when it really lies under ``root`` (symlinks and ``..``
    resolved) and exists; a relative path is relative to ``root``."""
    base = root.resolve()
    raw = Path(stored)
    path = (raw if raw.is_absolute() else base / raw).resolve()
    if not path.is_relative_to(base):
        logger.warning("recording path outside the recordings directory refused: %r", stored)
        return None
    return path if path.is_file() else None


async def recording_response(
    request: web.Request, stored: str | None, filename: str, missing: str
) -> web.FileResponse:
    """The stored recording played inline and never cached, or 404 ``missing`` when there is
    none or it lies outside the recordings spool."""
    path = None
    if stored:
        path = await asyncio.to_thread(inside_spool, request.app[SETTINGS].recordings, stored)
    if path is None:
        raise ApiError(404, "recording-not-found", missing)
    return web.FileResponse(
        path,
        headers={
            "Content-Type": "audio/wav",
            "Content-Disposition": f'inline; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@describe(
    responses={404: "no such ticket or recording"},
    produces="audio/wav",
)
@requires(*STAFF)
async def recording(request: web.Request) -> web.StreamResponse:
    ident, kind = request.match_info["ticket"], request.match_info["kind"]
    repository = request.app[TICKETS]
    number = plain_int(ident)
    ticket = await (repository.get(number) if number is not None else repository.get_by_code(ident))
    if ticket is None:
        raise ApiError(404, "ticket-not-found", f"no ticket {ident}")
    stored = ticket.description_recording if kind == "description" else ticket.location_recording
    return await recording_response(
        request,
        stored,
        f"{ticket.code}-{kind}.wav",
        f"ticket {ticket.code} has no {kind} recording",
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/v1/operators/{interface:.+}/spy", spy)
    app.router.add_post("/api/v1/calls/{uniqueid}/transfer", transfer)
    app.router.add_get(
        "/api/v1/tickets/{ticket}/recordings/{kind:" + "|".join(RECORDING_KINDS) + "}",
        recording,
    )
