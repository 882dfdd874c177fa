"""What a person reads on a timeline or in the audit is words, never internal codes: every event
kind the code can write (``tickets.events.EventKind``; writers take nothing else, mypy checks
that) has a text in both languages, every code its data carries has a name, every field an
administrator's change touches has a label — and the consoles show them."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from playwright.async_api import expect

from db.province import load_province
from hotline.keys import AUTH
from hotline.web.i18n import Lang, catalog
from ivr.menu import load_menu
from switchboard import CallerScript, Softphone
from tests.support.browser import (
    PASSWORD,
    add_user,
    chromium,
    log_in,
    new_page,
    operator_page,
    screenshot,
    script_errors,
)
from tests.support.live import Live, live_hotline
from tests.support.service import RunningService
from tickets.agencies import load_province as read_province
from tickets.dispatch import Outcome
from tickets.events import EventKind
from tickets.lifecycle import EVENT_OF, Action, Closure
from tickets.model import Role

PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _events_table() -> dict[str, dict[str, str]]:
    text = resources.files("hotline.web").joinpath("locales", "events.toml").read_text("utf-8")
    return tomllib.loads(text)


def test_given_every_event_kind_the_code_writes_when_the_locales_are_read_then_each_has_a_text_in_both_languages() -> (
    None
):
    texts = catalog()
    for kind in EventKind:
        for lang in Lang:
            assert texts[lang].get(f"events.{kind.value}", "").strip(), (kind, lang)
    assert texts[Lang.VI]["events.menu_choice"] != texts[Lang.EN]["events.menu_choice"]


def test_given_the_events_locale_when_read_then_every_key_is_a_kind_a_field_a_value_or_an_actor() -> (
    None
):
    kinds = {k.value for k in EventKind}
    values = (
        {f"outcome_{o.value}" for o in Outcome}
        | {f"closure_{c.value}" for c in Closure}
        | {f"purpose_{p}" for p in _purposes()}
    )
    for key in _events_table()["vi"]:
        known = key in kinds or key in values or key.startswith(("field_", "actor_"))
        assert known, f"events.toml: {key} is no event kind, field, value or actor"
    table = _events_table()["vi"]
    for value in values:
        assert value in table, f"events.toml: no name for {value}"


def _purposes() -> set[str]:
    menu = load_menu(Path(__file__).parents[1] / "ivr" / "menu.toml")
    steps = [flow.record for flow in menu.lines.values() if flow.record]
    steps += [o.record for f in menu.lines.values() if f.menu for o in f.menu.options if o.record]
    return {step.purpose for step in steps}


def test_given_every_locale_text_when_both_languages_are_compared_then_they_use_the_same_placeholders() -> (
    None
):
    texts = catalog()
    for key, vietnamese in texts[Lang.VI].items():
        english = texts[Lang.EN][key]
        assert set(PLACEHOLDER.findall(vietnamese)) == set(PLACEHOLDER.findall(english)), key


def test_given_every_lifecycle_action_when_taken_then_it_leaves_an_event_kind() -> None:
    assert set(EVENT_OF) == set(Action)


@pytest.fixture
async def admin(service: RunningService) -> AsyncIterator[aiohttp.ClientSession]:
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    await add_user(service, "root", Role.ADMIN)
    token = (await service.app[AUTH].login("root", PASSWORD)).token
    assert token is not None
    async with aiohttp.ClientSession(
        base_url=service.http_url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        yield http


# One change of every kind the administrator console audits.
CHANGES: tuple[tuple[str, str, dict[str, object]], ...] = (
    ("POST", "/api/v1/users", {"username": "lan", "password": PASSWORD, "role": "operator"}),
    ("PATCH", "/api/v1/users/lan", {"role": "supervisor", "password": PASSWORD + "x"}),
    (
        "PUT",
        "/api/v1/agencies/CT-CAYXANH",
        {"kind": "utility", "name_vi": "Công ty Cây xanh", "name_en": "Trees", "active": False},
    ),
    ("PUT", "/api/v1/routing-rules", {"category": "field_report", "agency": "CT-CAYXANH"}),
    ("PUT", "/api/v1/holidays/2026-09-02", {"name_vi": "Quốc khánh", "name_en": "National Day"}),
    ("PUT", "/api/v1/categories/field_report/deadline", {"deadline_days": 2}),
    ("PUT", "/api/v1/subcategories/noise/deadline", {"deadline_days": 1}),
    ("PUT", "/api/v1/prompts/to_operator", {"vi": "Xin chờ máy.", "en": "Please hold."}),
    (
        "PUT",
        "/api/v1/review-criteria",
        {
            "sample_size": 3,
            "dispatch_target_seconds": 150,
            "lines": {
                "115": [
                    {
                        "code": "triage",
                        "name_vi": "Hỏi phân loại",
                        "name_en": "Triage",
                        "kind": "yes_no",
                        "weight": 2,
                    },
                ]
            },
        },
    ),
)


async def test_given_every_kind_of_administrators_change_when_audited_then_entity_action_and_fields_have_labels(
    admin: aiohttp.ClientSession,
) -> None:
    for method, path, body in CHANGES:
        async with admin.request(method, path, json=body) as reply:
            assert reply.status < 300, (path, await reply.text())
    async with admin.get("/api/v1/audit?limit=200") as reply:
        items = (await reply.json())["items"]

    texts = catalog()[Lang.VI]
    entities = {item["entity"] for item in items}
    assert entities == {
        "user", "agency", "routing_rule", "holiday", "category", "subcategory", "prompt",
        "review_criterion", "review_settings",
    }  # fmt: skip
    for item in items:
        assert f"admin.entity_{item['entity']}" in texts
        assert f"admin.action_{item['action']}" in texts
        for field in item["after"] or {}:
            assert f"admin.field_{field}" in texts, (item["entity"], field)


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_hotline(database_url, tmp_path, seed=23, users={}) as state:
        async with state.service.pool.acquire() as conn:
            await load_province(conn, read_province())
        yield state


RAW = re.compile(r"\b(digit|queue|category|attempt|purpose)\s*:|hotline-1022|menu_choice|bởi ivr")


async def test_given_a_call_through_the_menu_when_the_operator_and_the_agency_read_it_then_every_step_is_in_words(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op121", ring_delay=1.0, talk_time=100_000.0))
    await add_user(live.service, "lan", Role.OPERATOR)
    await add_user(live.service, "coquan", Role.AGENCY, "UBND-Q-ST")
    await add_user(live.service, "root", Role.ADMIN)
    async with chromium() as browser:
        page = await operator_page(browser, live.service.http_url, "lan", "op121")
        call = await live.board.place_call(
            "1022", "0901234567", script=CallerScript(keys=["9", "2"])
        )
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        path = page.locator("#ivr-path")
        await expect(path.locator("li[data-kind=menu_choice]")).to_have_text(
            "Chọn phím 2: Phản ánh hiện trường"
        )
        await expect(path.locator("li[data-kind=invalid_choice]")).to_have_text(
            "Bấm phím không có trong menu: 9 (lần 1)"
        )
        await expect(path.locator("li[data-kind=to_queue]")).to_have_text(
            "Vào hàng đợi 1022 · Tổng đài phản ánh"
        )
        await expect(path.locator("li[data-kind=recorded]")).to_contain_text(
            "Đã ghi âm nội dung phản ánh ("
        )
        assert not RAW.search(await path.inner_text())
        await screenshot(page, "operator-ivr-path-in-words")
        code = await page.text_content("#ticket-code")
        await page.select_option("#f-subcategory", "noise")
        await page.select_option("#f-locality", "DN-ST")
        await page.click("#submit-ticket")
        await page.wait_for_selector("#ticket-result:not([hidden])")
        call.hangup()
        assert script_errors(page) == []

        agency = await new_page(browser)
        await log_in(agency, live.service.http_url, "coquan", path="/agency")
        await agency.click(f"#inbox-rows tr[data-code='{code}']")
        timeline = agency.locator("#timeline")
        await expect(timeline.locator("li[data-kind=call_started]")).to_contain_text(
            "Cuộc gọi đến bởi tổng đài tự động"
        )
        await expect(timeline.locator("li[data-kind=classify]")).to_contain_text(
            "Phân loại: Phản ánh hiện trường bởi lan"
        )
        await expect(timeline.locator("li[data-kind=forward]")).to_contain_text(
            "Chuyển đến UBND quận Sơn Trà"
        )
        assert not RAW.search(await timeline.inner_text())
        await screenshot(agency, "agency-timeline-in-words")
        assert script_errors(agency) == []

        await db.execute("UPDATE categories SET deadline_days = 3 WHERE code = 'field_report'")
        administrator = await new_page(browser)
        await log_in(administrator, live.service.http_url, "root", path="/admin")
        await administrator.click("#tab-categories")
        row = administrator.locator("#categories-body tr[data-code=field_report]")
        await row.locator("input").fill("2")
        await row.locator("button").click()
        await administrator.wait_for_selector("#toast:has-text('Đã lưu thời hạn')")
        await administrator.click("#tab-audit")
        change = administrator.locator("#audit-body tr[data-entity=category] td.change").first
        await expect(change).to_have_text("Thời hạn (ngày làm việc): 3 → 2")
        await screenshot(administrator, "admin-audit-in-words")
        assert script_errors(administrator) == []
