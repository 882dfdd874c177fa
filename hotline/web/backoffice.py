"""Back-office routes on one ticket: lifecycle (classify, forward, accept, respond, close,
reopen, reassign), duplicates and merge, transfer between the lines, 115 dispatch, and the
managers' sweeps. Handlers parse, check the role, call the one ``BackofficeService`` and answer
with ``hotline.web.shapes``."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from hotline.keys import BACKOFFICE, BACKOFFICE_STORE
from hotline.web.fields import enum_field, required_text, text_field
from hotline.web.http import USER, json_object, requires, ticket_id_of
from hotline.web.openapi import describe
from hotline.web.shapes import attempt_json, state_json
from tickets.dispatch import Outcome, Point
from tickets.errors import InvalidRequest
from tickets.events import EventKind
from tickets.lifecycle import Closure
from tickets.model import Category, Role
from tickets.privacy import redact
from tickets.service import TicketState

STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
AGENCY_SIDE = (Role.AGENCY, Role.SUPERVISOR, Role.ADMIN)
EVERYONE = tuple(Role)
MANAGERS = (Role.SUPERVISOR, Role.ADMIN)
MAX_PUBLIC_SUMMARY = 500


def _reply(ticket: TicketState, request: web.Request) -> web.Response:
    return web.json_response(state_json(ticket, request[USER]))


@describe(
    body={
        "type": "object",
        "required": ["category"],
        "properties": {
            "category": {"type": "string"},
            "subcategory": {"type": "string"},
            "locality": {"type": "string"},
            "description": {"type": "string"},
            "location": {"type": "string"},
            "lat": {"type": "number"},
            "long": {"type": "number"},
            "public_summary": {
                "type": "string",
                "maxLength": MAX_PUBLIC_SUMMARY,
                "description": "what Open311 publishes (masked again); empty takes it back",
            },
        },
    }
)
@requires(*STAFF)
async def classify(request: web.Request) -> web.Response:
    body = await json_object(request)
    public_summary = body.get("public_summary")
    if public_summary is not None and (
        not isinstance(public_summary, str) or len(public_summary) > MAX_PUBLIC_SUMMARY
    ):
        raise InvalidRequest(f"public_summary: a text of at most {MAX_PUBLIC_SUMMARY} characters")
    category = enum_field(Category, required_text(body, "category"), "category")
    lat, long = body.get("lat"), body.get("long")
    point = None
    if lat is not None or long is not None:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, long)):
            raise InvalidRequest("lat and long must both be numbers")
        assert isinstance(lat, int | float)
        assert isinstance(long, int | float)
        if not (-90 <= lat <= 90 and -180 <= long <= 180):
            raise InvalidRequest("lat/long out of range")
        point = Point(float(lat), float(long))
    ticket = await request.app[BACKOFFICE].classify(
        request[USER],
        await ticket_id_of(request),
        category,
        text_field(body, "subcategory", required=False),
        text_field(body, "locality", required=False),
        description=text_field(body, "description", required=False),
        location=text_field(body, "location", required=False),
        point=point,
        public_summary=None if public_summary is None else public_summary.strip(),
    )
    return _reply(ticket, request)


@describe(body={"type": "object", "properties": {"agency": {"type": "string"}}})
@requires(*STAFF)
async def forward(request: web.Request) -> web.Response:
    body = await json_object(request)
    ticket = await request.app[BACKOFFICE].forward(
        request[USER], await ticket_id_of(request), text_field(body, "agency", required=False)
    )
    return _reply(ticket, request)


@requires(*AGENCY_SIDE)
async def accept(request: web.Request) -> web.Response:
    ticket = await request.app[BACKOFFICE].accept(request[USER], await ticket_id_of(request))
    return _reply(ticket, request)


@describe(
    body={
        "type": "object",
        "required": ["response"],
        "properties": {"response": {"type": "string"}},
    }
)
@requires(*AGENCY_SIDE)
async def respond(request: web.Request) -> web.Response:
    body = await json_object(request)
    response = required_text(body, "response")
    ticket = await request.app[BACKOFFICE].respond(
        request[USER], await ticket_id_of(request), response
    )
    return _reply(ticket, request)


@describe(body={"type": "object", "properties": {"closure": {"type": "string"}}})
@requires(*STAFF)
async def close(request: web.Request) -> web.Response:
    body = await json_object(request)
    raw = text_field(body, "closure", required=False)
    closure = None if raw is None else enum_field(Closure, raw, "closure")
    ticket = await request.app[BACKOFFICE].close(
        request[USER], await ticket_id_of(request), closure
    )
    return _reply(ticket, request)


@describe(
    body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}
)
@requires(*STAFF)
async def reopen(request: web.Request) -> web.Response:
    body = await json_object(request)
    reason = required_text(body, "reason")
    ticket = await request.app[BACKOFFICE].reopen(
        request[USER], await ticket_id_of(request), reason
    )
    return _reply(ticket, request)


@describe(
    body={
        "type": "object",
        "required": ["agency", "reason"],
        "properties": {"agency": {"type": "string"}, "reason": {"type": "string"}},
    }
)
@requires(*MANAGERS)
async def reassign(request: web.Request) -> web.Response:
    body = await json_object(request)
    agency, reason = required_text(body, "agency"), required_text(body, "reason")
    ticket = await request.app[BACKOFFICE].reassign(
        request[USER], await ticket_id_of(request), agency, reason
    )
    return _reply(ticket, request)


@requires(*EVERYONE)
async def timeline(request: web.Request) -> web.Response:
    ticket_id = await ticket_id_of(request)
    await request.app[BACKOFFICE].ticket(ticket_id, request[USER])  # agency users: own tickets only
    events = await request.app[BACKOFFICE_STORE].timeline(ticket_id)
    if request[USER].role is Role.AGENCY:  # event data may quote the caller, name files
        # the review of the operator's call is the hotline's own affair
        events = redact([e for e in events if e["kind"] != EventKind.REVIEWED])
    return web.json_response({"events": events})


@requires(*STAFF)
async def duplicates(request: web.Request) -> web.Response:
    found = await request.app[BACKOFFICE].duplicates(request[USER], await ticket_id_of(request))
    return web.json_response({"candidates": [asdict(s) for s in found]})


@describe(body={"type": "object", "required": ["into"], "properties": {"into": {"type": "string"}}})
@requires(*STAFF)
async def merge(request: web.Request) -> web.Response:
    body = await json_object(request)
    into = body.get("into")
    if not isinstance(into, int):
        raise InvalidRequest("into must be a ticket id")
    ticket = await request.app[BACKOFFICE].merge(request[USER], await ticket_id_of(request), into)
    return _reply(ticket, request)


@requires(*STAFF)
async def transfer(request: web.Request) -> web.Response:
    ticket = await request.app[BACKOFFICE].transfer(request[USER], await ticket_id_of(request))
    return web.json_response(state_json(ticket, request[USER]), status=201)


@requires(*MANAGERS)
async def escalate(request: web.Request) -> web.Response:
    escalated = await request.app[BACKOFFICE].escalate_overdue()
    return web.json_response({"escalated": [t.code for t in escalated]})


@requires(*STAFF)
async def dispatch(request: web.Request) -> web.Response:
    attempt = await request.app[BACKOFFICE].dispatch(request[USER], await ticket_id_of(request))
    return web.json_response({"pending": attempt_json(attempt)}, status=201)


@describe(
    body={
        "type": "object",
        "required": ["accepted"],
        "properties": {"accepted": {"type": "boolean"}, "reason": {"type": "string"}},
    }
)
@requires(*STAFF)
async def dispatch_answer(request: web.Request) -> web.Response:
    body = await json_object(request)
    accepted = body.get("accepted")
    if not isinstance(accepted, bool):
        raise InvalidRequest("accepted must be true or false")
    reason = text_field(body, "reason", required=False)
    following = await request.app[BACKOFFICE].answer_dispatch(
        request[USER], await ticket_id_of(request), accepted, reason
    )
    return web.json_response({"pending": attempt_json(following)})


@requires(*MANAGERS)
async def dispatch_timeouts(request: web.Request) -> web.Response:
    moved = await request.app[BACKOFFICE].expire_dispatches()
    return web.json_response({"timed_out": moved})


@describe(body={"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}})
@requires(*STAFF)
async def milestone(request: web.Request) -> web.Response:
    body = await json_object(request)
    kind = required_text(body, "kind")
    ticket = await request.app[BACKOFFICE].milestone(
        request[USER], await ticket_id_of(request), kind
    )
    return _reply(ticket, request)


@describe(
    body={"type": "object", "required": ["outcome"], "properties": {"outcome": {"type": "string"}}}
)
@requires(*STAFF)
async def complete(request: web.Request) -> web.Response:
    body = await json_object(request)
    outcome = enum_field(Outcome, required_text(body, "outcome"), "outcome")
    ticket = await request.app[BACKOFFICE].complete(
        request[USER], await ticket_id_of(request), outcome
    )
    return _reply(ticket, request)


def add_routes(app: web.Application) -> None:
    ticket = "/api/v1/tickets/{ticket}"
    for action, handler in (
        ("classify", classify),
        ("forward", forward),
        ("accept", accept),
        ("respond", respond),
        ("close", close),
        ("reopen", reopen),
        ("reassign", reassign),
        ("merge", merge),
        ("transfer", transfer),
        ("dispatch", dispatch),
        ("dispatch/answer", dispatch_answer),
        ("milestones", milestone),
        ("complete", complete),
    ):
        app.router.add_post(f"{ticket}/{action}", handler)
    app.router.add_get(f"{ticket}/timeline", timeline)
    app.router.add_get(f"{ticket}/duplicates", duplicates)
    app.router.add_post("/api/v1/backoffice/escalations", escalate)
    app.router.add_post("/api/v1/backoffice/dispatch-timeouts", dispatch_timeouts)
