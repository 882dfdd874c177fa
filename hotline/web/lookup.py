"""The citizen lookup (public): a ticket code and the last four digits of the phone the call
came from give the ticket's steps in plain words, with dates, and the agency's published
answers. Nothing else is shown: no number, no names of staff, no notes, no transcript, no
recording. A wrong code and wrong digits get the same answer, so the page tells nothing about
which tickets exist. Each code has a few attempts a minute from one client address (citizens
behind one NAT each have their own), each address some more across codes, and each code a few
failed attempts an hour from anywhere; the address is the one ``client_address`` finds (behind
a trusted proxy, from ``X-Forwarded-For``).

The page is a plain form posted to the server (it works without scripts, and the digits stay
out of the address bar and the history); the JSON API answers the same for other clients."""

from __future__ import annotations

import hmac
import time
from collections import deque
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiohttp import web

from db.agency import PublicTicket
from hotline.keys import AGENCY
from hotline.web.http import client_address, read_form
from hotline.web.i18n import Lang, text
from hotline.web.openapi import describe
from hotline.web.pages import LANG_KEY, render
from hotline.web.ratelimit import RateLimiter
from tickets.codes import HOTLINE_TZ
from tickets.privacy import mask_text

# The page in English and in Vietnamese words: the SMS link (notify_lookup_url) uses /tra-cuu.
LOOKUP_PATHS = ("/lookup", "/tra-cuu")
LOOKUPS_PER_MINUTE = 10  # one code from one address
ADDRESS_LOOKUPS_PER_MINUTE = 60  # one address, all codes
FAILURES_PER_HOUR = 5
MAX_CODE = 32


class FailedAttempts:
    """Failed attempts per key in a sliding window: past ``limit`` the key is locked until
    the oldest failure leaves the window. Unlike ``RateLimiter`` a success costs nothing."""

    def __init__(self, limit: int, window: float, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window = window
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def locked(self, key: str) -> bool:
        failures = self._failures.get(key)
        if failures is None:
            return False
        self._expire(failures, time.monotonic())
        return len(failures) >= self._limit

    def record(self, key: str) -> None:
        now = time.monotonic()
        if key not in self._failures and len(self._failures) >= self._max_keys:
            for old in [
                k for k, f in self._failures.items() if not f or now - f[-1] > self._window
            ]:
                del self._failures[old]
        failures = self._failures.setdefault(key, deque())
        self._expire(failures, now)
        failures.append(now)

    def _expire(self, failures: deque[float], now: float) -> None:
        while failures and now - failures[0] > self._window:
            failures.popleft()


LOOKUP_CLIENTS = web.AppKey("lookup_clients", RateLimiter)  # by address and code
LOOKUP_ADDRESSES = web.AppKey("lookup_addresses", RateLimiter)
LOOKUP_FAILURES = web.AppKey("lookup_failures", FailedAttempts)


@dataclass(frozen=True)
class Refusal:
    status: int
    error_id: str
    message_key: str


NOT_FOUND = Refusal(404, "not-found", "lookup.not_found")
RATE_LIMITED = Refusal(429, "rate-limited", "lookup.rate_limited")
BAD_INPUT = Refusal(400, "invalid-request", "lookup.bad_input")


class LookupRefused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.error_id)
        self.refusal = refusal


def _last4(phone: str | None) -> str | None:
    digits = "".join(c for c in phone or "" if c.isascii() and c.isdigit())
    return digits[-4:] if len(digits) >= 4 else None


async def look_up(request: web.Request, code: str, last4: str) -> PublicTicket:
    """The ticket, or ``LookupRefused``: too many attempts, malformed input, or not found
    (the same whether the code does not exist or the digits are wrong)."""
    address = client_address(request)
    if not request.app[LOOKUP_ADDRESSES].allow(address):
        raise LookupRefused(RATE_LIMITED)
    code = code.strip().upper()
    last4 = last4.strip()
    if (
        not code
        or len(code) > MAX_CODE
        or not (len(last4) == 4 and last4.isascii() and last4.isdigit())
    ):
        raise LookupRefused(BAD_INPUT)
    if not request.app[LOOKUP_CLIENTS].allow(f"{address} {code}"):
        raise LookupRefused(RATE_LIMITED)
    failures = request.app[LOOKUP_FAILURES]
    if failures.locked(code):
        raise LookupRefused(RATE_LIMITED)
    ticket = await request.app[AGENCY].public_ticket(code)
    expected = _last4(ticket.caller_phone) if ticket else None
    # compared in constant time, against a dummy when there is nothing to compare with
    matches = hmac.compare_digest(expected or "\x00\x00\x00\x00", last4) and expected is not None
    if ticket is None or not matches:
        failures.record(code)
        raise LookupRefused(NOT_FOUND)
    return ticket


def _agency(name_vi: str | None, name_en: str | None, lang: Lang) -> str | None:
    return name_en if lang is Lang.EN and name_en else name_vi


