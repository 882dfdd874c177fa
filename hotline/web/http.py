"""API handlers. Every route states the roles it admits; agency users see masked numbers."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_request import FileField
from multidict import MultiDictProxy

from hotline.auth import LoginResult, LoginStatus, TokenKind, csrf_matches, csrf_token
from hotline.keys import AGI, AUTH, BACKOFFICE_STORE, DATABASE, TICKETS
from hotline.web.errors import ApiError
from hotline.web.inputs import parse_json
from hotline.web.openapi import ROLES_ATTRIBUTE, describe
from hotline.web.ratelimit import RateLimiter
from tickets.codes import plain_int
from tickets.model import Role, Ticket, User
from tickets.phone import mask_phone, national_phone, normalize_phone
from tickets.privacy import redact
from tickets.text import check_text

logger = logging.getLogger(__name__)

LOGIN_LIMIT = web.AppKey("login_limit", RateLimiter)
PUBLIC_LIMIT = web.AppKey("public_limit", RateLimiter)
USER = web.RequestKey("user", User)

STAFF = frozenset({Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN})
ALL_ROLES = frozenset(Role)
MAX_PAGE = 200
HEALTH_WAIT = 1.0  # seconds /healthz waits for the database: its answer comes within 2 s

RouteHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# What reading a malformed form or multipart body raises: no boundary, bytes that are not the
# declared encoding, a part's header that is not a header (a NUL in a file name).
UNREADABLE_BODY = (ValueError, AssertionError, HttpProcessingError)


SESSION_COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def session_token(request: web.Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def presented_token(request: web.Request) -> str | None:
    """The token this request authenticates with: a bearer token, else the session cookie."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return session_token(request)


Network = IPv4Network | IPv6Network
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])


def client_address(request: web.Request) -> str:
    """The client's address, the key of every rate limit and of failed logins: the peer's,
    unless the peer is a trusted proxy (``HOTLINE_TRUSTED_PROXIES``); then the nearest address
    in ``X-Forwarded-For`` that is not one (each proxy appends the address it got the request
    from, so the entries left of an untrusted one are the client's own claims)."""
    remote = request.remote or "unknown"
    trusted = request.app[TRUSTED_PROXIES]
    if not within(remote, trusted):
        return remote
    hops = [
        hop.strip()
        for header in request.headers.getall("X-Forwarded-For", [])
        for hop in header.split(",")
        if hop.strip()
    ]
    for hop in reversed(hops):
        try:
            ip_address(hop)
        except ValueError:
            logger.warning("X-Forwarded-For from trusted proxy %s holds %r", remote, hop[:60])
            return remote
        if not within(hop, trusted):
            return hop
    return hops[0] if hops else remote


def within(address: str, networks: tuple[Network, ...]) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


async def identify(request: web.Request) -> User | None:
    """The caller: a bearer token (API clients), else a browser session cookie. A session may
    write only with its CSRF token in the ``X-CSRF-Token`` header."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(401, "unauthenticated", "expected: Authorization: Bearer <token>")
        return await request.app[AUTH].authenticate(token.strip())
    session = session_token(request)
    if session is None:
        return None
    user = await request.app[AUTH].authenticate(session, TokenKind.SESSION)
    presented = request.headers.get(CSRF_HEADER, "")
    if (
        user is not None
        and request.method not in SAFE_METHODS
        and not csrf_matches(session, presented)
    ):
        raise ApiError(403, "csrf-token-invalid", "this form is stale; reload the page")
    return user


def requires(*roles: Role) -> Callable[[RouteHandler], RouteHandler]:
    """Authentication (bearer token or session cookie) plus an explicit role check."""
    allowed = frozenset(roles)

    def decorate(handler: RouteHandler) -> RouteHandler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            user = await identify(request)
            if user is None:
                raise ApiError(401, "unauthenticated", "log in, or send a valid bearer token")
            if user.role not in allowed:
                raise ApiError(403, "forbidden", f"the {user.role.value} role may not do this")
            request[USER] = user
            return await handler(request)

        setattr(wrapper, ROLES_ATTRIBUTE, allowed)
        return wrapper

    return decorate


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | bytearray | FileField]:
    """The form of a POST, every name, value and file name checked at the boundary; a malformed
    body (a multipart type without its boundary, bytes that are not the declared encoding) is
    the client's error, not ours."""
    try:
        form = await request.post()
    except UNREADABLE_BODY as err:
        raise ApiError(400, "invalid-request", f"the form cannot be read: {err}") from err
    for name, value in form.items():
        check_text(name, "a form field's name")
        if isinstance(value, str):
            check_text(value, name)
        elif isinstance(value, FileField):
            check_text(value.filename, f"{name}: the file name")
    return form


async def json_object(request: web.Request) -> dict[str, Any]:
    """The JSON object a write carries (``{}`` without a body), checked at the boundary;
    anything else is a 400."""
    if not request.can_read_body:
        return {}
    body = parse_json(await request.read())
    if not isinstance(body, dict):
        raise ApiError(400, "invalid-request", "the body must be a JSON object")
    return body


