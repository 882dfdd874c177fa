"""Browser sessions for the consoles: the login form (its own CSRF token), the HttpOnly
SameSite cookie, the CSRF token every write with that cookie needs, where a login may send the
browser, logout, the socket's same-origin rule, the security headers, and the language (waits
after failed logins: tests/test_logins.py)."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from hotline.web.pages import safe_next
from tests.support.browser import (
    PASSWORD,
    add_user,
    chromium,
    log_in,
    new_page,
    screenshot,
    script_errors,
)
from tests.support.service import RunningService
from tests.support.websocket import LiveEvents
from tickets.model import Role

REPORT = "/reports?from=2026-01-01&to=2026-01-31"


async def _form_login(
    http: aiohttp.ClientSession, username: str, password: str = PASSWORD, *, next_path: str = ""
) -> aiohttp.ClientResponse:
    async with http.get("/login") as form:
        html = await form.text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token is not None
    return await http.post(
        "/login",
        data={
            "username": username,
            "password": password,
            "csrf_token": token.group(1),
            "next": next_path,
        },
        allow_redirects=False,
    )


def _session(service: RunningService) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url=service.http_url, cookie_jar=aiohttp.CookieJar(unsafe=True)
    )


async def _csrf(http: aiohttp.ClientSession) -> str:
    async with http.get("/api/v1/auth/session") as me:
        assert me.status == 200
        token: str = (await me.json())["csrf"]
    return token


async def test_given_the_login_form_when_submitted_then_an_httponly_samesite_session_cookie_is_set(
    service: RunningService,
) -> None:
    await add_user(service, "sup", Role.SUPERVISOR)
    async with _session(service) as http:
        reply = await _form_login(http, "sup", next_path=REPORT)
        assert reply.status == 303
        assert reply.headers["Location"] == REPORT
        cookie = next(
            h for h in reply.headers.getall("Set-Cookie") if h.startswith("hotline_session=")
        )
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/" in cookie
        async with http.get(REPORT) as report:
            assert report.status == 200
            assert "Báo cáo" in await report.text()


async def test_given_a_login_post_without_the_forms_token_when_submitted_then_it_is_refused(
    service: RunningService,
) -> None:
    await add_user(service, "sup", Role.SUPERVISOR)
    async with _session(service) as http:
        reply = await http.post(
            "/login",
            data={"username": "sup", "password": PASSWORD, "csrf_token": "forged"},
            allow_redirects=False,
        )
        assert reply.status == 403
        assert "hotline_session" not in reply.cookies


async def test_given_a_session_cookie_when_it_writes_without_the_csrf_token_then_403(
    service: RunningService,
) -> None:
    await add_user(service, "op", Role.OPERATOR)
    async with _session(service) as http:
        assert (await _form_login(http, "op")).status == 303
        async with http.get("/api/v1/callbacks") as read:
            assert read.status == 200  # reads need no token
        async with http.post("/api/v1/tickets/1022-0000-0000/classify", json={}) as write:
            assert write.status == 403
            assert (await write.json())["error_id"] == "csrf-token-invalid"
        async with http.post(
            "/api/v1/tickets/1022-0000-0000/classify",
            json={},
            headers={"X-CSRF-Token": "0" * 64},
        ) as forged:
            assert forged.status == 403


async def test_given_a_sessions_csrf_token_when_it_writes_then_it_passes_authentication(
    service: RunningService,
) -> None:
    await add_user(service, "sup", Role.SUPERVISOR)
    async with _session(service) as http:
        assert (await _form_login(http, "sup")).status == 303
        async with http.post(
            "/api/v1/tickets/1022-0000-0000/classify",
            json={"category": "field_report"},
            headers={"X-CSRF-Token": await _csrf(http)},
        ) as write:
            assert write.status == 404  # past authentication: the ticket does not exist
            assert (await write.json())["error_id"] == "ticket-not-found"


async def _api_login(
    http: aiohttp.ClientSession, username: str, password: str = PASSWORD
) -> tuple[int, dict[str, str]]:
    async with http.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    ) as reply:
        return reply.status, await reply.json()


async def test_given_a_switched_off_account_when_it_logs_in_or_uses_a_token_then_it_is_refused(
    service: RunningService,
) -> None:
    await add_user(service, "minh", Role.OPERATOR)
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        _, body = await _api_login(http, "minh")
        await service.pool.execute("UPDATE users SET active = false WHERE username = 'minh'")
        async with http.get(
            "/api/v1/callbacks", headers={"Authorization": f"Bearer {body['token']}"}
        ) as used:
            assert used.status == 401
        assert (await _api_login(http, "minh"))[0] == 401


async def test_given_a_logged_out_session_when_its_cookie_is_replayed_then_it_no_longer_works(
    service: RunningService,
) -> None:
    await add_user(service, "sup", Role.SUPERVISOR)
    async with _session(service) as http:
        reply = await _form_login(http, "sup")
        cookie = reply.cookies["hotline_session"].value
        async with http.get(REPORT) as before:
            assert before.status == 200
        async with http.post("/logout", data={"csrf_token": await _csrf(http)}) as out:
            assert out.status == 200  # followed to the login form
            assert str(out.url).endswith("/login")
    async with aiohttp.ClientSession(
        base_url=service.http_url, cookies={"hotline_session": cookie}
    ) as replay:
        async with replay.get("/api/v1/callbacks") as refused:
            assert refused.status == 401


async def test_given_a_session_cookie_when_another_site_opens_the_socket_then_it_is_refused(
    service: RunningService,
) -> None:
    await add_user(service, "sup", Role.SUPERVISOR)
    async with _session(service) as http:
        await _form_login(http, "sup")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await http.ws_connect("/api/v1/events", origin="https://evil.example")
        assert refused.value.status == 403
        async with http.ws_connect("/api/v1/events", origin=service.http_url) as ws:
            hello = await LiveEvents(ws).next()
        assert hello["data"]["user"] == "sup"


async def test_given_a_page_when_served_then_it_carries_the_security_headers(
    service: RunningService,
) -> None:
    async with _session(service) as http:
        async with http.get("/login") as page:
            assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
            assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
            assert page.headers["X-Content-Type-Options"] == "nosniff"
        async with http.get("/operator", allow_redirects=False) as anonymous:
            assert anonymous.status == 303
            location = urlsplit(anonymous.headers["Location"])
            assert (location.path, parse_qs(location.query)) == ("/login", {"next": ["/operator"]})


async def test_given_a_browser_when_it_logs_in_in_vietnamese_and_switches_to_english_then_texts_follow(
    service: RunningService,
) -> None:
    await add_user(service, "sup", Role.SUPERVISOR)
    async with chromium() as browser:
        page = await new_page(browser)
        await page.goto(f"{service.http_url}/login")
        assert await page.inner_text("h1") == "Đăng nhập hệ thống tổng đài"
        await screenshot(page, "login-vi")
        await page.click("[data-testid=lang-switch]")
        await page.wait_for_url("**lang=en")
        assert await page.inner_text("h1") == "Log in to the hotline"
        await page.fill("input[name=username]", "sup")
        await page.fill("input[name=password]", "wrong-password")
        await page.click("button[type=submit]")
        assert await page.inner_text("[role=alert]") == "Wrong user name or password."
        await page.goto(f"{service.http_url}/login?lang=vi")
        await log_in(page, service.http_url, "sup", path=REPORT)
        assert "Báo cáo" in await page.inner_text("h1")
        assert script_errors(page) == []


HOSTILE_NEXT = (
    "/\t/example.com",  # browsers drop the tab: //example.com
    "/\n/example.com",
    "/\r\n/example.com",
    "\t//example.com",
    "//example.com",
    "/\\example.com",  # browsers read \ as /
    "\\/example.com",
    "https://example.com/operator",
    "javascript:alert(1)",
    "example.com",
    "/x\r\nSet-Cookie: hotline_session=stolen",  # a header of ours, once
)


def test_given_a_next_that_leaves_the_site_when_checked_then_only_paths_of_this_site_pass() -> None:
    assert [n for n in HOSTILE_NEXT if safe_next(n) is not None] == []
    assert safe_next("/operator?tab=callbacks#x") == "/operator?tab=callbacks#x"
    assert safe_next("/%09/example.com") == "/%09/example.com"  # encoded: a path here


async def test_given_a_next_that_leaves_the_site_when_logging_in_then_the_console_is_the_destination(
    service: RunningService,
) -> None:
    await add_user(service, "lan", Role.OPERATOR)
    async with _session(service) as http:
        async with http.get("/login", params={"next": "/\t/example.com"}) as form:
            echoed = 'name="next" value=""' in await form.text()
        tab = await _form_login(http, "lan", next_path="/\t/example.com")
        header = await _form_login(
            http, "lan", next_path="/x\r\nSet-Cookie: hotline_session=stolen"
        )
        kept = await _form_login(http, "lan", next_path="/operator?tab=callbacks#x")

    assert (tab.status, tab.headers["Location"]) == (303, "/operator")
    assert (header.status, header.headers["Location"]) == (303, "/operator")
    assert "stolen" not in str(header.headers)
    assert kept.headers["Location"] == "/operator?tab=callbacks#x"
    assert echoed  # the form does not carry a bad next along either


async def test_given_a_browser_when_it_asks_for_the_icon_then_the_pages_icon_and_favicon_ico_answer(
    service: RunningService,
) -> None:
    async with chromium() as browser:
        page = await new_page(browser)
        await page.goto(f"{service.http_url}/login")
        href = await page.get_attribute("link[rel=icon]", "href")
        assert href is not None
        linked = await page.request.get(f"{service.http_url}{href}")
        fallback = await page.request.get(f"{service.http_url}/favicon.ico")
        assert (linked.status, fallback.status) == (200, 200)
        assert fallback.headers["content-type"] == "image/svg+xml"
        assert await fallback.body() == await linked.body()
        assert (await fallback.body()).startswith(b"<svg")
