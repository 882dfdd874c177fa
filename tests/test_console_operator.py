"""The operator console in headless Chromium: the real service against the switchboard emulator
(a caller connected to the operator's softphone), the 115 ambulance dispatch from the page, the
live socket dropped by the server, and the page's role check."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import asyncpg
import pytest
from playwright.async_api import expect

from db.province import load_province
from hotline.web.live import SOCKETS
from switchboard import CalledParty, CallerScript, Softphone
from tests.support.browser import (
    add_user,
    chromium,
    log_in,
    log_softphone_in,
    new_page,
    operator_page,
    screenshot,
    script_errors,
)
from tests.support.live import Live, live_hotline
from tests.support.service import RunningService
from tickets.agencies import load_province as read_province
from tickets.model import Role

CALLER = "0901234567"


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_hotline(database_url, tmp_path, seed=11, users={}) as state:
        async with state.service.pool.acquire() as conn:
            await load_province(conn, read_province())
        yield state


async def simulate_transcript(db: asyncpg.Connection, code: str, text: str) -> None:
    """What the speech worker stores in one transaction (``db.transcripts``): the transcript,
    its timeline event with the suggestion, and the NOTIFY every instance forwards."""
    ticket_id = await db.fetchval("SELECT id FROM tickets WHERE code = $1", code)
    async with db.transaction():
        await db.execute(
            "UPDATE tickets SET transcript = $2, transcript_status = 'done' WHERE id = $1",
            ticket_id,
            text,
        )
        data = {
            "purpose": "description",
            "suggestion": {"category": "field_report", "agency": "CT-CAYXANH", "confidence": 0.8},
        }
        await db.execute(
            "INSERT INTO ticket_events (ticket_id, actor, kind, data)"
            " VALUES ($1, 'speech', 'transcript', $2::jsonb)",
            ticket_id,
            json.dumps(data),
        )
        payload = {
            "topic": "tickets",
            "kind": "transcript",
            "ticket_id": ticket_id,
            "code": code,
            "transcript_status": "done",
        }
        await db.execute("SELECT pg_notify('hotline_events', $1)", json.dumps(payload))


async def test_given_a_caller_connected_to_the_operator_when_the_form_is_submitted_then_the_ticket_is_classified_and_forwarded(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "lan", Role.OPERATOR)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "lan", "op101")
        members = {m.interface for q in live.board.truth().queues.values() for m in q.members}
        assert members == {"PJSIP/op101"}

        call = await live.board.place_call("1022", CALLER, script=CallerScript(keys=["2"]))
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        await page.wait_for_selector("#state[data-state=on_call]")
        assert await page.text_content("#caller") == CALLER
        code = await page.text_content("#ticket-code")
        assert code is not None
        assert code.startswith("1022-")
        assert await page.locator("#recordings audio").count() >= 1
        src = await page.get_attribute("#recordings audio", "src")
        assert src == f"/api/v1/tickets/{code}/recordings/description"
        await expect(page.locator("#f-agency")).to_have_value(
            "VP-UBND"
        )  # field_report without a locality: the coordinator
        assert await page.input_value("#f-category") == "field_report"

        await simulate_transcript(db, code, "cây đổ chắn ngang đường Lê Duẩn")
        await page.wait_for_selector("#transcript:has-text('cây đổ chắn ngang')")
        await expect(page.locator("#f-agency")).to_have_value("CT-CAYXANH")
        assert await page.is_visible("#suggestion")
        await screenshot(page, "operator-screen-pop")

        await page.select_option("#f-subcategory", "noise")
        await page.select_option("#f-locality", "DN-ST")
        await expect(page.locator("#f-agency")).to_have_value("UBND-Q-ST")
        await page.fill("#f-description", "Karaoke ồn ào sau 23 giờ")
        await page.fill("#f-public-summary", "Karaoke gây ồn sau 23 giờ")
        await page.click("#submit-ticket")
        await page.wait_for_selector("#ticket-result:not([hidden])")
        assert await page.text_content("[data-testid=result-code]") == code
        deadline = await page.text_content("[data-testid=result-deadline]")
        assert deadline
        assert deadline != "—"
        await screenshot(page, "operator-ticket-submitted")
        assert script_errors(page) == []
        call.hangup()

    row = await db.fetchrow(
        "SELECT status, category, subcategory, locality, agency_code, deadline_at, description,"
        " public_summary FROM tickets WHERE code = $1",
        code,
    )
    assert row is not None
    assert (row["status"], row["category"], row["subcategory"]) == (
        "forwarded",
        "field_report",
        "noise",
    )
    assert (row["locality"], row["agency_code"]) == ("DN-ST", "UBND-Q-ST")
    assert row["deadline_at"] is not None
    assert row["description"] == "Karaoke ồn ào sau 23 giờ"
    assert row["public_summary"] == "Karaoke gây ồn sau 23 giờ"  # what Open311 publishes
    kinds = await db.fetch(
        "SELECT kind, actor FROM ticket_events WHERE ticket_id ="
        " (SELECT id FROM tickets WHERE code = $1) ORDER BY id",
        code,
    )
    assert [(k["kind"], k["actor"]) for k in kinds if k["actor"] == "lan"] == [
        ("classify", "lan"),
        ("forward", "lan"),
    ]


async def test_given_a_115_caller_connected_when_the_operator_dispatches_then_a_refusal_asks_the_next_facility_and_the_acceptance_milestone_and_outcome_are_recorded(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op105", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "thu", Role.OPERATOR)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "thu", "op105")
        call = await live.board.place_call("115", "0977777777")
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        code = await page.text_content("#ticket-code")
        assert code is not None
        assert code.startswith("115-")
        await page.wait_for_selector("#dispatch-card:not([hidden])")
        assert await page.is_hidden("#agency-field")
        assert await page.text_content("#submit-ticket") == "Điều xe cấp cứu"
        assert await page.text_content("#attempts-empty") == "Chưa hỏi cơ sở nào."
        await expect(page.locator("#f-category")).to_have_value("medical")

        # Phường Thạch Thang: Bệnh viện Đà Nẵng is the nearest, then Bệnh viện C.
        await page.select_option("#f-locality", "DN-HC-TT")
        await page.fill("#f-description", "Cụ ông 70 tuổi ngất, khó thở")
        await page.fill("#f-location", "12 Trần Phú")
        await page.click("#submit-ticket")
        pending = page.locator("[data-testid=pending-facility]")
        await expect(pending).to_have_text("Đang chờ Bệnh viện Đà Nẵng trả lời")
        assert await page.is_hidden("#ticket-form")
        await expect(page.locator("#countdown")).to_have_text(re.compile(r"^còn 1:[0-3]\d$"))

        await page.click("#dispatch-decline")
        await expect(page.locator("#dispatch-error")).to_have_text("Nhập lý do cơ sở từ chối.")
        await page.fill("#decline-reason", "Hết xe")
        await page.click("#dispatch-decline")
        await expect(pending).to_have_text("Đang chờ Bệnh viện C Đà Nẵng trả lời")
        await page.wait_for_selector(
            "#toast:has-text('Bệnh viện Đà Nẵng từ chối — đã hỏi tiếp Bệnh viện C Đà Nẵng.')"
        )
        rows = page.locator("#attempts-body tr")
        await expect(rows).to_have_count(2)
        assert await rows.nth(0).get_attribute("data-result") == "declined"
        assert "Hết xe" in (await rows.nth(0).text_content() or "")
        assert await page.is_hidden("#ticket-card")
        await screenshot(page, "operator-dispatch-115")

        await page.click("#dispatch-accept")
        await expect(page.locator("[data-testid=accepted-facility]")).to_contain_text(
            "Bệnh viện C Đà Nẵng đã nhận lúc"
        )
        await page.click("#milestones button[data-kind=on_scene]")
        await page.wait_for_selector("#milestones button[data-kind=on_scene].done")
        await page.select_option("#outcome", "transported")
        await page.click("#complete")
        await expect(page.locator("[data-testid=outcome-done]")).to_contain_text(
            "Đã chuyển viện — lúc "
        )
        timeline = page.locator("#dispatch-timeline li")
        await expect(timeline.last).to_have_attribute("data-kind", "completed")
        assert [await li.get_attribute("data-kind") for li in await timeline.all()][-7:] == [
            "classify",
            "dispatch_requested",
            "dispatch_declined",
            "dispatch_requested",
            "dispatch_accepted",
            "on_scene",
            "completed",
        ]
        await screenshot(page, "operator-dispatch-115-done")
        assert script_errors(page) == []
        call.hangup()

    ticket = await db.fetchrow(
        "SELECT id, status, category, locality, facility_code, outcome, dispatched_at,"
        " on_scene_at, description FROM tickets WHERE code = $1",
        code,
    )
    assert ticket is not None
    assert (ticket["status"], ticket["category"], ticket["locality"]) == (
        "closed",
        "medical",
        "DN-HC-TT",
    )
    assert (ticket["facility_code"], ticket["outcome"]) == ("BV-C", "transported")
    assert ticket["dispatched_at"] is not None
    assert ticket["on_scene_at"] is not None
    assert ticket["description"] == "Cụ ông 70 tuổi ngất, khó thở"
    attempts = await db.fetch(
        "SELECT seq, facility_code, result, reason FROM dispatch_requests"
        " WHERE ticket_id = $1 ORDER BY seq",
        ticket["id"],
    )
    assert [tuple(a) for a in attempts] == [
        (1, "BV-DN", "declined", "Hết xe"),
        (2, "BV-C", "accepted", None),
    ]
    kinds = await db.fetch(
        "SELECT kind FROM ticket_events WHERE ticket_id = $1 AND actor = 'thu' ORDER BY id",
        ticket["id"],
    )
    assert [k["kind"] for k in kinds] == [
        "classify",
        "dispatch_requested",
        "dispatch_declined",
        "dispatch_accepted",
        "on_scene",
        "completed",
    ]


async def test_given_a_live_call_when_the_server_drops_the_socket_and_the_call_ends_meanwhile_then_the_panel_is_stale_and_not_live_after_reconnecting(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op102", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "minh", Role.OPERATOR)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "minh", "op102")
        call = await live.board.place_call("115", "0912345678")
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        assert await page.is_visible("#transfer")
        assert await page.text_content("#transfer") == "Chuyển sang 1022"

        await live.service.app[SOCKETS].close_all()
        call.hangup()
        await page.wait_for_selector("#live-status[data-state=offline]", timeout=2_000)
        await page.wait_for_selector("#call-panel[data-state=stale]", timeout=2_000)
        assert await page.evaluate("document.body.classList.contains('offline')")
        assert await page.is_hidden("#transfer")

        await page.wait_for_selector("#live-status[data-state=reconnected]", timeout=15_000)
        await page.wait_for_selector("#call-panel[data-state=ended]")
        await page.wait_for_selector("#state:not([data-state=on_call])")
        assert await page.text_content("#call-badge") == "Đã kết thúc"
        assert await page.is_hidden("#transfer")
        await screenshot(page, "operator-reconnected")
        assert script_errors(page) == []


async def test_given_a_paused_operator_when_callers_give_up_then_the_worklist_fills_live_and_a_callback_is_made_and_recorded(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op103", ring_delay=1.0, talk_time=10.0))
    live.board.set_called_party(None, CalledParty(answers=True, ring_delay=2.0, talk_time=10.0))
    await add_user(live.service, "hoa", Role.OPERATOR)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "hoa", "op103")
        await page.select_option("#reason", label="Ăn trưa")
        await page.click("#pause")
        await page.wait_for_selector("#state[data-state=paused]")
        assert await page.text_content("#pause-reason") == "Ăn trưa"
        truth = [m for q in live.board.truth().queues.values() for m in q.members]
        assert {(m.paused, m.paused_reason) for m in truth} == {(True, "Ăn trưa")}

        for line, number in (("1022", "0933333333"), ("115", "0944444444")):
            call = await live.board.place_call(
                line, number, script=CallerScript(keys=["1"]), patience=10.0
            )
            assert (await call.wait()).abandoned
        rows = page.locator("#callbacks-body tr")
        await expect(rows).to_have_count(2)
        assert await rows.nth(0).get_attribute("class") == "cb-115"
        assert await rows.nth(0).locator("strong").text_content() == "0944444444"

        await page.click("#unpause")
        await page.wait_for_selector("#state[data-state=available]")
        await rows.nth(0).locator("button", has_text="Gọi lại").click()
        await rows.nth(0).locator("button", has_text="Đã liên lạc").wait_for()
        assert any(
            e.name == "DialBegin" and e.get("DialString") == "0944444444@telco"
            for e in live.board.events
        )
        await screenshot(page, "operator-callback")
        await rows.nth(0).locator("button", has_text="Đã liên lạc").click()
        await expect(rows).to_have_count(1)
        assert await rows.nth(0).get_attribute("class") == "cb-1022"
        assert script_errors(page) == []


async def test_given_a_caller_who_pressed_0_when_the_operator_classifies_the_ticket_then_the_call_card_shows_the_operators_category(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op105", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "mai", Role.OPERATOR)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "mai", "op105")
        call = await live.board.place_call("1022", CALLER, script=CallerScript(keys=["0"]))
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        await expect(page.locator("#category")).to_have_text("Chưa phân loại")
        await page.select_option("#f-category", "information")
        await page.select_option("#f-agency", "VP-UBND")
        await page.fill("#f-description", "Hỏi giờ làm việc của bộ phận một cửa")
        await page.click("#submit-ticket")
        await page.wait_for_selector("#ticket-result:not([hidden])")
        await expect(page.locator("#category")).to_have_text("Thông tin, góp ý")
        assert script_errors(page) == []
        call.hangup()


async def test_given_a_1022_call_when_the_operator_transfers_it_then_the_caller_joins_115_and_a_115_ticket_replaces_the_1022_one(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op104", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "tuan", Role.OPERATOR)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "tuan", "op104")
        call = await live.board.place_call("1022", "0966666666", script=CallerScript(keys=["1"]))
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        first = await page.text_content("#ticket-code")
        assert await page.text_content("#transfer") == "Chuyển sang 115"
        assert await page.is_visible("#ticket-form")
        await page.click("#transfer")
        await page.wait_for_selector("#toast:has-text('Đã chuyển cuộc gọi sang 115')")
        # the 1022 ticket is transferred: no form left to classify it with
        await expect(page.locator("#ticket-card")).to_be_hidden()
        assert script_errors(page) == []
        call.hangup()

    joined = [e for e in live.board.events if e.name == "QueueCallerJoin"]
    assert [e.get("Queue") for e in joined] == ["hotline-1022", "emergency-115"]
    row = await db.fetchrow("SELECT id, status FROM tickets WHERE code = $1", first)
    assert row is not None
    assert row["status"] == "transferred"
    lines = await db.fetch("SELECT line FROM tickets WHERE id <> $1", row["id"])
    assert [r["line"] for r in lines] == ["115"]


async def test_given_an_agency_user_or_nobody_when_the_operator_console_is_opened_then_403_or_the_login_form(
    service: RunningService,
) -> None:
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    await add_user(service, "coquan", Role.AGENCY, "UBND-Q-ST")
    async with chromium() as browser:
        anonymous = await new_page(browser)
        await anonymous.goto(f"{service.http_url}/operator")
        url = urlsplit(anonymous.url)
        assert (url.path, parse_qs(url.query)) == ("/login", {"next": ["/operator"]})

        agency = await new_page(browser)
        await log_in(agency, service.http_url, "coquan", path="/agency")
        response = await agency.goto(f"{service.http_url}/operator")
        assert response is not None
        assert response.status == 403
        assert await agency.is_visible("text=Không có quyền truy cập")
        assert await agency.locator("#call-panel").count() == 0


async def test_given_an_operator_on_a_call_when_they_pause_then_the_badge_says_the_pause_starts_after_the_call_and_the_softphone_is_offered_again(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op106", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "lan", Role.OPERATOR)
    await add_user(live.service, "moi", Role.OPERATOR)
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, live.service.http_url, "lan", path="/operator")
        assert await page.input_value("#extension") == ""
        assert await page.get_attribute("#extension", "placeholder") == "số máy của bạn"
        await log_softphone_in(page, "op106")
        call = await live.board.place_call("1022", CALLER, script=CallerScript(keys=["1"]))
        await page.wait_for_selector("#state[data-state=on_call]", timeout=20_000)
        await page.select_option("#reason", label="Họp")
        await page.click("#pause")
        badge = page.locator("#state")
        await expect(badge).to_have_attribute("data-paused", "true")
        await expect(badge).to_have_text("Đang nghe máy · tạm nghỉ sau cuộc gọi này")
        await screenshot(page, "operator-paused-on-call")
        call.hangup()
        await expect(badge).to_have_attribute("data-state", "paused", timeout=10_000)
        await expect(badge).to_have_text("Tạm nghỉ")
        await page.click("#phone-logout")
        await page.wait_for_selector("#phone-login:not([hidden])")

        await page.reload()
        await page.wait_for_selector("#phone-login:not([hidden])")
        assert await page.input_value("#extension") == "op106"
        other = await new_page(browser)
        await log_in(other, live.service.http_url, "moi", path="/operator")
        assert await other.input_value("#extension") == ""
        assert script_errors(page) == []


async def test_given_the_network_is_lost_when_the_operator_acts_then_the_error_is_in_the_pages_language(
    live: Live,
) -> None:
    await add_user(live.service, "lan", Role.OPERATOR)
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, live.service.http_url, "lan", path="/operator")
        await page.wait_for_selector("#phone-login:not([hidden])")
        await page.fill("#extension", "op107")
        await page.context.set_offline(True)
        await page.click("#phone-login button[type=submit]")
        error = page.locator("#status-error")
        await expect(error).to_have_text("Không kết nối được máy chủ. Kiểm tra mạng rồi thử lại.")
        assert "Failed to fetch" not in await page.inner_text("body")
        await screenshot(page, "operator-offline-error")
        await page.context.set_offline(False)
        assert script_errors(page) == []
