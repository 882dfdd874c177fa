"""Every console page in Vietnamese and in English, as each role sees it with something on it
(a caller on the operator's line, a ticket in the agency's inbox, every administration tab, the
call in the week's review queue, a citizen's lookup answered, the error pages): each is
screenshotted into ``test-artifacts/screenshots/<page>-<vi|en>.png``, carries its language, shows
no text key that a locale file lacks and has no script error."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page

from db.province import load_province
from switchboard import CallerScript, Softphone
from tests.support.browser import (
    add_user,
    chromium,
    log_in,
    log_softphone_in,
    new_page,
    screenshot,
    script_errors,
)
from tests.support.live import Live, live_hotline
from tickets.agencies import load_province as read_province
from tickets.model import Role

CALLER = "0905551234"
LANGS = ("vi", "en")
ADMIN_TABS = (
    "users",
    "agencies",
    "localities",
    "routing",
    "categories",
    "prompts",
    "queues",
    "audit",
)
# A key of a locale file shown as it is: a text the page asked for and the locale lacks.
RAW_KEY = re.compile(
    r"\b(?:common|errors|events|operator|wallboard|agency|admin|lookup|reports|reviews)"
    r"\.[a-z0-9_]+\b"
)


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_hotline(database_url, tmp_path, seed=41, users={}) as state:
        async with state.service.pool.acquire() as conn:
            await load_province(conn, read_province())
        for name, role, agency in (
            ("lan", Role.OPERATOR, None),
            ("sup", Role.SUPERVISOR, None),
            ("root", Role.ADMIN, None),
            ("ubnd", Role.AGENCY, "UBND-Q-ST"),
        ):
            await add_user(state.service, name, role, agency)
        yield state


async def shoot(page: Page, name: str, lang: str) -> None:
    """The page as it is now: in ``lang``, every text found, then its screenshot."""
    assert await page.get_attribute("html", "lang") == lang, name
    text = await page.inner_text("body")
    assert not RAW_KEY.search(text), f"{name}-{lang}: {RAW_KEY.findall(text)}"
    await screenshot(page, f"{name}-{lang}")
    assert script_errors(page) == [], name


async def as_user(browser: Browser, live: Live, username: str, path: str) -> Page:
    page = await new_page(browser)
    await log_in(page, live.service.http_url, username, path=path)
    return page


async def test_given_every_console_page_when_shown_in_vietnamese_and_english_then_each_is_whole_and_screenshotted(
    live: Live,
) -> None:
    base = live.service.http_url
    live.board.add_softphone(Softphone("op131", ring_delay=1.0, talk_time=100_000.0))
    async with chromium() as browser:
        anonymous = await new_page(browser)
        operator = await as_user(browser, live, "lan", "/operator")
        await log_softphone_in(operator, "op131")
        call = await live.board.place_call("1022", CALLER, script=CallerScript(keys=["2"]))
        await operator.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        code = await operator.text_content("#ticket-code")
        assert code is not None
        await operator.select_option("#f-subcategory", "noise")
        await operator.select_option("#f-locality", "DN-ST")
        await operator.fill("#f-description", "Karaoke ồn ào sau 23 giờ ở kiệt 42")
        supervisor = await as_user(browser, live, "sup", "/wallboard")
        admin = await as_user(browser, live, "root", "/admin")
        agency = await as_user(browser, live, "ubnd", "/agency")

        for lang in LANGS:
            await anonymous.goto(f"{base}/login?lang={lang}")
            await shoot(anonymous, "login", lang)

            await operator.goto(f"{base}/operator?lang={lang}")
            await operator.wait_for_selector("#call-panel[data-state=live]")
            await operator.wait_for_selector("#ivr-path li[data-kind=to_queue]")
            await shoot(operator, "operator", lang)

            await supervisor.goto(f"{base}/wallboard?lang={lang}")
            await supervisor.wait_for_selector(
                "#operators tr[data-interface='PJSIP/op131'][data-state=on_call]"
            )
            await shoot(supervisor, "wallboard", lang)

            for tab in ADMIN_TABS:
                await admin.goto(f"{base}/admin?lang={lang}")
                await admin.click(f"#tab-{tab}")
                await admin.wait_for_selector(f"#panel-{tab}:not([hidden])")
                await admin.wait_for_load_state("networkidle")
                await shoot(admin, f"admin-{tab}", lang)

            await supervisor.goto(f"{base}/reports?lang={lang}")
            await supervisor.wait_for_selector("#report-table")
            await shoot(supervisor, "reports", lang)

            # the call on the line is answered: it is in the week's review queue
            await supervisor.goto(f"{base}/reviews?lang={lang}")
            await supervisor.wait_for_selector("#queue-rows tr")
            await shoot(supervisor, "reviews", lang)
            await admin.goto(f"{base}/reviews?lang={lang}")
            await admin.wait_for_selector("#criteria-lines tbody tr")
            await shoot(admin, "reviews-admin", lang)
            await operator.goto(f"{base}/reviews?lang={lang}")
            await operator.wait_for_selector("body[data-ready=yes]")
            await shoot(operator, "reviews-operator", lang)

            await anonymous.goto(f"{base}/tra-cuu?ma={code}&lang={lang}")
            await shoot(anonymous, "lookup", lang)

            response = await anonymous.goto(f"{base}/no-such-page?lang={lang}")
            assert response is not None
            assert response.status == 404
            await shoot(anonymous, "error-404", lang)
            response = await operator.goto(f"{base}/admin?lang={lang}")
            assert response is not None
            assert response.status == 403
            await shoot(operator, "error-403", lang)

        await operator.goto(f"{base}/operator?lang=vi")
        await operator.wait_for_selector("#call-panel[data-state=live]")
        await operator.select_option("#f-subcategory", "noise")
        await operator.select_option("#f-locality", "DN-ST")
        await operator.fill("#f-description", "Karaoke ồn ào sau 23 giờ ở kiệt 42")
        await operator.click("#submit-ticket")
        await operator.wait_for_selector("#ticket-result:not([hidden])")
        for lang in LANGS:
            await agency.goto(f"{base}/agency?lang={lang}")
            await agency.click(f"#inbox-rows tr[data-code='{code}']")
            await agency.wait_for_selector("#timeline li[data-kind=forward]")
            await shoot(agency, "agency", lang)

            await anonymous.goto(f"{base}/tra-cuu?ma={code}&lang={lang}")
            await anonymous.fill("#lookup-last4", CALLER[-4:])
            await anonymous.click("#lookup-form button[type=submit]")
            await anonymous.wait_for_selector("#lookup-result")
            await shoot(anonymous, "lookup-answered", lang)
        call.hangup()
