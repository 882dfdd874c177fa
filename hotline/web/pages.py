"""The consoles' HTML: one shell template per page (Jinja2, autoescaped), browser sessions
(HttpOnly cookie, SameSite=Strict, CSRF token), the login and logout forms, the language switch
and the security headers. Each page states the roles it admits, like the API routes; its data
comes from the API, called by the page's own script with the session cookie."""

from __future__ import annotations

import functools
import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web
from aiohttp.typedefs import Handler

from db.errors import DATABASE_DOWN
from hotline.auth import LoginStatus, TokenKind, csrf_matches, csrf_token
from hotline.keys import AUTH, MENU
from hotline.web.errors import ApiError
from hotline.web.http import (
    SESSION_COOKIE,
    USER,
    attempt_login,
    client_address,
    read_form,
    retry_after,
    session_token,
)
from hotline.web.i18n import DEFAULT_LANG, Lang, page_texts, text
from hotline.web.openapi import PAGE_ATTRIBUTE, ROLES_ATTRIBUTE, describe
from runtime.secrets_compare import same_secret
from tickets.codes import HOTLINE_TZ
from tickets.errors import DomainError
from tickets.model import Role, User
from tickets.staffing import queue_lines

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).with_name("static")
STATIC_PREFIX = "/static/"
LANG_COOKIE = "hotline_lang"
LOGIN_CSRF_COOKIE = "hotline_login_csrf"
LANG_KEY = web.RequestKey("lang", Lang)
COOKIE_SETTINGS = web.AppKey("cookie_settings", dict[str, Any])

HOME = {
    Role.OPERATOR: "/operator",
    Role.SUPERVISOR: "/wallboard",
    Role.AGENCY: "/agency",
    Role.ADMIN: "/admin",
}
NAV: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.OPERATOR: (("/operator", "common.nav_operator"), ("/reviews", "common.nav_reviews")),
    Role.SUPERVISOR: (
        ("/wallboard", "common.nav_wallboard"),
        ("/operator", "common.nav_operator"),
        ("/reports", "common.nav_reports"),
        ("/reviews", "common.nav_reviews"),
    ),
    Role.AGENCY: (("/agency", "common.nav_agency"),),
    Role.ADMIN: (
        ("/admin", "common.nav_admin"),
        ("/wallboard", "common.nav_wallboard"),
        ("/reports", "common.nav_reports"),
        ("/reviews", "common.nav_reviews"),
    ),
}

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "media-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    )
)

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("hotline.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)

PageHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def request_lang(request: web.Request) -> Lang:
    """``?lang=`` (remembered in a cookie), else the cookie, else Vietnamese."""
    for raw in (request.query.get("lang"), request.cookies.get(LANG_COOKIE)):
        if raw is not None and raw in {lang.value for lang in Lang}:
            return Lang(raw)
    return DEFAULT_LANG


def render(
    request: web.Request,
    template: str,
    *,
    page: str,
    title_key: str,
    user: User | None = None,
    status: int = 200,
    data: dict[str, Any] | None = None,
    **context: Any,
) -> web.Response:
    """A page: its template inside the shell, with the data its script reads (texts of its
    language, the CSRF token of the session, the user) in a JSON block, never inline code."""
    lang = request[LANG_KEY]
    other = Lang.EN if lang is Lang.VI else Lang.VI
    session = session_token(request)
    csrf = csrf_token(session) if session and user else ""
    page_data = {
        "lang": lang.value,
        "page": page,
        "csrf": csrf,
        "user": None
        if user is None
        else {"username": user.username, "role": user.role.value, "agency": user.agency_code},
        "texts": page_texts(lang, page),
        # the line of each queue, for the timelines' "queued" steps
        "queues": {q: line.value for q, line in queue_lines(request.app[MENU].lines).items()},
        **(data or {}),
    }
    body = _templates.get_template(template).render(
        t=lambda key, **values: text(key, lang).format(**values) if values else text(key, lang),
        lang=lang.value,
        other_lang=other.value,
        # the same page in the other language: what was asked (a report's period) stays
        lang_href="?"
        + urlencode(
            [*((k, v) for k, v in request.query.items() if k != "lang"), ("lang", other.value)]
        ),
        page=page,
        title=text(title_key, lang),
        user=user,
        nav=NAV.get(user.role, ()) if user else (),
        path=request.path,
        csrf=csrf,
        page_data=json.dumps(page_data, ensure_ascii=False).replace("</", "<\\/"),
        static=lambda name: str(request.app.router["static"].url_for(filename=name)),
        **context,
    )
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    if "lang" in request.query:
        response.set_cookie(
            LANG_COOKIE, lang.value, max_age=365 * 86400, samesite="Lax", httponly=True
        )
    return response


def page(*roles: Role) -> Callable[[PageHandler], PageHandler]:
    """A console page for ``roles``: without a session the browser goes to the login form
    (and comes back after it); a session of another role gets a 403 page."""
    allowed = frozenset(roles)

    def decorate(handler: PageHandler) -> PageHandler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            session = session_token(request)
            user = (
                await request.app[AUTH].authenticate(session, TokenKind.SESSION)
                if session
                else None
            )
            if user is None:
                target = request.path_qs
                raise web.HTTPSeeOther(f"/login?next={quote(target, safe='')}")
            if user.role not in allowed:
                return render(
                    request,
                    "message.html",
                    page="common",
                    title_key="common.error_403_title",
                    user=user,
                    status=403,
                    message_key="common.error_403_text",
                )
            request[USER] = user
            return await handler(request)

        setattr(wrapper, ROLES_ATTRIBUTE, allowed)
        setattr(wrapper, PAGE_ATTRIBUTE, True)
        return wrapper

    return decorate


def safe_next(raw: str | None) -> str | None:
    r"""``raw`` when it is a path of this site as a browser will read it, else ``None``. A
    browser drops tabs and line breaks anywhere in an address and reads ``\`` as ``/``, so
    ``/<tab>/example.com`` and ``/\example.com`` are ``//example.com``, another site: no
    control character and no backslash at all, then one leading ``/`` and not two."""
    if not raw or "\\" in raw or any(ord(c) < 0x20 or c == "\x7f" for c in raw):
        return None
    if not raw.startswith("/") or raw.startswith("//"):
        return None  # a scheme (https:, javascript:) or another host
    return raw


def _login_form(
    request: web.Request, *, status: int = 200, error: str | None = None
) -> web.Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        page="common",
        title_key="common.login_title",
        status=status,
        form_csrf=token,
        error=error,
        next_path=safe_next(request.query.get("next")) or "",
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE, token, httponly=True, samesite="Strict", path="/login", max_age=3600
    )
    return response


