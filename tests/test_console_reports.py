"""The reports page as a planning office uses it, in headless Chromium against the seed
province's seven months: reached from the top bar, a console page like the others (the last
full month by default, Vietnamese dates), the figures and the four charts, English one click
away with the same period, CSV and a print/PDF layout; a bad period, or a page that does not
exist, is a page in the page's language — never the API's JSON."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from db.province import load_province
from tests.support.browser import (
    SCREENSHOTS,
    add_user,
    chromium,
    log_in,
    new_page,
    screenshot,
    script_errors,
)
from tests.support.service import RunningService, running_service, service_settings
from tests.support.tcpproxy import TcpProxy
from tickets.agencies import load_province as read_province
from tickets.codes import HOTLINE_TZ
from tickets.model import Role
from tickets.reports import last_full_month


@pytest.fixture
async def seeded(scenario_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    """The service on the database of the seed province's seven months."""
    async with running_service(service_settings(scenario_url, tmp_path)) as service:
        async with service.pool.acquire() as conn:
            await load_province(conn, read_province())  # already there: nothing added
        if await service.pool.fetchval("SELECT 1 FROM users WHERE username = 'lan'") is None:
            await add_user(service, "lan", Role.SUPERVISOR)
        yield service


async def _show(page: Page, start: str, end: str) -> None:
    await page.fill("#r-from", start)
    await page.fill("#r-to", end)
    await page.click("#r-show")
    await page.wait_for_selector("#report-table")


async def test_given_a_supervisor_when_it_opens_reports_from_the_top_bar_then_the_last_full_month_is_a_console_page(
    service: RunningService,
) -> None:
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    await add_user(service, "lan", Role.SUPERVISOR)
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "lan", path="/wallboard")
        await page.click("header nav a[href='/reports']")
        await page.wait_for_selector("#report-table")

        start, end = last_full_month(datetime.now(HOTLINE_TZ).date())
        assert await page.input_value("#r-from") == start.strftime("%d/%m/%Y")
        assert await page.input_value("#r-to") == end.strftime("%d/%m/%Y")
        assert await page.get_attribute("header nav a[href='/reports']", "aria-current") == "page"
        assert await page.is_visible("header.topbar")
        font = await page.evaluate("getComputedStyle(document.body).fontFamily")
        assert "Noto Sans" in font  # our stylesheet, not the browser's serif
        assert await page.text_content("h1") == "Báo cáo tổng đài"
        await screenshot(page, "reports-empty-month")
        assert script_errors(page) == []


async def test_given_the_seven_months_when_a_planning_office_reads_the_report_then_figures_and_charts_are_the_seeds(
    seeded: RunningService,
) -> None:
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, seeded.http_url, "lan", path="/reports")
        await _show(page, "15/11/2019", "14/06/2020")

        assert await page.text_content("#report-period") == "Từ ngày 15/11/2019 đến ngày 14/06/2020"
        figure = page.locator("tr[data-key='1022.requests'] td")
        await expect(figure).to_have_text(["Số yêu cầu", "3.057", ""])
        await expect(page.locator("tr[data-key='1022.satisfied'] td.n")).to_have_text(
            ["789", "77,0 %"]
        )
        await expect(page.locator("tr[data-key='115.successful'] td.n")).to_have_text(
            ["1.482", "46,7 %"]
        )
        # the charts: months, the 47 agencies sorted, 115's two rates labelled, service level
        months = page.locator("[data-testid=chart-months] svg rect.bar")
        assert await months.count() == 8 * 4  # 8 months × 3 categories + 115
        agencies = page.locator("[data-testid=chart-agencies]")
        await expect(agencies).to_have_attribute("data-count", "47")
        names = await agencies.locator("svg text.name").all_text_contents()
        assert len(names) == 47
        rates = [
            float(t.split(" %")[0].replace(",", "."))
            for t in await agencies.locator("svg text.value").all_text_contents()
        ]
        assert rates == sorted(rates, reverse=True)
        assert "Tỷ lệ chung: 77 %" in await agencies.inner_text()
        every = page.locator("#ratios-115 [data-ratio=all]")
        sent = page.locator("#ratios-115 [data-ratio=sent]")
        await expect(every).to_contain_text("Xử lý thành công / tất cả cuộc gọi 115")
        await expect(every).to_contain_text("46,7 %")
        await expect(every).to_contain_text("1.482 / 3.173")
        await expect(sent).to_contain_text("Xử lý thành công / số đã chuyển cơ sở y tế")
        await expect(sent).to_contain_text("53,2 %")
        await expect(sent).to_contain_text("1.482 / 2.785")
        service = page.locator("[data-testid=chart-service] .service-chart")
        await expect(service).to_have_count(2)
        assert await service.nth(0).locator("rect.bar").count() == 8
        assert await service.nth(0).locator("line.target").count() == 1
        await screenshot(page, "reports-vi")

        async with page.expect_download() as download:
            await page.click("#r-csv")
        saved = await (await download.value).path()
        rows = list(csv.DictReader(io.StringIO(Path(saved).read_text(encoding="utf-8"))))
        assert {(r["section"], r["key"]): r["value"] for r in rows}[("1022", "requests")] == "3057"
        assert sum(1 for r in rows if r["section"].startswith("agency_")) == 47 * 3

        await page.emulate_media(media="print")
        assert await page.is_hidden("header.topbar")
        assert await page.is_hidden("#report-form")
        await screenshot(page, "reports-print")
        pdf = await page.pdf(format="A4")
        assert pdf.startswith(b"%PDF")
        (SCREENSHOTS / "reports-print.pdf").write_bytes(pdf)
        await page.emulate_media(media="screen")

        await page.click("[data-testid=lang-switch]")
        await page.wait_for_selector("#report-table")
        assert await page.input_value("#r-from") == "2019-11-15"  # the same period, in English
        assert await page.text_content("#report-period") == "From 2019-11-15 to 2020-06-14"
        await expect(page.locator("tr[data-key='1022.requests'] td")).to_have_text(
            ["Requests", "3,057", ""]
        )
        await expect(page.locator("#ratios-115 [data-ratio=sent]")).to_contain_text(
            "Handled successfully / sent to a facility"
        )
        await expect(page.locator("#ratios-115 [data-ratio=sent]")).to_contain_text("53.2 %")
        await screenshot(page, "reports-en")
        assert script_errors(page) == []


