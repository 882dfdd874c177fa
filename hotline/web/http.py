"""API handlers. Every route states the roles it admits; agency users see masked numbers."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from db.pool import Pool, ping
from db.tickets import PostgresTicketRepository
from hotline.auth import AuthService
from hotline.web.errors import ApiError
from hotline.web.ratelimit import RateLimiter
from ivr.server import FastAgiServer
from tickets.model import Role, Ticket, User
from tickets.phone import mask_phone, national_phone, normalize_phone

AUTH = web.AppKey("auth", AuthService)
TICKETS = web.AppKey("tickets", PostgresTicketRepository)
POOL = web.AppKey("pool", Pool)
AGI = web.AppKey("agi", FastAgiServer)
LOGIN_LIMIT = web.AppKey("login_limit", RateLimiter)
PUBLIC_LIMIT = web.AppKey("public_limit", RateLimiter)
USER = web.RequestKey("user", User)

STAFF = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
ALL_ROLES = frozenset(Role)
MAX_PAGE = 200

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def requires(*roles: Role) -> Callable[[RouteHandler], RouteHandler]:
    """Bearer-token authentication plus an explicit role check for one route."""
    allowed = frozenset(roles)

    def decorate(handler: RouteHandler) -> RouteHandler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise ApiError(401, "unauthenticated", "a bearer token is required")
            user = await request.app[AUTH].authenticate(token.strip())
            if user is None:
                raise ApiError(401, "unauthenticated", "the token is invalid or has expired")
            if user.role not in allowed:
                raise ApiError(403, "forbidden", f"the {user.role.value} role may not do this")
            request[USER] = user
            return await handler(request)

        return wrapper

    return decorate


def _client(request: web.Request) -> str:
    return request.remote or "unknown"


async def healthz(request: web.Request) -> web.Response:
    if not request.app[PUBLIC_LIMIT].allow(_client(request)):
        raise ApiError(429, "rate-limited", "too many requests")
    database = await ping(request.app[POOL], wait=2.0)
    agi = request.app[AGI].serving
    body = {
        "status": "ok" if database and agi else "degraded",
        "database": "ok" if database else "unavailable",
        "agi": "serving" if agi else "stopped",
    }
    return web.json_response(body, status=200 if database and agi else 503)


async def login(request: web.Request) -> web.Response:
    try:
        body = await request.json()
        username, password = str(body["username"]), str(body["password"])
    except (ValueError, KeyError, TypeError) as err:
        raise ApiError(400, "invalid-request", 'expected JSON {"username", "password"}') from err
    limiter = request.app[LOGIN_LIMIT]
    if not (limiter.allow(_client(request)) and limiter.allow(f"user:{username}")):
        raise ApiError(429, "rate-limited", "too many login attempts; wait a minute")
    token = await request.app[AUTH].login(username, password)
    if token is None:
        raise ApiError(401, "invalid-credentials", "wrong user name or password")
    return web.json_response({"token": token})


def ticket_json(ticket: Ticket, viewer: User, *, detail: bool) -> dict[str, Any]:
    full = viewer.role in STAFF
    phone = ticket.caller_phone if full else mask_phone(ticket.caller_phone)
    body: dict[str, Any] = {
        "id": ticket.id,
        "code": ticket.code,
        "line": ticket.line.value,
        "category": ticket.category.value,
        "status": ticket.status.value,
        "caller_phone": phone,
        "caller_phone_national": (
            national_phone(ticket.caller_phone) if full and ticket.caller_phone else None
        ),
        "locality": ticket.locality,
        "agency_code": ticket.agency_code,
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "call": {
            "uniqueid": ticket.call_uniqueid,
            "disposition": ticket.call_disposition.value if ticket.call_disposition else None,
        },
    }
    if detail:
        body |= {
            "description": ticket.description,
            "description_recording": ticket.description_recording,
            "location": ticket.location,
            "location_recording": ticket.location_recording,
            "transcript": ticket.transcript,
            "ivr_path": ticket.ivr_path,
            "events": [
                {"at": e.at.isoformat(), "actor": e.actor, "kind": e.kind, "data": e.data}
                for e in ticket.events
            ],
        }
    return body


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(400, "invalid-request", f"{name} must be an integer in [{low}, {high}]")
    return int(raw)


@requires(*STAFF)
async def list_tickets(request: web.Request) -> web.Response:
    raw = request.query.get("phone", "")
    phone = normalize_phone(raw)
    if phone is None:
        raise ApiError(400, "invalid-phone", f"not a phone number: {raw!r}")
    limit = _int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = _int_param(request, "offset", 0, 0, 10_000_000)
    tickets = await request.app[TICKETS].list_by_phone(phone, limit=limit, offset=offset)
    viewer: User = request[USER]
    return web.json_response(
        {
            "items": [ticket_json(t, viewer, detail=False) for t in tickets],
            "limit": limit,
            "offset": offset,
        }
    )


@requires(*ALL_ROLES)
async def get_ticket(request: web.Request) -> web.Response:
    ident = request.match_info["ticket"]
    repository = request.app[TICKETS]
    ticket = await (
        repository.get(int(ident))
        if ident.isdigit() and len(ident) < 19
        else repository.get_by_code(ident)
    )
    viewer: User = request[USER]
    if ticket is None or (viewer.role is Role.AGENCY and ticket.agency_code != viewer.agency_code):
        raise ApiError(404, "ticket-not-found", f"no ticket {ident}")
    return web.json_response(ticket_json(ticket, viewer, detail=True))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_get("/api/v1/tickets", list_tickets)
    app.router.add_get("/api/v1/tickets/{ticket}", get_ticket)
    from hotline.web import backoffice, open311  # imported here: both import this module

    backoffice.add_backoffice_routes(app)
    open311.add_open311_routes(app)