@describe(
    query={"next": {"type": "string"}, "lang": {"type": "string", "enum": ["vi", "en"]}},
    produces="text/html",
    tag="pages",
)
async def login_page(request: web.Request) -> web.StreamResponse:
    return _login_form(request)


@describe(
    body={
        "type": "object",
        "required": ["username", "password", "csrf_token"],
        "properties": {
            "username": {"type": "string"},
            "password": {"type": "string"},
            "csrf_token": {"type": "string"},
            "next": {"type": "string"},
        },
    },
    body_type="application/x-www-form-urlencoded",
    produces="text/html",
    responses={
        303: "logged in: on to the console",
        401: "wrong user name or password",
        403: "stale form",
        429: "too many attempts from this address, or failures for this name from it",
    },
    tag="pages",
)
async def login_submit(request: web.Request) -> web.StreamResponse:
    form = await read_form(request)
    lang = request[LANG_KEY]
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    presented = str(form.get("csrf_token", ""))
    if not expected or not same_secret(expected, presented):
        return _login_form(request, status=403, error=text("common.login_stale", lang))
    username, password = str(form.get("username", "")), str(form.get("password", ""))
    client = client_address(request)
    try:
        result = await attempt_login(request, username, password, TokenKind.SESSION)
    except ApiError as refused:  # too many attempts from this address
        page = _login_form(request, status=429, error=text("common.login_rate_limited", lang))
        page.headers.update(refused.headers)
        return page
    if result.status is LoginStatus.DELAYED:
        assert result.retry_at is not None
        until = result.retry_at.astimezone(HOTLINE_TZ).strftime("%H:%M:%S")
        page = _login_form(
            request, status=429, error=text("common.login_delayed", lang).format(until=until)
        )
        page.headers["Retry-After"] = str(retry_after(result.retry_at))
        return page
    if result.token is None:
        logger.info("console login refused for %r from %s", username, client)
        return _login_form(request, status=401, error=text("common.login_failed", lang))
    user = await request.app[AUTH].authenticate(result.token, TokenKind.SESSION)
    assert user is not None
    logger.info("console login: %s (%s) from %s", user.username, user.role.value, client)
    response = _see_other(safe_next(str(form.get("next", ""))) or HOME[user.role])
    response.set_cookie(SESSION_COOKIE, result.token, **request.app[COOKIE_SETTINGS])
    response.del_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@describe(
    body={"type": "object", "properties": {"csrf_token": {"type": "string"}}},
    body_type="application/x-www-form-urlencoded",
    responses={303: "to the login form"},
    tag="pages",
)
async def logout_submit(request: web.Request) -> web.StreamResponse:
    session = session_token(request)
    form = await read_form(request)
    if session and csrf_matches(session, str(form.get("csrf_token", ""))):
        await request.app[AUTH].logout(session)
    response = _see_other("/login")
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