@describe(responses={503: "the database or the FastAGI server is down"})
async def healthz(request: web.Request) -> web.Response:
    """Within 2 s whatever the database does (a frozen server is "unavailable")."""
    if not request.app[PUBLIC_LIMIT].allow(client_address(request)):
        raise ApiError(429, "rate-limited", "too many requests")
    database = await request.app[DATABASE].check(wait=HEALTH_WAIT)
    agi = request.app[AGI].serving
    body = {
        "status": "ok" if database and agi else "degraded",
        "database": "ok" if database else "unavailable",
        "agi": "serving" if agi else "stopped",
    }
    return web.json_response(body, status=200 if database and agi else 503)


@describe(
    body={
        "type": "object",
        "required": ["username", "password"],
        "properties": {"username": {"type": "string"}, "password": {"type": "string"}},
    },
    responses={
        401: "wrong user name or password (the same for a name that does not exist)",
        429: "too many attempts from this address, or too many failures for this name from it",
    },
)
async def login(request: web.Request) -> web.Response:
    body = await json_object(request)
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise ApiError(400, "invalid-request", 'expected JSON {"username", "password"}')
    result = await attempt_login(request, username, password, TokenKind.API)
    if result.status is LoginStatus.DELAYED:
        assert result.retry_at is not None
        raise ApiError(
            429,
            "login-delayed",
            "too many failed logins for this name from this address;"
            f" try again after {result.retry_at.isoformat()}",
            headers={"Retry-After": str(retry_after(result.retry_at))},
        )
    if result.token is None:
        raise ApiError(401, "invalid-credentials", "wrong user name or password")
    return web.json_response({"token": result.token})


async def attempt_login(
    request: web.Request, username: str, password: str, kind: TokenKind
) -> LoginResult:
    """A login from this request's client (the API's and the console form's): a few a minute
    per address (``rate-limited``), then the failures of this name from this address."""
    address = client_address(request)
    if not request.app[LOGIN_LIMIT].allow(address):
        raise ApiError(
            429,
            "rate-limited",
            "too many login attempts; wait a minute",
            headers={"Retry-After": "60"},
        )
    return await request.app[AUTH].login(username, password, kind, address=address)


def retry_after(moment: datetime) -> int:
    """Whole seconds from now until ``moment`` (at least 1), for ``Retry-After``."""
    return max(1, math.ceil((moment - datetime.now(UTC)).total_seconds()))


@describe(responses={204: "the token or session no longer works"})
@requires(*ALL_ROLES)
async def logout(request: web.Request) -> web.Response:
    """End the bearer token (or the browser session) this request carries."""
    token = presented_token(request)
    assert token is not None  # requires() authenticated it
    await request.app[AUTH].logout(token)
    response = web.Response(status=204)
    if "Authorization" not in request.headers:
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


@requires(*ALL_ROLES)
async def whoami(request: web.Request) -> web.Response:
    """Who this token or session is; a browser session also gets its CSRF token."""
    user: User = request[USER]
    session = session_token(request) if "Authorization" not in request.headers else None
    return web.json_response(
        {
            "username": user.username,
            "role": user.role.value,
            "agency_code": user.agency_code,
            "csrf": csrf_token(session) if session else None,
        }
    )


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
        details: dict[str, Any] = {
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
        body |= details if full else redact(details)
    return body


async def ticket_id_of(request: web.Request) -> int:
    """The ticket of the route's ``{ticket}`` (an id or a code); 404 when there is none."""
    ident = request.match_info["ticket"]
    ticket_id = await request.app[BACKOFFICE_STORE].ticket_ids_for(ident)
    if ticket_id is None:
        raise ApiError(404, "ticket-not-found", f"no ticket {ident}")
    return ticket_id


def int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    number = plain_int(raw)
    if number is None or not low <= number <= high:
        raise ApiError(400, "invalid-request", f"{name} must be an integer in [{low}, {high}]")
    return number


@describe(
    query={
        "phone": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        "offset": {"type": "integer", "minimum": 0},
    },
    required_query=("phone",),
)
@requires(*STAFF)
async def list_tickets(request: web.Request) -> web.Response:
    raw = request.query.get("phone", "")
    phone = normalize_phone(raw)
    if phone is None:
        raise ApiError(400, "invalid-phone", f"not a phone number: {raw!r}")
    limit = int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    tickets = await request.app[TICKETS].list_by_phone(phone, limit=limit, offset=offset)
    viewer: User = request[USER]
    return web.json_response(
        {
            "items": [ticket_json(t, viewer, detail=False) for t in tickets],
            "limit": limit,
            "offset": offset,
        }
    )


@describe(responses={404: "no such ticket (or not this agency's)"})
@requires(*ALL_ROLES)
async def get_ticket(request: web.Request) -> web.Response:
    ident = request.match_info["ticket"]
    repository = request.app[TICKETS]
    number = plain_int(ident)
    ticket = await (repository.get(number) if number is not None else repository.get_by_code(ident))
    viewer: User = request[USER]
    if ticket is None or (viewer.role is Role.AGENCY and ticket.agency_code != viewer.agency_code):
        raise ApiError(404, "ticket-not-found", f"no ticket {ident}")
    return web.json_response(ticket_json(ticket, viewer, detail=True))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/api/v1/auth/login", login)
    app.router.add_post("/api/v1/auth/logout", logout)
    app.router.add_get("/api/v1/auth/session", whoami)
    app.router.add_get("/api/v1/tickets", list_tickets)
    app.router.add_get("/api/v1/tickets/{ticket}", get_ticket)
