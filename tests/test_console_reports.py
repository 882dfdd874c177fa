"""The reports page as a planning office uses it, in headless Chromium against a week of the
seed province replayed through the real system (``tests.support.replay``), its figures and
charts compared with the week's plan: reached from the top bar, a console page like the others
(the last full month by default, Vietnamese dates), the figures and the four charts, English
one click away with the same period, CSV and a print/PDF layout; a bad period, or a page that does not
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
from tests.support.replay import ReplayedWeek
from tests.support.service import RunningService, running_service, service_settings
from tests.support.tcpproxy import TcpProxy
from tickets.agencies import load_province as read_province
from tickets.codes import HOTLINE_TZ
from tickets.model import Line, Role
from tickets.reports import last_full_month


@pytest.fixture
async def replayed(replayed_week: ReplayedWeek, tmp_path: Path) -> AsyncIterator[RunningService]:
    """The service on the database of the replayed week, with a supervisor."""
    async with running_service(service_settings(replayed_week.url, tmp_path)) as service:
        if await service.pool.fetchval("SELECT 1 FROM users WHERE username = 'lan'") is None:
            await add_user(service, "lan", Role.SUPERVISOR)
        yield service


def vi_int(value: int) -> str:
    return f"{value:,}".replace(",", ".")


def vi_percent(part: int, whole: int) -> str:
    """A share as the report's table writes it: one decimal, ``82,1 %``."""
    return f"{100 * part / whole:.1f} %".replace(".", ",")


def shown_percent(text: str) -> float:
    """The first percentage in a text as the page's charts write it (``82,1 %``, ``77 %``: at
    most one decimal)."""
    match = re.search(r"(\d+(?:[,.]\d+)?) %", text)
    assert match is not None, text
    return float(match[1].replace(",", "."))


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
        no_data = "Không có số liệu trong khoảng thời gian này."
        for chart in ("chart-months", "chart-service", "chart-agencies", "chart-115"):
            await expect(page.get_by_test_id(chart)).to_have_text(no_data)
        await screenshot(page, "reports-empty-month")
        async with page.expect_download() as download:
            await page.click("#r-csv")
        saved = Path(await (await download.value).path())
        # a byte order mark: Excel then reads UTF-8, not the machine's code page
        assert saved.read_bytes().startswith("\ufefffrom,to,section,key,Chỉ tiêu,".encode())
        # a count axis up to 1 or 5 has no tick halfway (it read 0, 1, 1 and 0, 3, 5)
        for top in (1, 2, 5):
            ticks = await page.evaluate(
                """(top) => Array.from(Hotline.charts.bars(["12/2026"], [{name: "x", values: [top]}])
                    .querySelectorAll("text.axis[text-anchor=end]"), (label) => label.textContent)""",
                top,
            )
            assert ticks == (["0", "1", "2"] if top == 2 else ["0", str(top)]), ticks
        assert script_errors(page) == []


async def test_given_a_replayed_week_when_a_planning_office_reads_the_report_then_figures_and_charts_are_the_plans(
    replayed: RunningService, replayed_week: ReplayedWeek
) -> None:
    planned = replayed_week.figures
    requests = sum(c.line is Line.CITIZEN for c in replayed_week.plan)
    satisfied, responded = planned["1022 satisfied"], planned["1022 responded"]
    medical, sent = planned["115 requests"], planned["115 sent"]
    successful, agencies_planned = planned["115 successful"], planned["1022 agencies"]
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, replayed.http_url, "lan", path="/reports")
        await _show(page, "18/11/2019", "24/11/2019")

        assert await page.text_content("#report-period") == "Từ ngày 18/11/2019 đến ngày 24/11/2019"
        figure = page.locator("tr[data-key='1022.requests'] td")
        await expect(figure).to_have_text(["Số yêu cầu", vi_int(requests), ""])
        await expect(page.locator("tr[data-key='1022.satisfied'] td.n")).to_have_text(
            [vi_int(satisfied), vi_percent(satisfied, responded)]
        )
        await expect(page.locator("tr[data-key='115.successful'] td.n")).to_have_text(
            [vi_int(successful), vi_percent(successful, medical)]
        )
        await expect(page.locator("tr[data-key='115.successful_of_sent'] td.n")).to_have_text(
            [vi_int(successful), vi_percent(successful, sent)]
        )
        # the charts: the month, the agencies sorted, 115's two rates labelled, service level
        months = page.locator("[data-testid=chart-months] svg rect.bar")
        assert await months.count() == 1 * 4  # one month × 3 categories + 115
        agencies = page.locator("[data-testid=chart-agencies]")
        await expect(agencies).to_have_attribute("data-count", str(agencies_planned))
        names = await agencies.locator("svg text.name").all_text_contents()
        assert len(names) == agencies_planned
        rates = [
            shown_percent(t) for t in await agencies.locator("svg text.value").all_text_contents()
        ]
        assert rates == sorted(rates, reverse=True)
        overall = await agencies.inner_text()
        assert "Tỷ lệ chung: " in overall
        overall_rate = shown_percent(overall.split("Tỷ lệ chung: ")[1])
        assert overall_rate == pytest.approx(100 * satisfied / responded, abs=0.06)
        every = page.locator("#ratios-115 [data-ratio=all]")
        of_sent = page.locator("#ratios-115 [data-ratio=sent]")
        await expect(every).to_contain_text("Xử lý thành công / tất cả cuộc gọi 115")
        await expect(every).to_contain_text(f"{vi_int(successful)} / {vi_int(medical)}")
        rate = shown_percent(await every.inner_text())
        assert rate == pytest.approx(100 * successful / medical, abs=0.06)
        await expect(of_sent).to_contain_text("Xử lý thành công / số đã chuyển cơ sở y tế")
        await expect(of_sent).to_contain_text(f"{vi_int(successful)} / {vi_int(sent)}")
        rate = shown_percent(await of_sent.inner_text())
        assert rate == pytest.approx(100 * successful / sent, abs=0.06)
        service = page.locator("[data-testid=chart-service] .service-chart")
        await expect(service).to_have_count(2)
        assert await service.nth(0).locator("rect.bar").count() == 1
        assert await service.nth(0).locator("line.target").count() == 1
        await screenshot(page, "reports-vi")

        async with page.expect_download() as download:
            await page.click("#r-csv")
        saved = await (await download.value).path()
        rows = list(csv.DictReader(io.StringIO(Path(saved).read_text(encoding="utf-8"))))
        values = {(r["section"], r["key"]): r["value"] for r in rows}
        assert values[("1022", "requests")] == str(requests)
        assert values[("115", "successful")] == str(successful)
        assert sum(1 for r in rows if r["section"].startswith("agency_")) == agencies_planned * 3

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
        assert await page.input_value("#r-from") == "2019-11-18"  # the same period, in English
        assert await page.text_content("#report-period") == "From 2019-11-18 to 2019-11-24"
        await expect(page.locator("tr[data-key='1022.requests'] td")).to_have_text(
            ["Requests", f"{requests:,}", ""]
        )
        await expect(of_sent).to_contain_text("Handled successfully / sent to a facility")
        await expect(of_sent).to_contain_text(f"{successful:,} / {sent:,}")
        rate = shown_percent(await of_sent.inner_text())
        assert rate == pytest.approx(100 * successful / sent, abs=0.06)
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
