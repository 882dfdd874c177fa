"""The notification domain (templates, SMS part counting, retry policy, quiet hours, replies) and
the outbox on real PostgreSQL: rows written with the ticket change, once per event, claimed by
one worker at a time, dead after N failed attempts, delivery reports and replies checked."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

from db.backoffice import PostgresBackofficeStore
from db.notify import PostgresOutbox
from db.province import load_province
from notify.kannel import KannelSmsGateway, dlr_signature
from notify.policy import VIETNAM, QuietHours, Reply, RetryPolicy, parse_reply
from notify.service import DeliveryState, NotifyService
from notify.templates import TEMPLATES, Coding, measure, render_sms, strip_diacritics
from runtime.metrics import Metrics
from tests.support.kannel import free_port
from tests.support.service import RunningService, running_service, service_settings
from tickets.agencies import load_province as read_province
from tickets.lifecycle import Closure
from tickets.model import Category, Role, User
from tickets.service import BackofficeService

SECRET = "outbox-test-secret"
OPERATOR = User(1, "op1", Role.OPERATOR, None)
DRAINAGE = User(2, "drain", Role.AGENCY, "CT-THOATNUOC")
PHONE = "+84912345678"


# ---------------------------------------------------------------------------- domain
def test_given_vietnamese_text_when_diacritics_are_stripped_then_tone_marks_go_and_d_bar_becomes_d() -> (
    None
):
    assert strip_diacritics("Đường Bạch Đằng ngập sâu, Tổng đài") == (
        "Duong Bach Dang ngap sau, Tong dai"
    )


def test_given_texts_of_boundary_lengths_when_measured_then_parts_follow_gsm7_and_ucs2_sizes() -> (
    None
):
    assert (measure("a" * 160).coding, measure("a" * 160).parts) == (Coding.GSM7, 1)
    assert measure("a" * 161).parts == 2
    assert measure("a" * 306).parts == 2
    assert measure("a" * 307).parts == 3
    assert measure("{" * 80).units == 160  # extension characters take two septets
    assert measure("{" * 81).parts == 2
    assert (measure("ă" * 70).coding, measure("ă" * 70).parts) == (Coding.UCS2, 1)
    assert measure("ă" * 71).parts == 2
    assert measure("ă" * 135).parts == 3


def test_given_every_template_when_rendered_unaccented_then_it_is_gsm7_and_keeps_the_code() -> None:
    params = {"code": "1022-26-000123", "line": "1022", "agency": "Sở Giao thông Vận tải"}
    for event in TEMPLATES:
        sms = render_sms(event, params, lookup_url="https://x.vn/tra-cuu", unaccented=True)
        assert sms.coding is Coding.GSM7, sms.text
        assert "1022-26-000123" in sms.text
        assert sms.parts <= 2


def test_given_the_retry_policy_when_attempts_fail_then_waits_grow_exponentially_within_jitter_and_cap() -> (
    None
):
    policy = RetryPolicy(base=10.0, cap=100.0, max_attempts=5)

    assert [policy.delay(n, lambda: 0.0) for n in (1, 2, 3, 4, 5)] == [5, 10, 20, 40, 50]
    assert [policy.delay(n, lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [10, 20, 40, 80, 100]
    assert not policy.exhausted(4)
    assert policy.exhausted(5)


def test_given_quiet_hours_when_a_message_is_due_at_night_then_it_waits_for_seven_in_vietnam() -> (
    None
):
    quiet = QuietHours(22, 7)
    late = datetime(2026, 11, 26, 23, 30, tzinfo=VIETNAM)
    early = datetime(2026, 11, 27, 6, 59, tzinfo=VIETNAM)
    noon = datetime(2026, 11, 27, 12, 0, tzinfo=VIETNAM)

    assert quiet.release_at(late) == datetime(2026, 11, 27, 7, 0, tzinfo=VIETNAM)
    assert quiet.release_at(early) == datetime(2026, 11, 27, 7, 0, tzinfo=VIETNAM)
    assert quiet.release_at(noon) is None
    assert QuietHours(0, 0).release_at(late) is None


def test_given_citizen_replies_when_parsed_then_1_2_and_opt_out_words_are_understood() -> None:
    assert parse_reply(" 1. ") is Reply.SATISFIED
    assert parse_reply("2 cam on") is Reply.UNSATISFIED
    assert parse_reply("tc") is Reply.OPT_OUT
    assert parse_reply("Từ chối") is Reply.OPT_OUT
    assert parse_reply("HUY") is Reply.OPT_OUT
    assert parse_reply("xin chào") is Reply.UNKNOWN
    assert parse_reply("") is Reply.UNKNOWN


# ---------------------------------------------------------------------------- outbox
@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=4) as created:
        async with created.acquire() as conn:
            await load_province(conn, read_province())
        yield created


async def new_ticket(pool: asyncpg.Pool, code: str, line: str = "1022", phone: str = PHONE) -> int:
    category = "medical" if line == "115" else "unclassified"
    value = await pool.fetchval(
        "INSERT INTO tickets (code, line, category, caller_phone, caller_raw)"
        " VALUES ($1, $2, $3, $4, $4) RETURNING id",
        code,
        line,
        category,
        phone,
    )
    return int(value)


async def responded(pool: asyncpg.Pool, code: str) -> int:
    ticket_id = await new_ticket(pool, code)
    backoffice = BackofficeService(PostgresBackofficeStore(pool))
    await backoffice.classify(OPERATOR, ticket_id, Category.FIELD_REPORT, "flooding", "DN-HC-HC1")
    await backoffice.forward(OPERATOR, ticket_id)
    await backoffice.accept(DRAINAGE, ticket_id)
    await backoffice.respond(DRAINAGE, ticket_id, "Đã khơi thông cống")
    return ticket_id


async def test_given_a_ticket_through_its_lifecycle_when_steps_repeat_then_one_outbox_row_per_event_is_written_with_the_change(
    pool: asyncpg.Pool,
) -> None:
    ticket_id = await responded(pool, "1022-26-800001")
    backoffice = BackofficeService(PostgresBackofficeStore(pool))
    await backoffice.reopen(OPERATOR, ticket_id, "chưa xong")  # forwarded again: no second row
    await backoffice.respond(DRAINAGE, ticket_id, "Đã xong")
    medical = await new_ticket(pool, "115-26-800002", line="115")
    await backoffice.classify(OPERATOR, medical, Category.MEDICAL)

    rows = await pool.fetch(
        "SELECT ticket_id, event, channel, urgent, params->>'agency' AS agency"
        " FROM notifications ORDER BY id"
    )

    assert [(r["ticket_id"], r["event"], r["urgent"]) for r in rows] == [
        (ticket_id, "received", False),
        (ticket_id, "forwarded", False),
        (ticket_id, "responded", False),
        (ticket_id, "survey", False),
        (medical, "received", True),
    ]
    assert rows[1]["agency"] == "Công ty Thoát nước và Xử lý nước thải Đà Nẵng"
    assert {r["channel"] for r in rows} == {"sms"}


async def test_given_due_rows_when_two_workers_claim_at_once_then_each_row_goes_to_exactly_one(
    pool: asyncpg.Pool,
) -> None:
    for n in range(6):
        ticket_id = await new_ticket(pool, f"1022-26-80010{n}")
        await BackofficeService(PostgresBackofficeStore(pool)).classify(
            OPERATOR, ticket_id, Category.INFORMATION
        )
    one, two = PostgresOutbox(pool), PostgresOutbox(pool)

    first, second = await asyncio.gather(
        one.claim(4, timedelta(minutes=1)), two.claim(4, timedelta(minutes=1))
    )
    third = await one.claim(4, timedelta(minutes=1))

    ids = [n.id for n in first + second]
    assert len(ids) == 6
    assert len(set(ids)) == 6
    assert third == []


class SlowKannel:
    """A sendsms endpoint on a real socket that takes ``delay`` seconds to accept a message
    (a busy SMSC) and records every message it is handed."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.sent: list[str] = []  # the ``dlr-url`` of each message: it names the row
        self._runner: web.AppRunner | None = None

    async def _sendsms(self, request: web.Request) -> web.Response:
        await asyncio.sleep(self.delay)
        self.sent.append(request.query["dlr-url"])
        return web.Response(status=202, text="0: Accepted for delivery")

    async def __aenter__(self) -> str:
        app = web.Application()
        app.router.add_get("/cgi-bin/sendsms", self._sendsms)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}/cgi-bin/sendsms"

    async def __aexit__(self, *_: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()


def outbox_worker(
    pool: asyncpg.Pool, session: aiohttp.ClientSession, url: str, *, batch: int, lease: float
) -> NotifyService:
    async def close_ticket(ticket_id: int, closure: Closure) -> None:
        raise AssertionError("no ticket is closed here")

    return NotifyService(
        PostgresOutbox(pool),
        KannelSmsGateway(
            session,
            sendsms_url=url,
            username="u",
            password="p",
            callback_url="http://127.0.0.1:1",
            callback_secret=SECRET,
        ),
        close_ticket=close_ticket,
        retry=RetryPolicy(base=60, cap=60, max_attempts=5),
        quiet=QuietHours(0, 0),
        lookup_url="https://x.vn/tra-cuu",
        batch=batch,
        lease=timedelta(seconds=lease),
        poll_interval=0.05,
    )


async def test_given_a_pass_longer_than_the_lease_when_two_workers_run_then_no_message_is_sent_twice(
    pool: asyncpg.Pool,
) -> None:
    """One worker's pass takes three messages at 2 s each, three times the 2 s lease; the
    other takes the fourth and is free after 2 s: without the heartbeat it claims the rows
    still waiting in the first one's pass, and both send them."""
    for n in range(4):
        ticket_id = await new_ticket(pool, f"1022-26-80040{n}")
        await BackofficeService(PostgresBackofficeStore(pool)).classify(
            OPERATOR, ticket_id, Category.INFORMATION
        )
    gateway = SlowKannel(delay=2.0)
    stop = asyncio.Event()
    async with gateway as url, aiohttp.ClientSession() as session:
        workers = [outbox_worker(pool, session, url, batch=3, lease=2.0) for _ in range(2)]
        running = [asyncio.create_task(w.run(stop)) for w in workers]
        async with asyncio.timeout(30):
            while await pool.fetchval("SELECT count(*) FROM notifications WHERE status <> 'sent'"):
                await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # a late duplicate would arrive now
        stop.set()
        await asyncio.gather(*running)

    assert len(gateway.sent) == 4
    assert len(set(gateway.sent)) == 4


async def test_given_a_lease_taken_over_when_the_first_worker_reports_then_only_the_new_holder_writes(
    pool: asyncpg.Pool,
) -> None:
    ticket_id = await new_ticket(pool, "1022-26-800501")
    await BackofficeService(PostgresBackofficeStore(pool)).classify(
        OPERATOR, ticket_id, Category.INFORMATION
    )
    first, second = PostgresOutbox(pool), PostgresOutbox(pool)
    [lost] = await first.claim(1, timedelta(milliseconds=50))
    await asyncio.sleep(0.1)
    [taken] = await second.claim(1, timedelta(minutes=1))

    assert taken.id == lost.id
    assert await first.extend([lost], timedelta(minutes=1)) == set()
    assert not await first.mark_sent(lost, "late")
    assert not await first.retry_in(lost, timedelta(0), "late")
    assert not await first.give_up(lost, "late")
    assert await pool.fetchval("SELECT status FROM notifications") == "pending"
    assert await second.extend([taken], timedelta(minutes=1)) == {taken.id}
    assert await second.mark_sent(taken, "gw-1")
    row = await pool.fetchrow("SELECT status, provider_id, attempts FROM notifications")
    assert row is not None
    assert (row["status"], row["provider_id"], row["attempts"]) == ("sent", "gw-1", 2)


async def test_given_a_delivery_report_faster_than_the_worker_when_it_records_the_send_then_the_send_is_recorded_and_the_report_kept(
    pool: asyncpg.Pool,
) -> None:
    """A fast SMSC reports delivery before the worker has written down that it sent the
    message: that is no lease taken over (the row was claimed once), and nothing is undone."""
    ticket_id = await new_ticket(pool, "1022-26-800601")
    await BackofficeService(PostgresBackofficeStore(pool)).classify(
        OPERATOR, ticket_id, Category.INFORMATION
    )
    outbox = PostgresOutbox(pool)
    [claimed] = await outbox.claim(1, timedelta(minutes=1))

    assert await outbox.delivery_report(claimed.id, DeliveryState.DELIVERED)
    assert await outbox.mark_sent(claimed, "gw-7")
    row = await pool.fetchrow(
        "SELECT status, provider_id, lease, attempts, sent_at, delivered_at FROM notifications"
    )
    assert row is not None
    assert (row["status"], row["provider_id"], row["lease"], row["attempts"]) == (
        "delivered",
        "gw-7",
        None,
        1,
    )
    assert row["sent_at"] is not None
    assert row["delivered_at"] is not None
    assert await outbox.claim(1, timedelta(minutes=1)) == []


async def service_with_dead_gateway(
    pool: asyncpg.Pool,
    session: aiohttp.ClientSession,
    *,
    max_attempts: int,
    clock: datetime,
    metrics: Metrics | None = None,
    retry_base: float = 0.001,
) -> NotifyService:
    async def close_ticket(ticket_id: int, closure: Closure) -> None:
        raise AssertionError("no ticket is closed here")

    gateway = KannelSmsGateway(
        session,
        sendsms_url=f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms",  # nobody listens
        username="u",
        password="p",
        callback_url="http://127.0.0.1:1",
        callback_secret=SECRET,
    )
    return NotifyService(
        PostgresOutbox(pool),
        gateway,
        close_ticket=close_ticket,
        retry=RetryPolicy(base=retry_base, cap=retry_base, max_attempts=max_attempts),
        quiet=QuietHours(22, 7),
        lookup_url="https://x.vn/tra-cuu",
        clock=lambda: clock,
        metrics=metrics,
    )


async def test_given_a_service_on_a_simulated_clock_when_a_send_fails_then_its_retry_waits_on_the_database_clock(
    pool: asyncpg.Pool,
) -> None:
    """The business clock may be a replay's, years behind the database: the retry's wait is
    counted on the clock the claims are (the database's), so the row is not due again at once."""
    ticket_id = await new_ticket(pool, "115-26-800701", line="115")
    await BackofficeService(PostgresBackofficeStore(pool)).classify(
        OPERATOR, ticket_id, Category.MEDICAL
    )
    async with aiohttp.ClientSession() as session:
        service = await service_with_dead_gateway(
            pool,
            session,
            max_attempts=5,
            clock=datetime(2019, 11, 18, 9, 0, tzinfo=UTC),
            retry_base=600.0,
        )
        first = await service.process_due()
        again = await service.process_due()

    row = await pool.fetchrow(
        "SELECT attempts, next_attempt_at >= now() + interval '4 minutes' AS waits"
        " FROM notifications"
    )
    assert row is not None
    assert (first, again) == (1, 0)
    assert (row["attempts"], row["waits"]) == (1, True)


async def test_given_an_unreachable_gateway_when_attempts_run_out_then_the_row_is_dead_lettered(
    pool: asyncpg.Pool,
) -> None:
    ticket_id = await new_ticket(pool, "115-26-800201", line="115")
    await BackofficeService(PostgresBackofficeStore(pool)).classify(
        OPERATOR, ticket_id, Category.MEDICAL
    )
    metrics = Metrics()
    async with aiohttp.ClientSession() as session:
        service = await service_with_dead_gateway(
            pool, session, max_attempts=3, clock=datetime.now(UTC), metrics=metrics
        )
        async with asyncio.timeout(30):
            while True:
                await service.process_due()
                row = await pool.fetchrow("SELECT status, attempts, last_error FROM notifications")
                assert row is not None
                if row["status"] != "pending":
                    break
                await asyncio.sleep(0.01)

    assert row["status"] == "dead"
    assert row["attempts"] == 3
    assert row["last_error"].startswith("kannel unreachable")
    figures = metrics.registry.get_sample_value
    sms = {"channel": "sms"}
    assert figures("hotline_outbox_failures_total", sms | {"verdict": "retry"}) == 2
    assert figures("hotline_outbox_failures_total", sms | {"verdict": "give_up"}) == 1
    assert figures("hotline_outbox_sent_total", sms) == 0


async def test_given_night_in_vietnam_when_the_worker_runs_then_1022_messages_wait_but_115_goes(
    pool: asyncpg.Pool,
) -> None:
    citizen = await new_ticket(pool, "1022-26-800301")
    medical = await new_ticket(pool, "115-26-800302", line="115")
    backoffice = BackofficeService(PostgresBackofficeStore(pool))
    await backoffice.classify(OPERATOR, citizen, Category.INFORMATION)
    await backoffice.classify(OPERATOR, medical, Category.MEDICAL)
    night = datetime(2026, 11, 26, 23, 0, tzinfo=VIETNAM)
    async with aiohttp.ClientSession() as session:
        service = await service_with_dead_gateway(pool, session, max_attempts=5, clock=night)
        await service.process_due()

    rows = {
        r["ticket_id"]: r
        for r in await pool.fetch("SELECT ticket_id, attempts, next_attempt_at FROM notifications")
    }
    assert rows[citizen]["attempts"] == 0
    assert rows[citizen]["next_attempt_at"] == datetime(2026, 11, 27, 7, 0, tzinfo=VIETNAM)
    assert rows[medical]["attempts"] == 1


@pytest.fixture
async def notifying(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    settings = service_settings(
        database_url,
        tmp_path,
        sms_gateway="kannel",
        kannel_sendsms_url=f"http://127.0.0.1:{free_port()}/cgi-bin/sendsms",
        kannel_password="p",
        notify_callback_secret=SECRET,
        notify_poll_interval=60.0,
        notify_retry_base=60.0,
    )
    async with running_service(settings) as running:
        async with running.pool.acquire() as conn:
            await load_province(conn, read_province())
        yield running


async def test_given_a_delivery_report_with_a_bad_signature_when_it_arrives_then_401_and_nothing_changes(
    notifying: RunningService,
) -> None:
    ticket_id = await new_ticket(notifying.pool, "1022-26-800401")
    await BackofficeService(PostgresBackofficeStore(notifying.pool)).classify(
        OPERATOR, ticket_id, Category.INFORMATION
    )
    nid = await notifying.pool.fetchval("SELECT id FROM notifications")
    forged = dlr_signature("not-our-secret", nid)
    async with aiohttp.ClientSession(base_url=notifying.http_url) as http:
        async with http.get(f"/notify/kannel/dlr?id={nid}&sig={forged}&status=1") as bad:
            bad_body = await bad.json()
        status_after_bad = await notifying.pool.fetchval("SELECT status FROM notifications")
        good = dlr_signature(SECRET, nid)
        async with http.get(f"/notify/kannel/dlr?id={nid}&sig={good}&status=2") as ok:
            ok_status = ok.status
        async with http.get(f"/notify/kannel/dlr?id={nid}&sig={good}&status=1") as ok:
            assert ok.status == 200

    assert bad.status == 401
    assert bad_body["error_id"] == "bad-signature"
    assert status_after_bad == "pending"
    assert ok_status == 200
    assert await notifying.pool.fetchval("SELECT status FROM notifications") == "delivered"


async def test_given_a_citizen_who_texts_tc_when_the_ticket_changes_later_then_no_message_is_queued(
    notifying: RunningService,
) -> None:
    ticket_id = await new_ticket(notifying.pool, "1022-26-800501")
    async with aiohttp.ClientSession(base_url=notifying.http_url) as http:
        async with http.get("/notify/kannel/mo?secret=wrong&from=0912345678&text=TC") as bad:
            assert bad.status == 401
        opted_after_bad = await notifying.pool.fetchval("SELECT count(*) FROM notify_optouts")
        async with http.get(
            f"/notify/kannel/mo?secret={SECRET}&from=0912345678&to=1022&text=T%E1%BB%AB+ch%E1%BB%91i&charset=UTF-8"
        ) as ok:
            assert ok.status == 200
    await BackofficeService(PostgresBackofficeStore(notifying.pool)).classify(
        OPERATOR, ticket_id, Category.INFORMATION
    )

    assert opted_after_bad == 0
    assert await notifying.pool.fetchval("SELECT phone FROM notify_optouts") == PHONE
    assert await notifying.pool.fetchval("SELECT count(*) FROM notifications") == 0


async def test_given_an_answered_ticket_whose_survey_was_sent_when_the_citizen_replies_2_then_it_closes_unsatisfied(
    notifying: RunningService,
) -> None:
    ticket_id = await responded(notifying.pool, "1022-26-800601")
    await notifying.pool.execute(
        "UPDATE notifications SET status = 'sent', sent_at = now() WHERE event = 'survey'"
    )
    async with aiohttp.ClientSession(base_url=notifying.http_url) as http:
        async with http.get(
            f"/notify/kannel/mo?secret={SECRET}&from=%2B84912345678&text=2&charset=UTF-8"
        ) as reply:
            assert reply.status == 200
        async with http.get(
            f"/notify/kannel/mo?secret={SECRET}&from=%2B84912345678&text=1&charset=UTF-8"
        ) as late:
            assert late.status == 200

    ticket = await notifying.pool.fetchrow(
        "SELECT status, closure FROM tickets WHERE id = $1", ticket_id
    )
    assert (ticket["status"], ticket["closure"]) == ("closed", "unsatisfied")
