"""The supervisor wallboard in headless Chromium: the real service against the switchboard
emulator (a caller waiting in the 1022 queue, then answered; a supervisor pausing, logging out
and barging in from the page), the tickets-per-category statistics and the role checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from playwright.async_api import Page, expect

from db.stats import month_starts
from db.users import PostgresUserRepository
from hotline.auth import AuthService
from hotline.web.live import SOCKETS
from switchboard import CallerScript, Softphone
from tests.support.browser import (
    add_user,
    chromium,
    log_in,
    new_page,
    screenshot,
    script_errors,
)
from tests.support.live import Live, eventually, live_hotline
from tests.support.service import RunningService
from tickets.codes import HOTLINE_TZ
from tickets.model import Role

OP = "PJSIP/op101"
ROW = f"#operators tr[data-interface='{OP}']"


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_hotline(database_url, tmp_path, seed=31, users={"lan": Role.OPERATOR}) as state:
        yield state


async def open_wallboard(live: Live, page: Page) -> None:
    await add_user(live.service, "sup", Role.SUPERVISOR)
    await log_in(page, live.service.http_url, "sup", path="/wallboard")
    await page.wait_for_selector(f"{ROW}")


def members(live: Live) -> set[tuple[str, str, bool, str]]:
    return {
        (name, m.interface, m.paused, m.paused_reason)
        for name, q in live.board.truth().queues.items()
        for m in q.members
    }


async def test_given_a_supervisor_on_the_wallboard_when_a_caller_joins_the_1022_queue_and_is_answered_then_the_waiting_count_follows_without_reload(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=100_000.0))
    live.board.add_softphone(Softphone("sup201", ring_delay=1.0, talk_time=5.0))
    await live.login("lan", "op101")
    status, _ = await live.post("lan", "/api/v1/operators/me/pause", {"reason": "Họp"})
    assert status == 200
    async with chromium() as browser:
        page = await new_page(browser)
        await open_wallboard(live, page)
        waiting = page.locator("[data-testid=waiting-1022]")
        await expect(waiting).to_have_text("0")
        assert await page.is_hidden("#asterisk-warning")
        assert await page.text_content(f"{ROW} [data-testid=state]") == "Tạm nghỉ"
        assert await page.text_content(f"{ROW} [data-testid=pause-reason]") == "Họp"
        await page.evaluate("window.wallboardLoaded = true")

        call = await live.board.place_call("1022", "0901234567", script=CallerScript(keys=["2"]))
        await expect(waiting).to_have_text("1", timeout=20_000)
        assert await page.text_content("[data-testid=waiting-115]") == "0"
        first = await page.text_content("[data-testid=longest-1022]")
        assert first is not None
        assert ":" in first
        # ticks in the browser, with no event in between
        await expect(page.locator("[data-testid=longest-1022]")).not_to_have_text(
            first, timeout=3_000
        )
        gave_up = await live.board.place_call("115", "0944444444", patience=10.0)
        assert (await gave_up.wait()).abandoned
        await expect(page.locator("[data-testid=abandoned-115]")).to_have_text("1")
        row = page.locator("#abandoned tbody tr")
        await expect(row).to_have_count(1)
        cells = await row.locator("td").all_text_contents()
        assert cells[1:3] == ["115", "0944444444"]
        assert cells[3].startswith("0:")
        await expect(waiting).to_have_text("1")
        await screenshot(page, "wallboard")

        await page.click(f"{ROW} button[data-action=unpause]")
        await expect(waiting).to_have_text("0", timeout=20_000)
        await page.wait_for_selector(f"{ROW}[data-state=on_call]")
        assert live.agents.model.call_of(OP) is not None
        # the same page all along: nothing reloaded it
        assert await page.evaluate("window.wallboardLoaded === true")

        await page.fill("#my-extension", "sup201")
        await page.press("#my-extension", "Tab")
        await page.click(f"{ROW} button[data-action=barge]")
        await page.wait_for_selector("#confirm[open]")
        await page.click("#confirm-cancel")
        await page.click(f"{ROW} button[data-action=listen]")
        await eventually(lambda: len(live.board.spies) == 1, 15)
        await page.click(f"{ROW} button[data-action=barge]")
        await page.wait_for_selector("#confirm[open]")
        await page.click("#confirm-ok")
        await eventually(lambda: len(live.board.spies) == 2, 15)
        assert [s.mode for s in live.board.spies] == ["listen", "barge"]
        await page.reload()
        await page.wait_for_selector(f"{ROW}[data-state=on_call]")
        assert await page.input_value("#my-extension") == "sup201"  # remembered
        await screenshot(page, "wallboard-on-call")
        assert script_errors(page) == []
        call.hangup()
        await call.wait()


async def test_given_a_supervisors_softphone_when_it_does_not_answer_then_answers_then_the_wallboard_tells_each_truth(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=100_000.0))
    live.board.add_softphone(Softphone("sup201", answers=False))
    live.board.add_softphone(Softphone("sup202", ring_delay=2.0, talk_time=3600.0))
    await live.login("lan", "op101")
    call = await live.board.place_call("1022", "0901234567", script=CallerScript(keys=["3"]))
    async with chromium() as browser:
        page = await new_page(browser)
        await open_wallboard(live, page)
        await page.wait_for_selector(f"{ROW}[data-state=on_call]", timeout=20_000)
        toast = page.locator("#toast")

        await page.fill("#my-extension", "sup201")
        await page.click(f"{ROW} button[data-action=listen]")
        await expect(toast).to_have_text(
            "Đang gọi máy sup201 của bạn — nhấc máy để vào cuộc gọi của lan…"
        )
        await expect(toast).to_have_text(
            "Máy sup201 của bạn không trả lời trong 30 giây: bạn chưa vào cuộc gọi.",
            timeout=15_000,
        )
        await expect(toast).to_have_attribute("data-kind", "error")
        await screenshot(page, "wallboard-listen-not-answered")
        assert live.board.spies == []

        await page.fill("#my-extension", "sup202")
        await page.click(f"{ROW} button[data-action=listen]")
        await expect(toast).to_have_text(
            "Bạn đang nghe cuộc gọi của lan trên máy sup202.", timeout=15_000
        )
        await expect(toast).to_have_attribute("data-kind", "ok")
        assert [s.mode for s in live.board.spies] == ["listen"]
        assert script_errors(page) == []
    call.hangup()


async def test_given_a_ready_operator_when_the_supervisor_pauses_and_logs_them_out_from_the_wallboard_then_asterisk_has_the_reason_and_then_no_member(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101"))
    await live.login("lan", "op101")
    async with chromium() as browser:
        page = await new_page(browser)
        await open_wallboard(live, page)
        await page.wait_for_selector(f"{ROW}[data-state=available]")
        assert await page.is_disabled(f"{ROW} button[data-action=listen]")  # not on a call

        await page.select_option("#pause-reason", label="Đào tạo")
        await page.click(f"{ROW} button[data-action=pause]")
        await eventually(
            lambda: (
                members(live)
                == {("hotline-1022", OP, True, "Đào tạo"), ("emergency-115", OP, True, "Đào tạo")}
            )
        )
        await page.wait_for_selector(f"{ROW}[data-state=paused]")
        assert await page.text_content(f"{ROW} [data-testid=pause-reason]") == "Đào tạo"
        assert await page.text_content("#state-counts li[data-state=paused] .wb-state-n") == "1"

        # the socket drops and the operator comes back meanwhile: dimmed and said, then reloaded
        await live.service.app[SOCKETS].close_all()
        status, _ = await live.post("lan", "/api/v1/operators/me/unpause")
        assert status == 200
        await page.wait_for_selector("#live-status[data-state=offline]", timeout=2_000)
        assert await page.evaluate("document.body.classList.contains('offline')")
        await page.wait_for_selector("#live-status[data-state=reconnected]", timeout=15_000)
        await page.wait_for_selector(f"{ROW}[data-state=available]")
        assert await page.text_content("#state-counts li[data-state=paused] .wb-state-n") == "0"

        await page.click(f"{ROW} button[data-action=logout]")
        await page.wait_for_selector("#confirm[open]")
        assert "lan" in (await page.text_content("#confirm-text") or "")
        await page.click("#confirm-ok")
        await eventually(lambda: members(live) == set())
        await page.wait_for_selector(ROW, state="detached")
        assert await page.is_visible("#no-operators")
        assert script_errors(page) == []


async def tokens(service: RunningService, users: dict[str, Role]) -> dict[str, str]:
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    result = {}
    for name, role in users.items():
        await auth.add_user(name, "secret-password-1", role)
        token = (await auth.login(name, "secret-password-1")).token
        assert token is not None
        result[name] = token
    return result


async def insert_ticket(
    db: asyncpg.Connection, n: int, line: str, category: str, created: datetime
) -> int:
    ident: int = await db.fetchval(
        "INSERT INTO tickets (code, line, category, caller_raw, created_at)"
        " VALUES ($1, $2, $3, '0901234567', $4) RETURNING id",
        f"{line}-TEST-{n:06d}",
        line,
        category,
        created,
    )
    return ident


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=HOTLINE_TZ)


async def test_given_tickets_over_the_months_when_categories_are_asked_then_counts_are_per_local_month_and_only_supervisors_see_them(
    service: RunningService, db: asyncpg.Connection
) -> None:
    starts = month_starts(datetime.now(HOTLINE_TZ).date(), 13)
    outside, eleventh, last, this = starts[0], starts[1], starts[-2], starts[-1]
    n = iter(range(1, 100))
    # 00:30 on the 1st in Hà Nội time is still the previous month in UTC: counted in this one
    first_minutes = local(this.year, this.month, 1, 0, 30)
    assert first_minutes.astimezone(UTC).month != this.month
    await insert_ticket(db, next(n), "1022", "field_report", first_minutes)
    await insert_ticket(db, next(n), "1022", "field_report", local(this.year, this.month, 1, 9))
    await insert_ticket(db, next(n), "115", "medical", local(this.year, this.month, 1, 10))
    # 23:30 on the last day of last month (local): last month, though UTC is the same day
    last_day = this - timedelta(days=1)
    await insert_ticket(
        db, next(n), "1022", "admin_procedure", local(last.year, last.month, last_day.day, 23, 30)
    )
    kept = await insert_ticket(
        db, next(n), "1022", "information", local(last.year, last.month, 2, 8)
    )
    duplicate = await insert_ticket(
        db, next(n), "1022", "information", local(last.year, last.month, 2, 9)
    )
    await db.execute("UPDATE tickets SET merged_into = $1 WHERE id = $2", kept, duplicate)
    await insert_ticket(
        db, next(n), "1022", "unclassified", local(eleventh.year, eleventh.month, 15, 12)
    )
    await insert_ticket(
        db, next(n), "1022", "field_report", local(outside.year, outside.month, 15, 12)
    )

    who = await tokens(service, {"sup": Role.SUPERVISOR, "boss": Role.ADMIN, "lan": Role.OPERATOR})
    async with aiohttp.ClientSession(base_url=service.http_url) as http:

        async def get(user: str, path: str) -> tuple[int, dict[str, Any]]:
            headers = {"Authorization": f"Bearer {who[user]}"}
            async with http.get(path, headers=headers) as response:
                return response.status, await response.json()

        status, body = await get("sup", "/api/v1/stats/categories")
        assert status == 200, body
        months = body["months"]
        assert isinstance(months, list)
        assert len(months) == 12
        assert months[-1] == f"{this.year:04d}-{this.month:02d}"
        assert months[0] == f"{eleventh.year:04d}-{eleventh.month:02d}"
        categories = body["categories"]
        assert isinstance(categories, list)
        counts = {c["category"]: dict(zip(months, c["counts"], strict=True)) for c in categories}
        nonzero = {
            (cat, month): count
            for cat, per in counts.items()
            for month, count in per.items()
            if count
        }
        this_key, last_key = months[-1], months[-2]
        assert nonzero == {
            ("field_report", this_key): 2,
            ("medical", this_key): 1,
            ("admin_procedure", last_key): 1,
            ("information", last_key): 1,
            ("unclassified", months[0]): 1,
        }
        assert body["total"] == 6

        status, body = await get("boss", "/api/v1/stats/categories?months=1&line=115")
        assert status == 200, body
        assert body["months"] == [this_key]
        assert [(c["category"], c["counts"]) for c in body["categories"] if c["total"]] == [
            ("medical", [1])
        ]
        status, body = await get("sup", "/api/v1/stats/categories?months=13")
        assert status == 200
        assert body["total"] == 7

        for bad in ("months=0", "months=37", "months=x", "months=%C2%B2", "line=116"):
            status, body = await get("sup", f"/api/v1/stats/categories?{bad}")
            assert (status, body["error_id"]) == (400, "invalid-request"), bad
        day = this + timedelta(days=1)
        sup_id = await db.fetchval("SELECT id FROM users WHERE username = 'sup'")
        await db.execute(
            "INSERT INTO operator_sessions (user_id, interface, queues, logged_in_at, logged_out_at)"
            " VALUES ($1, 'PJSIP/op101', $2, $3, $4)",
            sup_id,
            ["hotline-1022", "emergency-115"],
            local(day.year, day.month, day.day, 8, 5),
            local(day.year, day.month, day.day, 8, 20),
        )
        status, body = await get("sup", f"/api/v1/stats/logged-in?date={day.isoformat()}")
        assert status == 200, body
        assert [(i["queue"], i["interval_start"], i["operators"]) for i in body["items"]] == [
            (queue, local(day.year, day.month, day.day, 8, minute).astimezone(UTC).isoformat(), 1)
            for minute in (0, 15)
            for queue in ("emergency-115", "hotline-1022")
        ]
        for bad in ("date=x", "date=0001-01-01", "date=2026-02-30"):
            status, body = await get("boss", f"/api/v1/stats/logged-in?{bad}")
            assert (status, body["error_id"]) == (400, "invalid-request"), bad

        status, body = await get("lan", "/api/v1/stats/categories")
        assert (status, body["error_id"]) == (403, "forbidden")
        status, body = await get("lan", "/api/v1/stats/logged-in")
        assert status == 403

    async with chromium() as browser:
        await add_user(service, "hoa", Role.OPERATOR)
        page = await new_page(browser)
        await log_in(page, service.http_url, "hoa", path="/operator")
        response = await page.goto(f"{service.http_url}/wallboard")
        assert response is not None
        assert response.status == 403

        await add_user(service, "thu", Role.SUPERVISOR)
        page = await new_page(browser)
        await log_in(page, service.http_url, "thu", path="/wallboard")
        # this service has no AMI connection: the page says so in words, not with empty tiles
        await page.wait_for_selector("#asterisk-warning:not([hidden])")
        legend = page.locator("[data-testid=chart-categories] .legend li")
        await legend.filter(has_text="Phản ánh hiện trường (2)").wait_for()
        assert await page.locator("[data-testid=chart-categories] svg rect.bar").count() == 5 * 12
        await screenshot(page, "wallboard-no-asterisk")

        await page.goto(f"{service.http_url}/wallboard?lang=en")
        await page.wait_for_selector("#asterisk-warning:not([hidden])")
        assert await page.text_content("[data-testid=queue-115] .wb-label") == "Callers waiting"
        legend = page.locator("[data-testid=chart-categories] .legend li")
        await legend.filter(has_text="Field reports (2)").wait_for()
        await screenshot(page, "wallboard-en")
        assert script_errors(page) == []
