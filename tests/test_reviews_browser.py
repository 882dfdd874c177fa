"""Quality review in the browser, end to end: a caller reaches an operator through the emulated
PBX (MixMonitor records the whole call into the spool), the operator asks for it to be
reviewed, the call is in the week's review queue (also as part of the operator's random
sample), a supervisor plays the whole recording in the page, scores it and writes notes; the
operator then sees the review, plays their own call and answers once; the supervisor's ticket
timeline links the review, and the report, the trend chart and the wallboard show it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import asyncpg
import pytest
from playwright.async_api import expect

from db.province import load_province
from hotline.keys import BACKOFFICE
from switchboard import CallerScript, Softphone
from tests.support.browser import (
    add_user,
    chromium,
    log_in,
    new_page,
    operator_page,
    played_seconds,
    screenshot,
    script_errors,
)
from tests.support.live import Live, eventually, live_hotline
from tests.support.service import RunningService
from tickets.agencies import load_province as read_province
from tickets.codes import HOTLINE_TZ
from tickets.model import Category, Role

WARD = "UBND-P-HC1"


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_hotline(database_url, tmp_path, seed=19, users={}) as state:
        async with state.service.pool.acquire() as conn:
            await load_province(conn, read_province())
        yield state


async def test_given_an_answered_call_in_the_sample_when_a_supervisor_reviews_it_in_the_page_then_the_recording_plays_the_scores_are_saved_and_the_operator_sees_and_answers_it(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op131", ring_delay=1.0, talk_time=100_000.0))
    lan = await add_user(live.service, "lan", Role.OPERATOR)
    await add_user(live.service, "hoa", Role.SUPERVISOR)
    async with chromium() as browser:
        operator = await operator_page(browser, live.service.http_url, "lan", "op131")
        call = await live.board.place_call("1022", "0905551234", script=CallerScript(keys=["3"]))
        await operator.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        code = await operator.text_content("#ticket-code")
        await operator.wait_for_timeout(1500)  # some 30 simulated seconds of talk
        call.hangup()
        outcome = await call.wait()
        assert outcome.answered_by == "PJSIP/op131"
        assert outcome.recording is not None

        async def stored() -> bool:
            row = await db.fetchrow(
                "SELECT answered_at, recording FROM calls WHERE uniqueid = $1", call.uniqueid
            )
            return row is not None and None not in (row["answered_at"], row["recording"])

        await eventually(stored)

        async def talk_seconds() -> int | None:
            talk: int | None = await db.fetchval(
                "SELECT talk_seconds FROM queue_calls WHERE callid = $1 AND outcome = 'completed'",
                call.uniqueid,
            )
            return talk

        async def completed() -> bool:
            return await talk_seconds() is not None

        await eventually(completed, seconds=20)
        talk = await talk_seconds()
        assert talk is not None
        # the operator asks for the call to be reviewed, from the call panel
        await operator.click("#flag-review")
        await expect(operator.locator("#toast[data-kind=ok]")).to_be_visible()
        await expect(operator.locator("#flag-review")).to_be_disabled()

        today = datetime.now(HOTLINE_TZ).date()
        month = today.replace(day=1)
        # the supervisor: the call is in this week's queue, drawn for lan
        supervisor = await new_page(browser)
        await log_in(supervisor, live.service.http_url, "hoa", path="/reviews")
        row = supervisor.locator(f"#queue-rows tr[data-uniqueid='{call.uniqueid}']")
        await expect(row).to_contain_text("lan")
        await expect(row).to_contain_text("Mẫu ngẫu nhiên, Điện thoại viên đánh dấu")
        # its talk time as queue_log has it (COMPLETECALLER), m:ss
        await expect(row).to_contain_text(f"{talk // 60}:{talk % 60:02d}")
        await expect(supervisor.locator("#trend-chart")).to_have_text(
            "Chưa có đánh giá nào trong khoảng thời gian này."
        )
        await expect(supervisor.locator("#criteria-chart-title")).to_be_hidden()
        await row.click()
        await expect(supervisor.locator("#review-title")).to_contain_text(code or "")
        # the whole call plays in the page
        duration = await played_seconds(supervisor, "#call-audio")
        assert duration > 0
        for criterion, value in (
            ("greeting", "5"),
            ("routing", "4"),
            ("information", "3"),
            ("courtesy", "5"),
            ("closing", "2"),
        ):
            await supervisor.select_option(f"#score-{criterion}", value)
        # (2×5/5 + 3×4/5 + 3×3/5 + 2×5/5 + 1×2/5) / 11 = 8.6 / 11
        await expect(supervisor.locator("#score-preview")).to_have_text("78,18 %")
        await supervisor.fill("#review-notes", "Chào hỏi đúng mẫu; cần hẹn thời gian trả lời.")
        await screenshot(supervisor, "reviews-scoring")
        await supervisor.click("#save-review")
        saved = supervisor.locator(f"#review-list article[data-uniqueid='{call.uniqueid}']")
        await expect(saved.locator("[data-testid=review-score]")).to_have_text("78,18 %")
        await expect(row).to_contain_text("78,18 %")
        await expect(supervisor.locator("#trend-chart svg rect.bar")).to_have_count(1)
        await expect(supervisor.locator("#criteria-chart-title")).to_be_visible()
        await screenshot(supervisor, "reviews-saved")
        assert script_errors(supervisor) == []
        # the report's quality chart: this month's average
        await supervisor.goto(f"{live.service.http_url}/reports?from={month}&to={today}")
        bars = supervisor.locator("[data-testid=chart-quality] rect.bar")
        await expect(bars).to_have_count(1)
        await expect(bars.locator("title")).to_contain_text("78,18")
        await screenshot(supervisor, "reviews-report")
        # the wallboard's quality chart: this week's average
        await supervisor.goto(f"{live.service.http_url}/wallboard")
        quality = supervisor.locator("[data-testid=chart-quality] rect.bar")
        await expect(quality).to_have_count(1)
        await expect(quality.locator("title")).to_contain_text("78,18")
        await screenshot(supervisor, "reviews-wallboard")

        review_id = await db.fetchval(
            "SELECT v.id FROM call_reviews v JOIN calls c ON c.id = v.call_id"
            " WHERE c.uniqueid = $1",
            call.uniqueid,
        )
        stored_scores = await db.fetch(
            "SELECT code, value FROM review_scores WHERE review_id = $1 ORDER BY code", review_id
        )
        assert {r["code"]: r["value"] for r in stored_scores} == {
            "closing": 2,
            "courtesy": 5,
            "greeting": 5,
            "information": 3,
            "routing": 4,
        }

        # the ticket, forwarded to a ward: on the supervisor's view of its timeline, the link
        ticket_id = await db.fetchval("SELECT id FROM tickets WHERE code = $1", code)
        backoffice = live.service.app[BACKOFFICE]
        await backoffice.classify(
            lan, ticket_id, Category.FIELD_REPORT, "roads", "DN-HC-HC1", description="Đèn hỏng"
        )
        await backoffice.forward(lan, ticket_id, WARD)
        await supervisor.goto(f"{live.service.http_url}/agency?agency={WARD}")
        await supervisor.click(f"#inbox-rows tr[data-code='{code}']")
        link = supervisor.locator("#timeline [data-testid=review-link]")
        await expect(link).to_have_attribute("href", f"/reviews?review={review_id}")

        # the operator: their review, their call playing, one answer
        await operator.goto(f"{live.service.http_url}/reviews")
        mine = operator.locator(f"#review-{review_id}")
        await expect(mine.locator("[data-testid=review-score]")).to_have_text("78,18 %")
        await expect(mine.locator("[data-testid=review-notes]")).to_have_text(
            "Chào hỏi đúng mẫu; cần hẹn thời gian trả lời."
        )
        assert await played_seconds(operator, f"#review-{review_id} audio") > 0
        await mine.locator("textarea").fill("Em sẽ hẹn thời gian trả lời ạ.")
        await mine.locator("button[type=submit]").click()
        await expect(mine.locator("[data-testid=answer]")).to_contain_text(
            "Em sẽ hẹn thời gian trả lời ạ."
        )
        await expect(mine.locator("textarea")).to_have_count(0)  # answered once
        await screenshot(operator, "reviews-operator")
        assert script_errors(operator) == []


async def test_given_the_administrator_on_the_review_page_when_a_criterion_is_changed_added_and_removed_then_they_are_saved_and_audited(
    service: RunningService, db: asyncpg.Connection
) -> None:
    await add_user(service, "root", Role.ADMIN)
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "root", path="/reviews")
        line = page.locator("#criteria-lines tbody[data-line='115']")
        await expect(line.locator("tr")).to_have_count(3)
        triage = line.locator("tr").nth(1)
        await expect(triage.locator("[name=code]")).to_have_value("triage")
        await triage.locator("[name=weight]").fill("5")
        await line.locator("tr").nth(2).get_by_role("button").click()  # dispatch_decision
        await (
            page.locator("#criteria-lines .criteria-line")
            .nth(1)
            .get_by_role("button", name="Thêm tiêu chí")
            .click()
        )
        added = line.locator("tr").nth(2)
        await added.locator("[name=code]").fill("calm")
        await added.locator("[name=name_vi]").fill("Giữ bình tĩnh, trấn an người gọi")
        await added.locator("[name=name_en]").fill("Kept calm, reassured the caller")
        await added.locator("[name=kind]").select_option("yes_no")
        await page.fill("#sample-size", "8")
        await page.click("#save-criteria")
        await expect(page.locator("#toast[data-kind=ok]")).to_have_text("Đã lưu tiêu chí.")
        await screenshot(page, "reviews-criteria-saved")
        assert script_errors(page) == []

    rows = await db.fetch(
        "SELECT code, kind, weight, active FROM review_criteria WHERE line = '115'"
        " ORDER BY active DESC, position"
    )
    assert [tuple(r) for r in rows] == [
        ("address_60s", "yes_no", 3, True),
        ("triage", "scale", 5, True),
        ("calm", "yes_no", 1, True),
        ("dispatch_decision", "scale", 3, False),
    ]
    assert await db.fetchval("SELECT sample_size FROM review_settings") == 8
    audited = await db.fetch(
        "SELECT actor, entity, entity_key FROM admin_audit WHERE entity LIKE 'review%'"
        " ORDER BY entity, entity_key"
    )
    assert [tuple(r) for r in audited] == [
        ("root", "review_criterion", "115/calm"),
        ("root", "review_criterion", "115/dispatch_decision"),
        ("root", "review_criterion", "115/triage"),
        ("root", "review_settings", "reviews"),
    ]