async def test_given_a_bad_period_or_no_such_page_when_a_browser_asks_then_the_answer_is_a_page_in_its_language(
    service: RunningService,
) -> None:
    await add_user(service, "lan", Role.SUPERVISOR)
    await add_user(service, "hoa", Role.OPERATOR)
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "lan", path="/reports")
        await _show_error(page, "31/02/2020", "01/03/2020")
        error = page.locator("#report-error")
        await expect(error).to_contain_text("Khoảng thời gian không hợp lệ")
        assert await page.input_value("#r-from") == "31/02/2020"  # what was typed stays
        assert await page.is_visible("header.topbar")
        await screenshot(page, "reports-bad-period-vi")

        response = await page.goto(f"{service.http_url}/reports?from=2020-03-01&to=x&lang=en")
        assert response is not None
        assert response.status == 400
        assert response.headers["content-type"].startswith("text/html")
        await expect(page.locator("#report-error")).to_contain_text("Not a valid period")

        response = await page.goto(f"{service.http_url}/reports.csv?from=1/1/2020&to=nope")
        assert response is not None
        assert (response.status, response.headers["content-type"][:9]) == (400, "text/html")
        await expect(page.locator("h1")).to_have_text("Bad request")

        response = await page.goto(f"{service.http_url}/khong-co-trang-nay?lang=vi")
        assert response is not None
        assert response.status == 404
        await expect(page.locator("h1")).to_have_text("Không tìm thấy trang")
        assert not re.search(r'"error_id"', await page.content())
        await screenshot(page, "page-not-found-vi")

        operator = await new_page(browser)
        await log_in(operator, service.http_url, "hoa", path="/operator")
        response = await operator.goto(f"{service.http_url}/reports")
        assert response is not None
        assert response.status == 403
        await expect(operator.locator("h1")).to_have_text("Không có quyền truy cập")
        assert script_errors(page) == []


async def _show_error(page: Page, start: str, end: str) -> None:
    await page.fill("#r-from", start)
    await page.fill("#r-to", end)
    await page.click("#r-show")
    await page.wait_for_selector("#report-error")


async def test_given_the_database_out_of_reach_when_a_browser_opens_the_reports_then_a_503_page_says_so(
    db_proxy: tuple[TcpProxy, str], tmp_path: Path
) -> None:
    proxy, url = db_proxy
    async with running_service(service_settings(url, tmp_path)) as service:
        await add_user(service, "lan", Role.SUPERVISOR)
        async with chromium() as browser:
            page = await new_page(browser)
            await log_in(page, service.http_url, "lan", path="/reports")
            proxy.cut()
            response = await page.goto(f"{service.http_url}/reports?lang=vi")
            assert response is not None
            assert response.status == 503
            assert response.headers["content-type"].startswith("text/html")
            await expect(page.locator("h1")).to_have_text("Hệ thống tạm thời không phục vụ được")
            await screenshot(page, "error-503-vi")
            proxy.restore()
