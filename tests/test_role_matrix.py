"""Every route called as every role and as nobody: the table below is the intended access,
written by hand; a route missing from it fails the test, so no endpoint goes unchecked.

``PUBLIC``: anyone (rate limits aside); ``SIGNED``: a gateway's callback or a client's request
with its own key, refused without its signature or key whoever calls; otherwise the roles admitted. API routes are called with each role's
bearer token, pages with each role's session cookie. ``BY_ADDRESS`` routes are open without login
to some networks only (``/metrics``: HOTLINE_METRICS_ALLOW, set here to a network the test is not
in): from elsewhere their roles are the table's and nobody else gets in, 403 without login too."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest

from db.users import PostgresUserRepository
from hotline.auth import AuthService, TokenKind
from tests.support.live import Live, live_hotline
from tickets.model import Role

PUBLIC = "public"
SIGNED = "signed"
OP, SUP, ADM, AGY = Role.OPERATOR.value, Role.SUPERVISOR.value, Role.ADMIN.value, Role.AGENCY.value
STAFF = frozenset({OP, SUP, ADM})
EVERYONE = frozenset({OP, SUP, ADM, AGY})
MANAGERS = frozenset({SUP, ADM})
TAKES_CALLS = frozenset({OP, SUP})
AGENCY_SIDE = frozenset({AGY, SUP, ADM})
ADMIN = frozenset({ADM})

EXPECTED: dict[tuple[str, str], frozenset[str] | str] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/api/v1/openapi.json"): PUBLIC,
    ("GET", "/metrics"): MANAGERS,
    ("POST", "/api/v1/auth/login"): PUBLIC,
    ("POST", "/api/v1/auth/logout"): EVERYONE,
    ("GET", "/api/v1/auth/session"): EVERYONE,
    ("GET", "/api/v1/events"): EVERYONE,
    ("GET", "/api/v1/tickets"): STAFF,
    ("GET", "/api/v1/tickets/{ticket}"): EVERYONE,
    ("POST", "/api/v1/tickets/{ticket}/classify"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/forward"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/accept"): AGENCY_SIDE,
    ("POST", "/api/v1/tickets/{ticket}/respond"): AGENCY_SIDE,
    ("POST", "/api/v1/tickets/{ticket}/close"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/reopen"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/reassign"): MANAGERS,
    ("POST", "/api/v1/tickets/{ticket}/merge"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/transfer"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/dispatch"): STAFF,
    ("GET", "/api/v1/tickets/{ticket}/dispatch"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/dispatch/answer"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/milestones"): STAFF,
    ("POST", "/api/v1/tickets/{ticket}/complete"): STAFF,
    ("GET", "/api/v1/tickets/{ticket}/timeline"): EVERYONE,
    ("GET", "/api/v1/tickets/{ticket}/duplicates"): STAFF,
    ("POST", "/api/v1/backoffice/escalations"): MANAGERS,
    ("POST", "/api/v1/backoffice/dispatch-timeouts"): MANAGERS,
    ("GET", "/api/v1/agencies"): EVERYONE,
    ("PUT", "/api/v1/agencies/{code}"): ADMIN,
    ("GET", "/api/v1/localities"): EVERYONE,
    ("GET", "/api/v1/categories"): EVERYONE,
    ("PUT", "/api/v1/categories/{code}/deadline"): ADMIN,
    ("PUT", "/api/v1/subcategories/{code}/deadline"): ADMIN,
    ("GET", "/api/v1/routing"): STAFF,
    ("PUT", "/api/v1/routing-rules"): ADMIN,
    ("PUT", "/api/v1/holidays/{day}"): ADMIN,
    ("GET", "/api/v1/audit"): ADMIN,
    ("GET", "/api/v1/reports"): MANAGERS,
    ("GET", "/reports"): MANAGERS,
    ("GET", "/reports.csv"): MANAGERS,
    ("GET", "/api/v1/queues"): STAFF,
    ("GET", "/api/v1/operators"): STAFF,
    ("GET", "/api/v1/operators/me"): TAKES_CALLS,
    ("POST", "/api/v1/operators/me/{action}"): TAKES_CALLS,
    ("POST", "/api/v1/operators/{interface}/{action}"): MANAGERS,
    ("GET", "/api/v1/stats/queues"): MANAGERS,
    ("GET", "/api/v1/stats/staffing"): MANAGERS,
    ("GET", "/api/v1/callbacks"): STAFF,
    ("POST", "/api/v1/operators/{interface}/spy"): MANAGERS,
    ("POST", "/api/v1/calls/{uniqueid}/transfer"): STAFF,
    ("GET", "/api/v1/tickets/{ticket}/recordings/{kind}"): STAFF,
    ("POST", "/api/v1/callbacks/{callback}/{action}"): TAKES_CALLS,
    ("GET", "/reviews"): STAFF,
    ("GET", "/api/v1/review-criteria"): MANAGERS,
    ("PUT", "/api/v1/review-criteria"): ADMIN,
    ("GET", "/api/v1/review-queue"): MANAGERS,
    ("GET", "/api/v1/review-trends"): MANAGERS,
    ("GET", "/api/v1/reviews"): STAFF,
    ("GET", "/api/v1/reviews/{review}"): STAFF,
    ("POST", "/api/v1/reviews/{review}/answer"): frozenset({OP}),
    ("POST", "/api/v1/calls/{uniqueid}/reviews"): MANAGERS,
    ("POST", "/api/v1/calls/{uniqueid}/flag"): STAFF,
    ("GET", "/api/v1/calls/{uniqueid}/recording"): STAFF,
    ("GET", "/operator"): TAKES_CALLS,
    ("GET", "/api/v1/operators/me/call"): TAKES_CALLS,
    ("GET", "/agency"): AGENCY_SIDE,
    ("GET", "/api/v1/agency/tickets"): AGENCY_SIDE,
    ("POST", "/api/v1/tickets/{ticket}/attachments"): AGENCY_SIDE,
    ("GET", "/api/v1/tickets/{ticket}/attachments"): AGENCY_SIDE,
    ("GET", "/api/v1/tickets/{ticket}/attachments/{attachment}"): AGENCY_SIDE,
    ("POST", "/api/v1/tickets/{ticket}/reassign-request"): frozenset({AGY}),
    ("GET", "/lookup"): PUBLIC,
    ("POST", "/lookup"): PUBLIC,
    ("GET", "/tra-cuu"): PUBLIC,
    ("POST", "/tra-cuu"): PUBLIC,
    ("GET", "/api/v1/public/lookup"): PUBLIC,
    ("GET", "/wallboard"): MANAGERS,
    ("GET", "/api/v1/stats/categories"): MANAGERS,
    ("GET", "/api/v1/stats/logged-in"): MANAGERS,
    ("GET", "/admin"): ADMIN,
    ("GET", "/api/v1/users"): ADMIN,
    ("POST", "/api/v1/users"): ADMIN,
    ("PATCH", "/api/v1/users/{username}"): ADMIN,
    ("GET", "/api/v1/prompts"): ADMIN,
    ("PUT", "/api/v1/prompts/{key}"): ADMIN,
    ("GET", "/notify/kannel/dlr"): SIGNED,
    ("GET", "/notify/kannel/mo"): SIGNED,
    ("GET", "/notify/brandname/dlr"): SIGNED,
    ("POST", "/notify/zalo/webhook"): SIGNED,
    ("GET", "/open311/v2/services.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/services/{code}.{fmt}"): PUBLIC,
    ("GET", "/open311/v2/requests.{fmt}"): PUBLIC,
    ("POST", "/open311/v2/requests.{fmt}"): SIGNED,  # the api_key of a registered client
    ("GET", "/open311/v2/requests/{id}.{fmt}"): PUBLIC,
}
PAGES = frozenset({"/", "/login", "/logout"})
BY_ADDRESS = frozenset({("GET", "/metrics")})
LOGOUT = ("POST", "/api/v1/auth/logout")
ROLES = (OP, SUP, ADM, AGY)


# Gateways configured so that their callback routes exist (nothing is sent in this test).
GATEWAYS = {
    "sms_gateway": "kannel",
    "kannel_password": "matrix-kannel",
    "notify_callback_secret": "matrix-callback-secret",
    "zalo_app_id": "1234567890",
    "zalo_app_secret": "matrix-zalo-app",
    "zalo_oa_secret": "matrix-zalo-oa",
    "zalo_refresh_token": "matrix-refresh",
}
# and /metrics closed to the test's own address (TEST-NET-1 is not the loopback it calls from)
MATRIX_SETTINGS = {**GATEWAYS, "metrics_allow": "192.0.2.0/24"}


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    users = {"m_op": Role.OPERATOR, "m_sup": Role.SUPERVISOR, "m_admin": Role.ADMIN}
    async with live_hotline(
        database_url, tmp_path, seed=5, users=users, settings=MATRIX_SETTINGS
    ) as running:
        yield running


def _concrete(path: str, schema: dict[str, dict[str, object]]) -> str:
    """ADM path to call: each parameter's first allowed value, or a harmless word."""

    def value(match: re.Match[str]) -> str:
        enum = schema.get(match.group(1), {}).get("enum")
        return str(enum[0]) if isinstance(enum, list) else "x1"

    return re.sub(r"\{(\w+)\}", value, path)


