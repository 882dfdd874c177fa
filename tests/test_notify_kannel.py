"""Citizen SMS through a real Kannel (bearerbox + smsbox, fake SMSC): the outbox row written
with the ticket change reaches the fake SMSC with the right number and text, Kannel's delivery
report marks it delivered, a reply "1" closes the ticket satisfied, and a Kannel outage only
delays messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from db.backoffice import PostgresBackofficeStore
from db.province import load_province
from hotline.app import POOL, build_app
from tests.support.kannel import PASSWORD, SHORT_CODE, USERNAME, Kannel, MtMessage, free_port
from tests.support.service import service_settings
from tests.support.zalo import APP_ID, APP_SECRET, FIRST_REFRESH_TOKEN, OA_SECRET, FakeZalo
from tickets.agencies import load_province as read_province
from tickets.model import Category, Role, User
from tickets.service import BackofficeService

SECRET = "dlr-and-mo-secret"
CITIZEN_NATIONAL = "0912345678"
CITIZEN_E164 = "+84912345678"
OPERATOR = User(1, "op1", Role.OPERATOR, None)
DRAINAGE = User(2, "drain", Role.AGENCY, "CT-THOATNUOC")
LOOKUP = "https://1022.example.vn/tra-cuu"


@pytest.fixture(scope="module")
def hook_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def kannel(tmp_path_factory: pytest.TempPathFactory, hook_port: int) -> Iterator[Kannel]:
    box = Kannel(tmp_path_factory.mktemp("kannel"), f"http://127.0.0.1:{hook_port}", SECRET)
    try:
        box.start()
        yield box
    finally:
        box.close()


@asynccontextmanager
async def hotline(
    database_url: str, data_dir: Path, port: int, kannel: Kannel, **extra: Any
) -> AsyncIterator[web.Application]:
    settings = service_settings(
        database_url,
        data_dir,
        sms_gateway="kannel",
        kannel_sendsms_url=kannel.sendsms_url,
        kannel_username=USERNAME,
        kannel_password=PASSWORD,
        notify_callback_url=f"http://127.0.0.1:{port}",
        notify_callback_secret=SECRET,
        notify_lookup_url=LOOKUP,
        notify_poll_interval=0.05,
        notify_retry_base=0.2,
        notify_retry_cap=0.5,
        notify_max_attempts=1000,
        notify_quiet_start=0,
        notify_quiet_end=0,
        **extra,
    )
    app = build_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        async with app[POOL].acquire() as conn:
            await load_province(conn, read_province())
        yield app
    finally:
        await runner.cleanup()


async def new_ticket(pool: asyncpg.Pool, code: str) -> int:
    value = await pool.fetchval(
        "INSERT INTO tickets (code, line, category, caller_phone, caller_raw)"
        " VALUES ($1, '1022', 'unclassified', $2, $3) RETURNING id",
        code,
        CITIZEN_E164,
        CITIZEN_NATIONAL,
    )
    return int(value)


async def wait_status(
    pool: asyncpg.Pool, ticket_id: int, event: str, status: str, channel: str = "sms"
) -> asyncpg.Record:
    """Poll until the notification reaches ``status`` (a bounded wait, not a timing check)."""
    async with asyncio.timeout(30):
        while True:
            row = await pool.fetchrow(
                "SELECT * FROM notifications WHERE ticket_id = $1 AND event = $2 AND channel = $3",
                ticket_id,
                event,
                channel,
            )
            if row is not None and row["status"] == status:
                return row
            await asyncio.sleep(0.05)


def texts_to(messages: list[MtMessage], code: str) -> list[MtMessage]:
    return [m for m in messages if code in m.text]


async def test_given_a_ticket_forwarded_to_an_agency_when_the_outbox_runs_then_kannel_delivers_the_vietnamese_texts_and_the_dlr_marks_them_delivered(
    database_url: str, tmp_path: Path, hook_port: int, kannel: Kannel
) -> None:
    async with hotline(
        database_url, tmp_path, hook_port, kannel, notify_unaccented_sms=False
    ) as app:
        pool = app[POOL]
        ticket_id = await new_ticket(pool, "1022-26-900001")
        backoffice = BackofficeService(PostgresBackofficeStore(pool))
        await backoffice.classify(
            OPERATOR, ticket_id, Category.FIELD_REPORT, "flooding", "DN-HC-HC1"
        )
        await backoffice.forward(OPERATOR, ticket_id)

        received = await wait_status(pool, ticket_id, "received", "delivered")
        forwarded = await wait_status(pool, ticket_id, "forwarded", "delivered")
        messages = texts_to(kannel.smsc.wait_for(2), "1022-26-900001")

    assert received["delivered_at"] is not None
    assert forwarded["attempts"] == 1
    assert [(m.sender, m.receiver) for m in messages] == [("1022", "84912345678")] * 2
    assert sorted(m.text for m in messages) == sorted(
        [
            "Tổng đài 1022 đã tiếp nhận yêu cầu của bạn, mã số 1022-26-900001. "
            f"Tra cứu: {LOOKUP}?ma=1022-26-900001",
            "Yêu cầu 1022-26-900001 đã được chuyển đến Công ty Thoát nước và Xử lý nước thải Đà Nẵng "
            f"để xử lý. Tra cứu: {LOOKUP}?ma=1022-26-900001",
        ]
    )


async def test_given_an_answered_ticket_when_the_citizen_replies_1_by_sms_then_the_ticket_closes_satisfied(
    database_url: str, tmp_path: Path, hook_port: int, kannel: Kannel
) -> None:
    async with hotline(database_url, tmp_path, hook_port, kannel) as app:
        pool = app[POOL]
        ticket_id = await new_ticket(pool, "1022-26-900002")
        backoffice = BackofficeService(PostgresBackofficeStore(pool))
        await backoffice.classify(
            OPERATOR, ticket_id, Category.FIELD_REPORT, "flooding", "DN-HC-HC1"
        )
        await backoffice.forward(OPERATOR, ticket_id)
        await backoffice.accept(DRAINAGE, ticket_id)
        await backoffice.respond(DRAINAGE, ticket_id, "Đã khơi thông cống")
        await wait_status(pool, ticket_id, "survey", "delivered")

        kannel.smsc.mo(CITIZEN_NATIONAL, SHORT_CODE, "1")

        await wait_status(pool, ticket_id, "closed", "delivered")
        ticket = await pool.fetchrow("SELECT status, closure FROM tickets WHERE id = $1", ticket_id)
        actor = await pool.fetchval(
            "SELECT actor FROM ticket_events WHERE ticket_id = $1 AND kind = 'close'", ticket_id
        )
        survey = [m.text for m in texts_to(kannel.smsc.received, "1022-26-900002")]

    assert ticket is not None

    assert (ticket["status"], ticket["closure"]) == ("closed", "satisfied")
    assert actor == "citizen:sms"
    assert (
        "Ban co hai long voi ket qua xu ly yeu cau 1022-26-900002? "
        "Tra loi 1 neu hai long, 2 neu chua hai long. Soan TC de tu choi nhan tin."
    ) in survey


async def test_given_kannel_is_down_when_a_ticket_changes_then_the_message_is_retried_and_delivered_after_kannel_restarts(
    database_url: str, tmp_path: Path, hook_port: int, kannel: Kannel
) -> None:
    async with hotline(database_url, tmp_path, hook_port, kannel) as app:
        pool = app[POOL]
        ticket_id = await new_ticket(pool, "1022-26-900003")
        backoffice = BackofficeService(PostgresBackofficeStore(pool))
        kannel.stop()
        try:
            await backoffice.classify(
                OPERATOR, ticket_id, Category.FIELD_REPORT, "flooding", "DN-HC-HC1"
            )
            async with asyncio.timeout(30):
                while True:
                    row = await pool.fetchrow(
                        "SELECT status, attempts, last_error, lease FROM notifications"
                        " WHERE ticket_id = $1",
                        ticket_id,
                    )
                    # three attempts made and the third one's failure recorded (no claim in
                    # flight: a send still under way when Kannel comes back would succeed as
                    # the third)
                    if row is not None and row["attempts"] >= 3 and row["lease"] is None:
                        break
                    await asyncio.sleep(0.05)
        finally:
            kannel.start()
        delivered = await wait_status(pool, ticket_id, "received", "delivered")
        messages = texts_to(kannel.smsc.wait_for(1), "1022-26-900003")

    assert row["status"] == "pending"
    assert row["last_error"].startswith("kannel unreachable")
    assert delivered["attempts"] >= 4
    assert [m.text for m in messages] == [
        f"Tong dai 1022 da tiep nhan yeu cau cua ban, ma so 1022-26-900003. Tra cuu: {LOOKUP}"
        "?ma=1022-26-900003"
    ]


async def test_given_a_citizen_without_zalo_when_zalo_answers_minus_118_then_the_message_goes_by_sms_through_kannel(
    database_url: str, tmp_path: Path, hook_port: int, kannel: Kannel
) -> None:
    zalo = FakeZalo({"tpl-received"})
    zalo.no_zalo_account.add("84912345678")
    await zalo.start()
    try:
        async with hotline(
            database_url,
            tmp_path,
            hook_port,
            kannel,
            zalo_app_id=APP_ID,
            zalo_app_secret=APP_SECRET,
            zalo_oa_secret=OA_SECRET,
            zalo_refresh_token=FIRST_REFRESH_TOKEN,
            zalo_api_url=zalo.url,
            zalo_oauth_url=f"{zalo.url}/v4/oa/access_token",
            zalo_templates={"received": "tpl-received"},
        ) as app:
            pool = app[POOL]
            ticket_id = await new_ticket(pool, "1022-26-900004")
            await BackofficeService(PostgresBackofficeStore(pool)).classify(
                OPERATOR, ticket_id, Category.INFORMATION
            )
            sms = await wait_status(pool, ticket_id, "received", "delivered")
            rows = await pool.fetch(
                "SELECT channel, status FROM notifications WHERE ticket_id = $1 ORDER BY id",
                ticket_id,
            )
            messages = texts_to(kannel.smsc.wait_for(1), "1022-26-900004")
    finally:
        await zalo.close()

    assert [(r["channel"], r["status"]) for r in rows] == [
        ("zalo", "fallback"),
        ("sms", "delivered"),
    ]
    assert sms["channel"] == "sms"
    assert [e for e, _ in zalo.rejected] == [-118]
    assert [(m.receiver, m.text) for m in messages] == [
        (
            "84912345678",
            "Tong dai 1022 da tiep nhan yeu cau cua ban, ma so 1022-26-900004. "
            f"Tra cuu: {LOOKUP}?ma=1022-26-900004",
        )
    ]
