"""Headless Debian Chromium driven by Playwright (``executable_path``: Playwright never
downloads a browser here), users to log in with, and screenshots kept as test artifacts under
``test-artifacts/screenshots/`` (CI keeps that folder)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright

from db.users import PostgresUserRepository
from hotline.auth import AuthService
from tests.support.service import RunningService
from tickets.model import Role, User

CHROMIUM = Path(os.environ.get("HOTLINE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "mật-khẩu-thử-123"
# The flags a closed network needs: no background connections Chromium would make at start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # recordings play without a click, so a test can hear that they play at all
    "--autoplay-policy=no-user-gesture-required",
]
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
PHONE: ViewportSize = {"width": 390, "height": 800}


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh does)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            await browser.close()


async def new_page(browser: Browser, *, viewport: ViewportSize = LAPTOP) -> Page:
    """A fresh browser context (its own cookies) with a Vietnamese locale; any script error on
    the page fails the test."""
    context = await browser.new_context(
        locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", viewport=viewport
    )
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.set_default_timeout(10_000)
    _errors[id(page)] = errors
    return page


_errors: dict[int, list[str]] = {}


def script_errors(page: Page) -> list[str]:
    """Uncaught script errors the page has had so far (a test asserts there are none)."""
    return _errors.get(id(page), [])


async def add_user(
    service: RunningService, username: str, role: Role, agency_code: str | None = None
) -> User:
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    return await auth.add_user(username, PASSWORD, role, agency_code)


async def log_in(page: Page, base_url: str, username: str, *, path: str = "/") -> None:
    """Through the login form, as a person would; returns on the page after it."""
    await page.goto(f"{base_url}/login?next={quote(path, safe='')}")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url(lambda url: urlsplit(url).path != "/login")


async def log_softphone_in(page: Page, extension: str) -> None:
    """On the operator console: log in to the queues with ``extension``, until ready."""
    await page.fill("#extension", extension)
    await page.click("#phone-login button[type=submit]")
    await page.wait_for_selector("#state[data-state=available]")


async def operator_page(browser: Browser, base_url: str, username: str, extension: str) -> Page:
    """``username``'s operator console in a new page, logged in to the queues on ``extension``."""
    page = await new_page(browser)
    await log_in(page, base_url, username, path="/operator")
    await log_softphone_in(page, extension)
    return page


async def played_seconds(page: Page, selector: str, *, at_least: float = 0.3) -> float:
    """Play the ``<audio>`` at ``selector`` until its clock passes ``at_least`` seconds; returns
    its duration (a file that does not load or decode never gets there: the test fails)."""
    duration: float = await page.evaluate(
        """async ([selector, atLeast]) => {
            const audio = document.querySelector(selector);
            if (!(audio.duration > 0)) {
                await new Promise((resolve, reject) => {
                    audio.addEventListener("loadedmetadata", resolve, { once: true });
                    audio.addEventListener("error", () => reject(new Error("audio error " +
                        (audio.error && audio.error.code))), { once: true });
                    audio.load();
                });
            }
            await audio.play();
            while (audio.currentTime < atLeast) {
                await new Promise((resolve) => setTimeout(resolve, 50));
            }
            audio.pause();
            return audio.duration;
        }""",
        [selector, at_least],
    )
    return duration


async def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(target), full_page=True)
    return target
