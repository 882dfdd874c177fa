"""SMS through a generic HTTP brandname gateway (a JSON API on port 0 that checks the API key,
keeps request ids unique and calls our signed delivery URL back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from db.backoffice import PostgresBackofficeStore
from db.province import load_province
from tests.support.brandname import API_KEY, FakeBrandname, brandname_gateway
from tests.support.service import RunningService, running_service, service_settings
from tickets.agencies import load_province as read_province
from tickets.model import Category, Role, User
from tickets.service import BackofficeService

OPERATOR = User(1, "op1", Role.OPERATOR, None)


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[FakeBrandname, str]]:
    async with brandname_gateway(busy=1) as served:
        yield served


@pytest.fixture
async def notifying(
    database_url: str, tmp_path: Path, gateway: tuple[FakeBrandname, str]
) -> AsyncIterator[RunningService]:
    settings = service_settings(
        database_url,
        tmp_path,
        sms_gateway="brandname",
        brandname_url=gateway[1],
        brandname_api_key=API_KEY,
        brandname_sender="TONGDAI1022",
        notify_callback_secret="callback-secret",
        notify_poll_interval=0.05,
        notify_retry_base=0.05,
        notify_retry_cap=0.1,
        notify_quiet_start=0,
        notify_quiet_end=0,
    )
    async with running_service(settings) as running:
        async with running.pool.acquire() as conn:
            await load_province(conn, read_province())
        yield running


async def wait_status(pool: asyncpg.Pool, status: str) -> asyncpg.Record:
    async with asyncio.timeout(30):
        while True:
            row = await pool.fetchrow("SELECT * FROM notifications WHERE status = $1", status)
            if row is not None:
                return row
            await asyncio.sleep(0.05)


async def test_given_a_busy_brandname_gateway_when_a_ticket_is_classified_then_the_sms_is_retried_accepted_and_marked_delivered_by_its_callback(
    notifying: RunningService, gateway: tuple[FakeBrandname, str]
) -> None:
    fake, _ = gateway
    ticket_id = await notifying.pool.fetchval(
        "INSERT INTO tickets (code, line, category, caller_phone, caller_raw)"
        " VALUES ('1022-26-600001', '1022', 'unclassified', '+84912345678', '0912345678')"
        " RETURNING id"
    )
    await BackofficeService(PostgresBackofficeStore(notifying.pool)).classify(
        OPERATOR, ticket_id, Category.INFORMATION
    )
    sent = await wait_status(notifying.pool, "sent")
    accepted = fake.accepted[str(sent["id"])]
    path = accepted["callback_url"].removeprefix("http://127.0.0.1:8080")  # the default base
    async with aiohttp.ClientSession(base_url=notifying.http_url) as http:
        async with http.get(path.replace("sig=", "sig=0") + "&status=delivered") as forged:
            forged_status = forged.status
        after_forged = await notifying.pool.fetchval("SELECT status FROM notifications")
        async with http.get(path + "&status=delivered") as callback:
            assert callback.status == 200
    delivered = await wait_status(notifying.pool, "delivered")

    assert forged_status == 401
    assert after_forged == "sent"
    assert len(fake.requests) == 2  # one 503, then accepted
    assert sent["attempts"] == 2
    assert sent["provider_id"] == "bn-1"
    assert accepted["to"] == "84912345678"
    assert accepted["brandname"] == "TONGDAI1022"
    assert accepted["unicode"] is False
    assert accepted["text"].startswith("Tong dai 1022 da tiep nhan yeu cau cua ban, ma so 1022-26")
    assert delivered["id"] == sent["id"]
