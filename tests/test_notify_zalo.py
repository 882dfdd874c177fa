"""Zalo ZNS against a server implementing the documented contract: messages go out as template
messages to 84… numbers, an access token that dies mid-run is refreshed once (two instances
never both spend the single-use refresh token), and the delivery webhook is only believed when
its signature holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from db.backoffice import PostgresBackofficeStore
from db.notify import PostgresZaloTokens
from db.province import load_province
from tests.support.service import RunningService, running_service, service_settings
from tests.support.zalo import (
    APP_ID,
    APP_SECRET,
    FIRST_REFRESH_TOKEN,
    OA_SECRET,
    FakeZalo,
    delivery_event,
    sign,
)
from tickets.agencies import load_province as read_province
from tickets.model import Category, Role, User
from tickets.service import BackofficeService

OPERATOR = User(1, "op1", Role.OPERATOR, None)
TEMPLATES = {"received": "tpl-received", "forwarded": "tpl-forwarded", "closed": "tpl-closed"}


@pytest.fixture
async def zalo() -> AsyncIterator[FakeZalo]:
    fake = FakeZalo(set(TEMPLATES.values()))
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def service(
    database_url: str, tmp_path: Path, zalo: FakeZalo
) -> AsyncIterator[RunningService]:
    settings = service_settings(
        database_url,
        tmp_path,
        sms_gateway="kannel",
        kannel_sendsms_url="http://127.0.0.1:9/cgi-bin/sendsms",
        kannel_password="p",
        notify_callback_secret="s",
        notify_poll_interval=0.05,
        notify_retry_base=0.05,
        notify_retry_cap=0.1,
        notify_quiet_start=0,
        notify_quiet_end=0,
        zalo_app_id=APP_ID,
        zalo_app_secret=APP_SECRET,
        zalo_oa_secret=OA_SECRET,
        zalo_refresh_token=FIRST_REFRESH_TOKEN,
        zalo_api_url=zalo.url,
        zalo_oauth_url=f"{zalo.url}/v4/oa/access_token",
        zalo_templates=TEMPLATES,
    )
    async with running_service(settings) as running:
        async with running.pool.acquire() as conn:
            await load_province(conn, read_province())
        yield running


async def new_ticket(pool: asyncpg.Pool, code: str, phone: str = "+84912345678") -> int:
    value = await pool.fetchval(
        "INSERT INTO tickets (code, line, category, caller_phone, caller_raw)"
        " VALUES ($1, '1022', 'unclassified', $2, $2) RETURNING id",
        code,
        phone,
    )
    return int(value)


async def wait_for(pool: asyncpg.Pool, sql: str, *args: object) -> asyncpg.Record:
    """Poll until ``sql`` returns a row (bounded wait)."""
    async with asyncio.timeout(30):
        while True:
            row = await pool.fetchrow(sql, *args)
            if row is not None:
                return row
            await asyncio.sleep(0.05)


async def test_given_zalo_when_tickets_change_and_the_token_expires_mid_run_then_zns_messages_go_out_after_one_refresh(
    service: RunningService, zalo: FakeZalo
) -> None:
    pool = service.pool
    backoffice = BackofficeService(PostgresBackofficeStore(pool))
    ticket_id = await new_ticket(pool, "1022-26-700001")
    await backoffice.classify(OPERATOR, ticket_id, Category.FIELD_REPORT, "flooding", "DN-HC-HC1")
    first = await wait_for(
        pool, "SELECT * FROM notifications WHERE event = 'received' AND status = 'sent'"
    )

    zalo.expire_access_token()
    await backoffice.forward(OPERATOR, ticket_id)
    second = await wait_for(
        pool, "SELECT * FROM notifications WHERE event = 'forwarded' AND status = 'sent'"
    )

    assert (first["channel"], second["channel"]) == ("zalo", "zalo")
    assert (first["provider_id"], second["provider_id"]) == ("zmsg-1", "zmsg-2")
    assert second["attempts"] == 1  # refreshed and resent within the same attempt
    assert zalo.refreshes == 2  # the first use, then the expiry
    assert zalo.reused_refresh_tokens == []
    assert [e for e, _ in zalo.rejected] == [-124]
    assert zalo.sent[0] == {
        "phone": "84912345678",
        "template_id": "tpl-received",
        "template_data": {"ma_yeu_cau": "1022-26-700001", "tong_dai": "1022"},
        "tracking_id": str(first["id"]),
    }
    assert zalo.sent[1]["template_data"]["co_quan"] == (
        "Công ty Thoát nước và Xử lý nước thải Đà Nẵng"
    )
    stored = await pool.fetchrow("SELECT access_token, refresh_token FROM zalo_tokens")
    assert (stored["access_token"], stored["refresh_token"]) == ("access-2", "refresh-2")


async def test_given_a_citizen_without_a_zalo_account_when_notified_then_the_message_falls_back_to_sms(
    service: RunningService, zalo: FakeZalo
) -> None:
    zalo.no_zalo_account.add("84987654321")
    ticket_id = await new_ticket(service.pool, "1022-26-700002", phone="+84987654321")
    await BackofficeService(PostgresBackofficeStore(service.pool)).classify(
        OPERATOR, ticket_id, Category.INFORMATION
    )

    sms = await wait_for(
        service.pool,
        "SELECT * FROM notifications WHERE channel = 'sms' AND event = 'received' AND attempts > 0",
    )
    zns = await service.pool.fetchrow("SELECT * FROM notifications WHERE channel = 'zalo'")

    assert zns is not None
    assert zns["status"] == "fallback"
    assert zns["last_error"].startswith("zalo -118")
    assert sms["phone"] == "+84987654321"
    assert [e for e, _ in zalo.rejected] == [-118]


async def test_given_two_instances_with_the_same_expired_token_when_both_refresh_then_the_refresh_token_is_spent_once(
    service: RunningService, zalo: FakeZalo
) -> None:
    one, two = PostgresZaloTokens(service.pool), PostgresZaloTokens(service.pool)
    calls: list[str] = []

    async def refresher(refresh_token: str) -> tuple[str, str, int]:
        calls.append(refresh_token)
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{zalo.url}/v4/oa/access_token",
                data={
                    "app_id": APP_ID,
                    "grant_type": "refresh_token",
                    "refresh_token": refresh_token,
                },
                headers={"secret_key": APP_SECRET},
            ) as r:
                body = await r.json()
        return body["access_token"], body["refresh_token"], int(body["expires_in"])

    stale = await one.current()
    assert stale is not None
    first, second = await asyncio.gather(
        one.rotate(stale.access_token, refresher), two.rotate(stale.access_token, refresher)
    )

    assert calls == [FIRST_REFRESH_TOKEN]
    assert first.access_token == second.access_token == "access-1"
    assert zalo.reused_refresh_tokens == []


async def test_given_a_zns_delivery_webhook_when_signed_then_delivered_and_when_forged_then_401_and_unchanged(
    service: RunningService, zalo: FakeZalo
) -> None:
    ticket_id = await new_ticket(service.pool, "1022-26-700004")
    await BackofficeService(PostgresBackofficeStore(service.pool)).classify(
        OPERATOR, ticket_id, Category.INFORMATION
    )
    sent = await wait_for(service.pool, "SELECT * FROM notifications WHERE status = 'sent'")
    body = delivery_event(sent["provider_id"], str(sent["id"]))
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        async with http.post(
            "/notify/zalo/webhook", data=body, headers={"X-ZEvent-Signature": sign(body, "wrong")}
        ) as forged:
            forged_body = await forged.json()
        after_forged = await service.pool.fetchval(
            "SELECT status FROM notifications WHERE id = $1", sent["id"]
        )
        async with http.post(
            "/notify/zalo/webhook", data=body, headers={"X-ZEvent-Signature": sign(body)}
        ) as signed:
            assert signed.status == 200

    assert forged.status == 401
    assert forged_body["error_id"] == "bad-signature"
    assert after_forged == "sent"
    assert (
        await service.pool.fetchval("SELECT status FROM notifications WHERE id = $1", sent["id"])
        == "delivered"
    )