@describe(responses={303: "to the console of the role, or the login form"}, tag="pages")
async def home(request: web.Request) -> web.StreamResponse:
    session = session_token(request)
    user = await request.app[AUTH].authenticate(session, TokenKind.SESSION) if session else None
    raise web.HTTPSeeOther(HOME[user.role] if user else "/login")


@describe(produces="image/svg+xml", tag="pages")
async def favicon(request: web.Request) -> web.StreamResponse:
    """The icon browsers ask for where no page names one (a JSON answer, a file): the same
    drawing as the pages' ``<link rel="icon">``."""
    return web.FileResponse(
        STATIC_DIR / "favicon.svg",
        headers={"Content-Type": "image/svg+xml", "Cache-Control": "public, max-age=86400"},
    )


# Where the API, the gateways' callbacks and the files live: their errors stay JSON.
NOT_PAGES = ("/api/", "/open311/", "/notify/", "/static/", "/healthz", "/metrics")
# What makes a page 503: the database out of reach, a service not answering in time.
PAGE_UNAVAILABLE: tuple[type[Exception], ...] = (*DATABASE_DOWN, TimeoutError)
# Statuses an error page has its own words for (common.error_<status>_title / _text).
ERROR_PAGES = frozenset({400, 403, 404, 405, 413, 429, 500, 503})


def _wants_page(request: web.Request) -> bool:
    """A browser asking for a page (not the API, whatever it accepts)."""
    return not request.path.startswith(NOT_PAGES) and "text/html" in request.headers.get(
        "Accept", ""
    )


async def _error_page(
    request: web.Request, status: int, *, authenticate: bool = True
) -> web.Response:
    """An error as a page in the request's language, under the usual top bar (with the user's
    links, unless the database that knows the user is what failed)."""
    session = session_token(request) if authenticate else None
    user = await request.app[AUTH].authenticate(session, TokenKind.SESSION) if session else None
    shown = status if status in ERROR_PAGES else 500
    return render(
        request,
        "message.html",
        page="common",
        title_key=f"common.error_{shown}_title",
        user=user,
        status=status,
        message_key=f"common.error_{shown}_text",
    )


@web.middleware
async def page_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The language of the request; errors met while answering a browser's page request as a
    page in that language (never the API's JSON)."""
    request[LANG_KEY] = request_lang(request)
    try:
        response = await handler(request)
    except web.HTTPException as err:
        if err.status < 400 or not _wants_page(request):
            raise
        response = await _error_page(request, err.status)
    except (ApiError, DomainError) as err:
        if not _wants_page(request):
            raise
        if err.status >= 500:
            logger.error("page %s failed: %s", request.path, err.message)
        response = await _error_page(request, err.status)
    except PAGE_UNAVAILABLE as err:
        if not _wants_page(request):
            raise
        logger.warning("page %s: the database or a service did not answer (%s)", request.path, err)
        response = await _error_page(request, 503, authenticate=False)
    return response


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """``on_response_prepare``, so every answer has them, an error's too: nothing framed,
    sniffed or made to run scripts from anywhere but this site; nothing but the static files
    kept by a browser or a proxy (answers carry callers' personal data); and no ``Server``
    header naming our software's versions."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if not request.path.startswith(STATIC_PREFIX):
        headers.setdefault("Cache-Control", "no-store")
    headers.popall("Server", None)


def setup_pages(app: web.Application, *, secure_cookie: bool, session_ttl: timedelta) -> None:
    app[COOKIE_SETTINGS] = {
        "httponly": True,
        "samesite": "Strict",
        "secure": secure_cookie,
        "path": "/",
        "max_age": int(session_ttl.total_seconds()),
    }
    app.router.add_get("/", home)
    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout_submit)
    app.router.add_get("/favicon.ico", favicon)
    app.router.add_static(STATIC_PREFIX.rstrip("/"), STATIC_DIR, append_version=True, name="static")
    app.on_response_prepare.append(security_headers)
