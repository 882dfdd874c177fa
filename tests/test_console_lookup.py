"""The citizen lookup against the real service: on a phone-sized Chromium a citizen enters the
ticket code and the last four digits of their phone and reads the steps in plain Vietnamese
with the agency's answer; wrong digits get exactly the answer an unknown code gets; the 11th
attempt in a minute for one code from one address, and the 6th failed one in an hour for one
code, are refused with 429. Nothing but the steps and the answer is revealed."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest

from db.backoffice import PostgresBackofficeStore
from db.province import load_province
from hotline.web.lookup import FailedAttempts
from notify.templates import Event, render
from tests.support.browser import PHONE, chromium, new_page, screenshot, script_errors
from tests.support.service import RunningService
from tickets.agencies import load_province as read_province
from tickets.model import Category, Role, User
from tickets.service import BackofficeService

CALLER = "+84905551234"
SECRETS = (
    "0905551234",
    "905551234",
    "84905551234",
    "Nhà dân ở kiệt 42 bị ngập",  # the caller's description
    "op_lan",
    "phuong_hc1",  # staff names
    "Chờ công ty thoát nước",  # an internal note (the reassignment request's reason)
    "DN-HC-HC1",
)
ANSWER = "Đã nạo vét cống, nước đã rút."


@pytest.fixture
async def ticket(service: RunningService) -> str:
    """A flooding report forwarded to the ward, accepted and answered; with an internal note."""
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    pool = service.pool
    code = "1022-26-000042"
    ticket_id = await pool.fetchval(
        "INSERT INTO tickets (code, line, category, status, caller_phone, caller_raw,"
        " transcript, created_at, updated_at)"
        " VALUES ($1, '1022', 'unclassified', 'new', $2, '0905551234', 'tôi tên là Lan',"
        " now() - interval '2 days', now() - interval '2 days') RETURNING id",
        code,
        CALLER,
    )
    backoffice = BackofficeService(PostgresBackofficeStore(pool))
    operator = User(1, "op_lan", Role.OPERATOR, None)
    ward = User(2, "phuong_hc1", Role.AGENCY, "UBND-P-HC1")
    await backoffice.classify(
        operator,
        ticket_id,
        Category.FIELD_REPORT,
        "roads",
        "DN-HC-HC1",
        description="Nhà dân ở kiệt 42 bị ngập",
    )
    await backoffice.forward(operator, ticket_id, "UBND-P-HC1")
    await pool.execute(
        "INSERT INTO ticket_events (ticket_id, actor, kind, data) VALUES"
        " ($1, 'phuong_hc1', 'reassign_requested', '{\"reason\": \"Chờ công ty thoát nước\"}')",
        ticket_id,
    )
    await backoffice.accept(ward, ticket_id)
    await backoffice.respond(ward, ticket_id, ANSWER)
    return code


async def lookup(
    http: aiohttp.ClientSession, code: str, last4: str, **extra: str
) -> tuple[int, dict[str, Any], str]:
    async with http.get(
        "/api/v1/public/lookup", params={"code": code, "last4": last4, **extra}
    ) as reply:
        text = await reply.text()
        return reply.status, await reply.json(), text


async def test_given_a_citizen_on_a_phone_when_they_look_up_with_code_and_last_digits_then_the_steps_are_shown(
    service: RunningService, ticket: str
) -> None:
    async with chromium() as browser:
        page = await new_page(browser, viewport=PHONE)
        await page.goto(f"{service.http_url}/lookup")
        await page.fill("#lookup-code", ticket.lower())
        await page.fill("#lookup-last4", "1234")
        await page.click("button[type=submit]")
        await page.wait_for_selector("#lookup-result")
        steps = await page.locator(".steps .what").all_text_contents()
        dates = await page.locator(".steps time").all_text_contents()
        answer = await page.text_content(".answer-text")
        status = await page.text_content("[data-testid=lookup-status]")
        html = await page.content()
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        url = page.url
        await screenshot(page, "lookup-phone")

        await page.fill("#lookup-code", ticket)
        await page.fill("#lookup-last4", "9999")
        await page.click("button[type=submit]")
        wrong_digits = await page.text_content("#lookup-error")
        await page.fill("#lookup-code", "1022-26-999999")
        await page.fill("#lookup-last4", "1234")
        await page.click("button[type=submit]")
        unknown_code = await page.text_content("#lookup-error")
        leftover = await page.locator("#lookup-result").count()
        errors = script_errors(page)

    assert steps == [
        "Đã tiếp nhận",
        "Đã chuyển đến UBND phường Hải Châu 1",
        "Cơ quan đã tiếp nhận xử lý",
        "Đã có kết quả trả lời",
    ]
    assert all(len(d) == len("27/11/2026 09:30") for d in dates)
    assert answer == ANSWER
    assert status == "Đã có kết quả trả lời"
    assert not [s for s in SECRETS if s in html]
    assert "tôi tên là Lan" not in html  # the transcript
    assert width <= PHONE["width"]  # nothing wider than the phone
    assert "1234" not in url  # the digits are posted, not put in the address
    assert wrong_digits == unknown_code
    assert wrong_digits is not None
    assert "Không tìm thấy" in wrong_digits
    assert leftover == 0
    assert errors == []


async def test_given_wrong_digits_or_an_unknown_code_when_looked_up_then_the_answers_are_identical(
    service: RunningService, ticket: str
) -> None:
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        found = await lookup(http, ticket, "1234")
        wrong_digits = await lookup(http, ticket, "1235")
        unknown = await lookup(http, "1022-26-777777", "1234")
        english = await lookup(http, ticket, "1234", lang="en")
        malformed = await lookup(http, ticket, "12a4")

    assert found[0] == 200
    assert wrong_digits[:2] == unknown[:2]
    assert wrong_digits[0] == 404
    assert wrong_digits[1]["error_id"] == "not-found"
    body = found[1]
    assert set(body) == {"code", "status", "status_text", "steps"}
    assert [set(s) for s in body["steps"]] == [{"at", "kind", "text", "response"}] * 4
    assert [s["response"] for s in body["steps"]] == [None, None, None, ANSWER]
    assert not [s for s in SECRETS if s in found[2]]
    assert [s["text"] for s in english[1]["steps"]] == [
        "Received",
        "Sent to Hai Chau 1 Ward People's Committee",
        "The agency has taken it up",
        "The agency has answered",
    ]
    assert malformed[0] == 400


async def test_given_ten_lookups_of_a_code_in_a_minute_when_the_eleventh_comes_then_it_is_refused_with_429(
    service: RunningService, ticket: str
) -> None:
    """Per code from one address (citizens behind one NAT each have their own: see
    tests/test_logins.py)."""
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        first = [(await lookup(http, ticket, "1234"))[0] for _ in range(10)]
        eleventh = await lookup(http, ticket, "1234")
        async with http.post("/lookup", data={"code": ticket, "last4": "1234"}) as reply:
            page_status, page = reply.status, await reply.text()

    assert first == [200] * 10
    assert eleventh[0] == 429
    assert eleventh[1]["error_id"] == "rate-limited"
    assert eleventh[1]["message"]
    assert page_status == 429
    assert "quá nhiều lần" in page


async def test_given_five_failed_attempts_on_a_code_when_the_right_digits_come_then_they_are_refused(
    service: RunningService, ticket: str
) -> None:
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        failures = [(await lookup(http, ticket, f"000{n}"))[0] for n in range(5)]
        locked = await lookup(http, ticket, "1234")
        other_code = await lookup(http, "1022-26-000001", "1234")

    assert failures == [404] * 5
    assert locked[0] == 429  # guessing the digits of one ticket stops here
    assert locked[1]["error_id"] == "rate-limited"
    assert other_code[0] == 404


async def test_given_the_lookup_page_when_asked_in_english_then_it_is_english(
    service: RunningService,
) -> None:
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        async with http.get("/lookup?lang=en") as reply:
            status, page = reply.status, await reply.text()

    assert status == 200
    assert "Track your report" in page
    assert 'action="/lookup?lang=en"' in page


def test_given_an_idle_window_when_failures_expire_then_the_code_is_free_again() -> None:
    attempts = FailedAttempts(limit=2, window=0.01)
    attempts.record("1022-26-000001")
    attempts.record("1022-26-000001")
    time.sleep(0.02)
    locked_now = FailedAttempts(limit=2, window=timedelta(hours=1).total_seconds())
    locked_now.record("x")
    locked_now.record("x")

    assert not attempts.locked("1022-26-000001")
    assert locked_now.locked("x")
    assert not locked_now.locked("y")


async def test_given_the_link_in_a_citizens_sms_when_opened_on_a_phone_then_the_lookup_has_the_code_filled_in(
    service: RunningService, ticket: str
) -> None:
    lookup_url = f"{service.http_url}/tra-cuu"  # notify_lookup_url's path by default
    message = render(Event.RECEIVED, {"code": ticket, "line": "1022"}, lookup_url=lookup_url)
    link = message.rsplit("Tra cứu: ", 1)[1]
    assert link == f"{lookup_url}?ma={ticket}"
    async with chromium() as browser:
        page = await new_page(browser, viewport=PHONE)
        response = await page.goto(link)
        assert response is not None
        assert response.status == 200
        assert await page.input_value("#lookup-code") == ticket
        await page.fill("#lookup-last4", CALLER[-4:])
        await page.click("#lookup-form button[type=submit]")
        await page.wait_for_selector("#lookup-result")
        assert urlsplit(page.url).path == "/tra-cuu"
        assert ANSWER in await page.inner_text("#lookup-result")
        await screenshot(page, "lookup-from-sms-link")
        assert script_errors(page) == []