async def _credentials(live: Live) -> dict[str, tuple[str, str]]:
    """Per role: a bearer token and a session token."""
    auth = AuthService(PostgresUserRepository(live.service.pool), token_ttl=timedelta(hours=1))
    await auth.add_user("m_agency", "agency-password", Role.AGENCY, "UBND-P1")
    names = {OP: "m_op", SUP: "m_sup", ADM: "m_admin"}
    out = {}
    for role in ROLES:
        name, password = (
            ("m_agency", "agency-password") if role == AGY else (names[role], "operator-password")
        )
        bearer = (await auth.login(name, password)).token
        session = (await auth.login(name, password, TokenKind.SESSION)).token
        assert bearer is not None
        assert session is not None
        out[role] = (bearer, session)
    return out


async def test_given_every_route_when_called_as_every_role_then_access_matches_the_table(
    live: Live,
) -> None:
    async with live.http.get("/api/v1/openapi.json") as reply:
        document = await reply.json()
    routes = {
        (method.upper(), path): op
        for path, ops in document["paths"].items()
        for method, op in ops.items()
    }
    assert sorted(set(routes) - set(EXPECTED)) == [], "routes missing from the table"
    assert sorted(set(EXPECTED) - set(routes)) == [], "table rows without a route"
    credentials = await _credentials(live)
    wrong: list[str] = []
    async with aiohttp.ClientSession(base_url=live.service.http_url) as http:
        # logging out ends the bearer token each role calls with: that route comes last
        for (method, template), op in sorted(routes.items(), key=lambda r: (r[0] == LOGOUT, r[0])):
            expected = EXPECTED[(method, template)]
            schema = {p["name"]: p["schema"] for p in op.get("parameters", [])}
            path = _concrete(template, schema)
            page = template in PAGES or op.get("tags") == ["pages"]
            callers: list[tuple[str, dict[str, str]]] = [("anonymous", {})]
            for role in ROLES:
                bearer, session = credentials[role]
                callers.append(
                    (
                        role,
                        {"Cookie": f"hotline_session={session}"}
                        if page
                        else {"Authorization": f"Bearer {bearer}"},
                    )
                )
            for who, headers in callers:
                async with http.request(
                    method, path, headers=headers, json={}, allow_redirects=False
                ) as answer:
                    status = answer.status
                if expected == PUBLIC:
                    ok = status not in (401, 403) or (method, template) == ("POST", "/login")
                elif expected == SIGNED:  # refused: bad form (400) or no signature/key
                    ok = status in (400, 401, 403)
                elif who == "anonymous" and (method, template) in BY_ADDRESS:
                    ok = status == 403
                elif who == "anonymous":
                    ok = status in ((303,) if page else (401,))
                elif who in expected:
                    ok = status not in (401, 403)
                else:
                    ok = status == 403
                if not ok:
                    wrong.append(f"{method} {path} as {who}: {status} (expected {expected})")
    assert wrong == []
