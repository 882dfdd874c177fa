"""The administrator console: accounts and roles (argon2 hashes, switching off ends the tokens,
the last administrator and oneself protected, every change audited), the IVR prompt texts
(stored overrides the sound generator uses), and the page itself in headless Chromium."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from playwright.async_api import expect

from db.province import load_province
from db.users import AccountChange, LastAdmin, PostgresUserRepository
from hotline.keys import AUTH
from hotline.prompts import read_overrides
from ivr.menu import load_menu
from ivr.prompts import DEFAULT_MENU, with_overrides
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
from tickets.agencies import load_province as read_province
from tickets.model import Role

NEW_PASSWORD = "mật-khẩu-mới-456"


@pytest.fixture
async def admin(service: RunningService) -> AsyncIterator[aiohttp.ClientSession]:
    """The province's reference data, the administrator ``root`` and an API client as root."""
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    await add_user(service, "root", Role.ADMIN)
    token = await _token(service, "root")
    async with aiohttp.ClientSession(
        base_url=service.http_url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        yield http


async def _token(service: RunningService, username: str, password: str = PASSWORD) -> str:
    result = await service.app[AUTH].login(username, password)
    assert result.token is not None, result
    return result.token


async def _call(
    http: aiohttp.ClientSession, method: str, path: str, body: Any = None
) -> tuple[int, Any]:
    async with http.request(method, path, json=body) as response:
        return response.status, await response.json()


async def _audit(db: asyncpg.Connection, entity: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT actor, action, entity_key, before, after FROM admin_audit"
        " WHERE entity = $1 ORDER BY id",
        entity,
    )


async def test_given_an_admin_when_a_user_is_created_and_its_role_changed_then_both_are_stored_hashed_and_audited(
    admin: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    status, created = await _call(
        admin,
        "POST",
        "/api/v1/users",
        {"username": "lan", "password": PASSWORD, "role": "operator"},
    )
    assert status == 201, created
    assert created["role"] == "operator"
    assert created["active"] is True
    stored = await db.fetchval("SELECT password_hash FROM users WHERE username = 'lan'")
    assert stored.startswith("$argon2id$")

    status, changed = await _call(admin, "PATCH", "/api/v1/users/lan", {"role": "supervisor"})
    assert status == 200, changed
    assert changed["role"] == "supervisor"
    assert await db.fetchval("SELECT role FROM users WHERE username = 'lan'") == "supervisor"

    status, page = await _call(admin, "GET", "/api/v1/users?limit=1&offset=1")
    assert status == 200
    assert (page["total"], page["limit"], page["offset"]) == (2, 1, 1)
    assert [u["username"] for u in page["items"]] == ["root"]

    rows = await _audit(db, "user")
    assert [(r["actor"], r["action"], r["entity_key"]) for r in rows] == [
        ("root", "create", "lan"),
        ("root", "update", "lan"),
    ]
    assert json.loads(rows[1]["before"])["role"] == "operator"
    assert json.loads(rows[1]["after"])["role"] == "supervisor"
    assert "argon2" not in " ".join(str(r["after"]) + str(r["before"]) for r in rows)

    status, taken = await _call(
        admin, "POST", "/api/v1/users", {"username": "lan", "password": PASSWORD, "role": "admin"}
    )
    assert (status, taken["error_id"]) == (409, "username-taken")


async def test_given_a_logged_in_user_when_the_admin_switches_it_off_then_its_token_is_refused(
    service: RunningService, admin: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await add_user(service, "lan", Role.OPERATOR)
    token = await _token(service, "lan")
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=service.http_url, headers=headers) as lan:
        assert (await _call(lan, "GET", "/api/v1/auth/session"))[0] == 200

        status, body = await _call(admin, "PATCH", "/api/v1/users/lan", {"active": False})
        assert status == 200, body
        assert body["active"] is False
        assert (
            await db.fetchval(
                "SELECT count(*) FROM auth_tokens a JOIN users u ON u.id ="
                " a.user_id WHERE u.username = 'lan'"
            )
            == 0
        )

        status, refused = await _call(lan, "GET", "/api/v1/auth/session")
        assert (status, refused["error_id"]) == (401, "unauthenticated")
    assert (await service.app[AUTH].login("lan", PASSWORD)).token is None
    assert json.loads((await _audit(db, "user"))[-1]["after"])["tokens_ended"] == 1


async def test_given_the_only_admin_when_it_would_be_demoted_or_switched_off_then_it_is_refused(
    service: RunningService, admin: aiohttp.ClientSession
) -> None:
    for change in ({"role": "operator"}, {"active": False}):
        status, body = await _call(admin, "PATCH", "/api/v1/users/root", change)
        assert (status, body["error_id"]) == (409, "cannot-change-self")
    # No other administrator can exist to ask for it, so the last-admin rule is at the store.
    users = PostgresUserRepository(service.pool)
    with pytest.raises(LastAdmin):
        await users.change_account("someone", "root", AccountChange(Role.OPERATOR, None, True))
    with pytest.raises(LastAdmin):
        await users.change_account("someone", "root", AccountChange(Role.ADMIN, None, False))

    await add_user(service, "an", Role.ADMIN)
    status, body = await _call(admin, "PATCH", "/api/v1/users/an", {"role": "supervisor"})
    assert (status, body["role"]) == (200, "supervisor")
    account = await users.account("root")
    assert account is not None
    assert (account.role, account.active) == (Role.ADMIN, True)


async def test_given_the_agency_role_when_no_or_an_unknown_agency_is_given_then_the_account_is_refused(
    admin: aiohttp.ClientSession,
) -> None:
    base = {"username": "cx", "password": PASSWORD, "role": "agency"}
    status, body = await _call(admin, "POST", "/api/v1/users", base)
    assert (status, body["error_id"]) == (400, "agency-required")
    status, body = await _call(admin, "POST", "/api/v1/users", {**base, "agency_code": "NOPE"})
    assert status == 400
    assert "NOPE" in body["message"]
    status, body = await _call(admin, "POST", "/api/v1/users", {**base, "agency_code": "CT\x00"})
    assert (status, body["error_id"]) == (400, "invalid-characters")
    status, body = await _call(
        admin, "POST", "/api/v1/users", {**base, "agency_code": "CT-CAYXANH"}
    )
    assert (status, body["agency_code"]) == (201, "CT-CAYXANH")

    status, body = await _call(
        admin,
        "POST",
        "/api/v1/users",
        {"username": "op", "password": PASSWORD, "role": "operator", "agency_code": "CT-CAYXANH"},
    )
    assert status == 400
    status, body = await _call(
        admin, "POST", "/api/v1/users", {**base, "username": "op2", "role": "operator"}
    )
    assert status == 201
    status, body = await _call(admin, "PATCH", "/api/v1/users/op2", {"role": "agency"})
    assert (status, body["error_id"]) == (400, "agency-required")
    status, body = await _call(admin, "PATCH", "/api/v1/users/cx", {"role": "operator"})
    assert (status, body["agency_code"]) == (200, None)


async def test_given_a_short_password_when_creating_or_resetting_then_it_is_refused(
    service: RunningService, admin: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    status, body = await _call(
        admin, "POST", "/api/v1/users", {"username": "lan", "password": "ngắn", "role": "operator"}
    )
    assert (status, body["error_id"]) == (400, "weak-password")
    assert await db.fetchval("SELECT count(*) FROM users WHERE username = 'lan'") == 0
    await add_user(service, "lan", Role.OPERATOR)
    status, body = await _call(admin, "PATCH", "/api/v1/users/lan", {"password": "123456789"})
    assert (status, body["error_id"]) == (400, "weak-password")
    status, body = await _call(admin, "PATCH", "/api/v1/users/lan", {"password": 12345678901})
    assert status == 400
    status, body = await _call(admin, "PATCH", "/api/v1/users/nobody", {"active": True})
    assert (status, body["error_id"]) == (404, "user-not-found")


async def test_given_a_locked_account_when_the_admin_sets_a_password_then_it_is_unlocked(
    service: RunningService, admin: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await add_user(service, "lan", Role.OPERATOR)
    await db.execute(
        "INSERT INTO login_failures (username, address, failures, last_at, blocked_until)"
        " VALUES ('lan', '203.0.113.7', 6, now(), $1)",
        datetime.now(UTC) + timedelta(minutes=10),
    )
    status, listed = await _call(admin, "GET", "/api/v1/users")
    assert next(u for u in listed["items"] if u["username"] == "lan")["locked"] is True

    status, body = await _call(admin, "PATCH", "/api/v1/users/lan", {"password": NEW_PASSWORD})
    assert (status, body["locked"], body["failed_logins"]) == (200, False, 0)
    assert await db.fetchval("SELECT count(*) FROM login_failures") == 0
    assert (await service.app[AUTH].login("lan", PASSWORD)).token is None
    assert (await service.app[AUTH].login("lan", NEW_PASSWORD)).token is not None
    assert json.loads((await _audit(db, "user"))[-1]["after"])["password_changed"] is True


async def test_given_a_non_admin_when_it_calls_the_user_or_prompt_routes_then_it_is_forbidden(
    service: RunningService, admin: aiohttp.ClientSession
) -> None:
    await add_user(service, "sup", Role.SUPERVISOR)
    token = await _token(service, "sup")
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url=service.http_url, headers=headers) as sup:
        for method, path, body in (
            ("GET", "/api/v1/users", None),
            ("POST", "/api/v1/users", {"username": "x", "password": PASSWORD, "role": "admin"}),
            ("PATCH", "/api/v1/users/root", {"active": False}),
            ("GET", "/api/v1/prompts", None),
            ("PUT", "/api/v1/prompts/welcome_1022", {"vi": "a", "en": "b"}),
        ):
            status, reply = await _call(sup, method, path, body)
            assert (status, reply["error_id"]) == (403, "forbidden"), (method, path)


async def test_given_an_edited_prompt_text_when_listed_and_generated_then_the_edit_replaces_the_menu_text(
    service: RunningService,
    admin: aiohttp.ClientSession,
    db: asyncpg.Connection,
    database_url: str,
) -> None:
    menu = load_menu(DEFAULT_MENU)
    status, listed = await _call(admin, "GET", "/api/v1/prompts")
    assert status == 200
    assert listed["total"] == len(menu.prompts)
    welcome = next(p for p in listed["items"] if p["key"] == "welcome_1022")
    assert welcome["vi"] == menu.prompts["welcome_1022"].vi
    assert welcome["sound"] == "hotline/welcome_1022"
    assert welcome["files"]["vi"] == "vi/hotline/welcome_1022.wav"
    assert welcome["edited"] == {"vi": None, "en": None}

    text_vi = "Xin chào, đây là Đường dây nóng 1022 của tỉnh."
    original_en = menu.prompts["welcome_1022"].en
    status, saved = await _call(
        admin, "PUT", "/api/v1/prompts/welcome_1022", {"vi": text_vi, "en": original_en}
    )
    assert status == 200, saved
    assert saved["vi"] == text_vi
    assert saved["edited"]["vi"]["by"] == "root"
    assert saved["edited"]["en"] is None
    rows = await db.fetch("SELECT key, lang, text, updated_by FROM prompt_texts")
    assert [tuple(r) for r in rows] == [("welcome_1022", "vi", text_vi, "root")]
    audit = await _audit(db, "prompt")
    assert len(audit) == 1
    assert json.loads(audit[0]["after"])["vi"] == text_vi
    assert json.loads(audit[0]["before"])["vi"] == menu.prompts["welcome_1022"].vi

    generated = with_overrides(menu, await read_overrides(database_url))
    assert generated.prompts["welcome_1022"].vi == text_vi
    assert generated.prompts["welcome_1022"].en == original_en
    assert generated.prompts["menu_1022"] == menu.prompts["menu_1022"]

    status, saved = await _call(
        admin,
        "PUT",
        "/api/v1/prompts/welcome_1022",
        {"vi": menu.prompts["welcome_1022"].vi, "en": original_en},
    )
    assert (status, saved["edited"]["vi"]) == (200, None)
    assert await db.fetchval("SELECT count(*) FROM prompt_texts") == 0

    status, body = await _call(admin, "PUT", "/api/v1/prompts/nope", {"vi": "a", "en": "b"})
    assert (status, body["error_id"]) == (404, "prompt-not-found")
    status, body = await _call(admin, "PUT", "/api/v1/prompts/welcome_1022", {"vi": "chỉ một"})
    assert status == 400
    status, body = await _call(
        admin, "PUT", "/api/v1/prompts/welcome_1022", {"vi": "x" * 2001, "en": "y"}
    )
    assert status == 400


async def test_given_the_admin_console_when_a_user_an_agency_and_a_prompt_are_edited_then_they_are_stored_and_listed_in_the_audit(
    service: RunningService, admin: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "root", path="/admin")
        await page.wait_for_selector("#users-body tr[data-username=root]")

        await page.fill("#u-username", "lan")
        await page.fill("#u-password", PASSWORD)
        await page.select_option("#u-role", "operator")
        assert await page.is_disabled("#u-agency")
        await page.click("#u-create")
        await page.wait_for_selector("#users-body tr[data-username=lan]")
        assert await db.fetchval("SELECT role FROM users WHERE username = 'lan'") == "operator"
        await screenshot(page, "admin-users")

        await page.click("#tab-agencies")
        await page.click("#agencies-body tr[data-code=CT-CAYXANH] button.edit")
        await page.fill("#a-name-vi", "Công ty Cây xanh Đà Nẵng (đã đổi)")
        await page.click("#a-save")
        await page.wait_for_selector("#agencies-body tr[data-code=CT-CAYXANH]:has-text('đã đổi')")
        assert (
            await db.fetchval("SELECT name_vi FROM agencies WHERE code = 'CT-CAYXANH'")
            == "Công ty Cây xanh Đà Nẵng (đã đổi)"
        )

        await page.click("#tab-prompts")
        prompt = page.locator("#prompts-list article[data-key=to_operator]")
        await prompt.locator("textarea[lang=vi]").fill(
            "Xin vui lòng chờ, tổng đài viên sẽ nghe máy."
        )
        await prompt.locator("button.save").click()
        await page.wait_for_selector("#prompts-list article[data-key=to_operator] .badge.warn")
        notice = prompt.locator("[data-testid=prompt-regenerate]")
        await expect(notice).to_be_visible()
        await expect(notice).to_contain_text("python -m hotline.prompts --database-url")
        await expect(notice).to_contain_text("Người gọi vẫn nghe tệp âm thanh cũ")
        await screenshot(page, "admin-prompts")
        assert (
            await db.fetchval("SELECT text FROM prompt_texts WHERE key = 'to_operator'")
            == "Xin vui lòng chờ, tổng đài viên sẽ nghe máy."
        )

        await page.click("#tab-audit")
        await page.wait_for_selector("#audit-body tr[data-entity=prompt]")
        keys = await page.locator("#audit-body tr").evaluate_all(
            "rows => rows.map(r => r.dataset.entity + ':' + r.dataset.key)"
        )
        assert keys[:3] == ["prompt:to_operator", "agency:CT-CAYXANH", "user:lan"]
        await screenshot(page, "admin-audit")

        await page.click("#tab-queues")
        await page.wait_for_selector("#queues-offline:not([hidden])")
        assert await page.locator("#queues-body tr").count() == 2
        await screenshot(page, "admin-queues")
        await page.click("#tab-agencies")
        await page.click("[data-testid=lang-switch]")
        await page.wait_for_selector("#agencies-body tr[data-code=CT-CAYXANH]")
        assert await page.text_content("#tab-agencies") == "Agencies"
        await screenshot(page, "admin-agencies-en")
        assert script_errors(page) == []


async def test_given_the_deadlines_tab_when_a_subcategory_gets_its_own_deadline_then_it_is_stored_and_audited(
    service: RunningService, admin: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "root", path="/admin")
        await page.click("#tab-categories")
        noise = page.locator("#categories-body tr.subcategory[data-code=noise]")
        await expect(noise).to_contain_text("Tiếng ồn")
        category_days = await db.fetchval(
            "SELECT deadline_days FROM categories WHERE code = 'field_report'"
        )
        await expect(noise.locator("input")).to_have_attribute("placeholder", str(category_days))
        await noise.locator("input").fill("2")
        await noise.locator("button").click()
        await page.wait_for_selector("#toast:has-text('Đã lưu thời hạn của Tiếng ồn')")
        await screenshot(page, "admin-deadlines")
        assert script_errors(page) == []

    assert await db.fetchval("SELECT deadline_days FROM subcategories WHERE code = 'noise'") == 2
    rows = await _audit(db, "subcategory")
    assert [(r["actor"], r["entity_key"]) for r in rows] == [("root", "noise")]
    assert json.loads(rows[0]["after"]) == {"deadline_days": 2}
    status, body = await _call(
        admin, "PUT", "/api/v1/subcategories/no-such/deadline", {"deadline_days": 2}
    )
    assert (status, body["error_id"]) == (404, "subcategory-not-found")
    status, body = await _call(
        admin, "PUT", "/api/v1/subcategories/noise/deadline", {"deadline_days": 0}
    )
    assert status == 400


async def test_given_an_operator_session_when_it_opens_the_admin_console_then_it_gets_the_forbidden_page(
    service: RunningService,
) -> None:
    await add_user(service, "lan", Role.OPERATOR)
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "lan", path="/operator")
        response = await page.goto(f"{service.http_url}/admin")
        assert response is not None
        assert response.status == 403


def test_given_overrides_for_an_unknown_prompt_when_applied_then_the_menu_keeps_its_prompts(
    tmp_path: Path,
) -> None:
    menu = load_menu(DEFAULT_MENU)
    changed = with_overrides(menu, {"gone": {"vi": "x"}, "apology": {"en": "Sorry."}})
    assert set(changed.prompts) == set(menu.prompts)
    assert changed.prompts["apology"].en == "Sorry."
    assert changed.prompts["apology"].vi == menu.prompts["apology"].vi