def public_json(ticket: PublicTicket, lang: Lang) -> dict[str, Any]:
    """The ticket in the citizen's words: the code, the status, and each step with its date;
    an answer's text on its step, masked as everything public is (``tickets.privacy``)."""
    steps: list[dict[str, Any]] = [
        {
            "at": ticket.created_at.isoformat(),
            "kind": "received",
            "text": text("lookup.step_received", lang),
            "response": None,
        }
    ]
    for step in ticket.steps:
        agency = _agency(step.agency_name_vi, step.agency_name_en, lang)
        if step.kind in ("forward", "reassign"):
            line = (
                text("lookup.step_forward", lang).format(agency=agency)
                if agency
                else text("lookup.step_forward_unnamed", lang)
            )
        else:
            line = text(f"lookup.step_{step.kind}", lang)
        steps.append(
            {
                "at": step.at.isoformat(),
                "kind": step.kind,
                "text": line,
                "response": mask_text(step.response) if step.response else None,
            }
        )
    return {
        "code": ticket.code,
        "status": ticket.status.value,
        "status_text": text(f"lookup.status_{ticket.status.value}", lang),
        "steps": steps,
    }


def _refusal_response(refusal: Refusal, lang: Lang) -> web.Response:
    response = web.json_response(
        {"error_id": refusal.error_id, "message": text(refusal.message_key, lang)},
        status=refusal.status,
    )
    if refusal is RATE_LIMITED:
        response.headers["Retry-After"] = "60"
    return response


@describe(
    query={
        "code": {"type": "string", "maxLength": MAX_CODE},
        "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
        "lang": {"type": "string", "enum": ["vi", "en"]},
    },
    required_query=("code", "last4"),
    responses={
        404: "no ticket with this code and these digits",
        429: "too many attempts for this code or from this address, or failed ones for the code",
    },
)
async def lookup_api(request: web.Request) -> web.Response:
    """A ticket's public status and steps, by its code and the caller's last 4 digits."""
    lang = request[LANG_KEY]
    try:
        ticket = await look_up(
            request, request.query.get("code", ""), request.query.get("last4", "")
        )
    except LookupRefused as refused:
        return _refusal_response(refused.refusal, lang)
    return web.json_response(public_json(ticket, lang))


def _page(
    request: web.Request,
    *,
    status: int = 200,
    result: dict[str, Any] | None = None,
    error_key: str | None = None,
    code: str = "",
) -> web.Response:
    return render(
        request,
        "lookup.html",
        page="lookup",
        title_key="lookup.title",
        status=status,
        result=result,
        error=text(error_key, request[LANG_KEY]) if error_key else None,
        code=code[:MAX_CODE],
    )


@describe(
    query={
        "ma": {"type": "string", "description": "the ticket code to pre-fill (SMS links)"},
        "lang": {"type": "string", "enum": ["vi", "en"]},
    },
    produces="text/html",
    tag="pages",
)
async def lookup_page(request: web.Request) -> web.Response:
    """The citizen lookup form (public, HTML, fits a phone); the link in citizens' SMS
    (``notify_lookup_url?ma=CODE``, ``/tra-cuu`` by default) opens it with the code filled in."""
    return _page(request, code=request.query.get("ma", "").strip())


@describe(
    body={
        "type": "object",
        "required": ["code", "last4"],
        "properties": {"code": {"type": "string"}, "last4": {"type": "string"}},
    },
    body_type="application/x-www-form-urlencoded",
    produces="text/html",
    responses={404: "not found", 429: "too many attempts"},
    tag="pages",
)
async def lookup_submit(request: web.Request) -> web.Response:
    """The citizen lookup form, answered (public, HTML)."""
    form = await read_form(request)
    code, last4 = form.get("code", ""), form.get("last4", "")
    if not isinstance(code, str) or not isinstance(last4, str):
        return _page(request, status=400, error_key=BAD_INPUT.message_key)
    try:
        ticket = await look_up(request, code, last4)
    except LookupRefused as refused:
        page = _page(
            request,
            status=refused.refusal.status,
            error_key=refused.refusal.message_key,
            code=code,
        )
        if refused.refusal is RATE_LIMITED:
            page.headers["Retry-After"] = "60"
        return page
    result = public_json(ticket, request[LANG_KEY])
    for step in result["steps"]:
        moment = datetime.fromisoformat(step["at"]).astimezone(HOTLINE_TZ)
        step["when"] = moment.strftime("%d/%m/%Y %H:%M")
    return _page(request, result=result, code=ticket.code)


def add_routes(app: web.Application) -> None:
    app[LOOKUP_CLIENTS] = RateLimiter(LOOKUPS_PER_MINUTE)
    app[LOOKUP_ADDRESSES] = RateLimiter(ADDRESS_LOOKUPS_PER_MINUTE)
    app[LOOKUP_FAILURES] = FailedAttempts(FAILURES_PER_HOUR, 3600.0)
    for path in LOOKUP_PATHS:
        app.router.add_get(path, lookup_page)
        app.router.add_post(path, lookup_submit)
    app.router.add_get("/api/v1/public/lookup", lookup_api)
