"""The report read from the rollups equals the report counted over the tickets and calls
themselves, figure for figure: seeded random tickets and calls taken through the back office's
real lifecycle (classified, forwarded, reassigned, answered on time and late, closed, reopened,
escalated, merged, transferred between the lines, 115 dispatched, on scene and completed),
simulated ones among them, queue outcomes changing after the call was stored; compared over
random periods, before and after the changes are folded into the rollups, and after the
rollups are rebuilt from zero."""

from __future__ import annotations

import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from db.backoffice import PostgresBackofficeStore
from db.province import load_province
from db.reports import PostgresReportRepository
from tickets.agencies import Province
from tickets.agencies import load_province as read_province
from tickets.codes import HOTLINE_TZ
from tickets.dispatch import Outcome, Point
from tickets.errors import DomainError
from tickets.lifecycle import Closure
from tickets.model import Category, Line, Role, User
from tickets.service import BackofficeService

OPERATOR = User(1, "op1", Role.OPERATOR, None)
SUPERVISOR = User(2, "sup1", Role.SUPERVISOR, None)
NOW = datetime.now(UTC)
DAYS = 75  # tickets are created over the last 75 days: local midnights and whole months
LINES = (Line.CITIZEN, Line.MEDICAL)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    async with asyncpg.create_pool(database_url, min_size=1, max_size=4) as created:
        async with created.acquire() as conn:
            await load_province(conn, read_province())
        yield created


async def new_ticket(pool: asyncpg.Pool, rng: random.Random, n: int, line: Line) -> int:
    created = NOW - timedelta(seconds=rng.uniform(0, DAYS * 86400))
    simulated = rng.random() < 0.05
    ticket_id = await pool.fetchval(
        "INSERT INTO tickets (code, line, category, caller_phone, caller_raw, created_at,"
        " simulated) VALUES ($1, $2, $3, $4, $4, $5, $6) RETURNING id",
        f"{line.value}-26-{900000 + n}",
        line.value,
        "medical" if line is Line.MEDICAL else "unclassified",
        f"+8491{n:07d}",
        created,
        simulated,
    )
    if rng.random() < 0.9:  # its call, queued (some hung up in the IVR)
        joined = created + timedelta(seconds=rng.uniform(10, 60))
        await pool.execute(
            "INSERT INTO calls (uniqueid, linkedid, line, channel, caller_raw, started_at,"
            " disposition, version, ticket_id, queue_joined_at)"
            " VALUES ($1, $1, $2, 'PJSIP/telco-1', 'x', $3, 'queued', 1, $4, $5)",
            f"{created.timestamp():.0f}.{n}",
            line.value,
            created,
            ticket_id,
            joined if rng.random() < 0.9 else None,
        )
    return int(ticket_id)


async def queue_outcomes(pool: asyncpg.Pool, rng: random.Random) -> None:
    """What the queue did with each call, written after the call was stored (as the AMI
    adapter does), some of it written twice."""
    for call in await pool.fetch("SELECT id, queue_joined_at FROM calls ORDER BY id"):
        if call["queue_joined_at"] is None:
            continue
        wait = rng.choice([rng.uniform(0, 40), 15.0, 20.0])
        at = call["queue_joined_at"] + timedelta(seconds=wait)
        answered = rng.random() < 0.8
        await pool.execute(
            "UPDATE calls SET answered_at = $2, abandoned_at = $3, queue_wait_seconds = $4"
            " WHERE id = $1",
            call["id"],
            at if answered else None,
            None if answered else at,
            wait if answered else None,
        )
        if rng.random() < 0.1:  # a late answer after an abandon: counted answered
            await pool.execute(
                "UPDATE calls SET answered_at = abandoned_at, queue_wait_seconds = 3"
                " WHERE id = $1 AND abandoned_at IS NOT NULL",
                call["id"],
            )


async def citizen_lifecycle(
    service: BackofficeService,
    late: BackofficeService,
    province: Province,
    rng: random.Random,
    ticket_id: int,
) -> None:
    if rng.random() < 0.1:
        return  # stays unclassified
    category = rng.choice([Category.ADMIN_PROCEDURE, Category.FIELD_REPORT, Category.INFORMATION])
    subcategories = [s.code for s in province.subcategories if s.category is category]
    subcategory = rng.choice([None, *subcategories])
    await service.classify(OPERATOR, ticket_id, category, subcategory)
    if category is not Category.FIELD_REPORT and rng.random() < 0.6:
        if rng.random() < 0.7:
            await service.close(OPERATOR, ticket_id, None)
        return
    agencies = [a.code for a in province.agencies if a.active]
    agency = rng.choice(agencies)
    await service.forward(OPERATOR, ticket_id, agency)
    if rng.random() < 0.1:
        agency = rng.choice(agencies)
        await service.reassign(SUPERVISOR, ticket_id, agency, "sai thẩm quyền")
    user = User(10, f"agency-{agency}", Role.AGENCY, agency)
    if rng.random() < 0.25:
        return  # waits for the agency (escalated later when overdue)
    await service.accept(user, ticket_id)
    if rng.random() < 0.2:
        return
    answering = late if rng.random() < 0.3 else service  # after the deadline
    await answering.respond(user, ticket_id, "Đã xử lý")
    if rng.random() < 0.3:
        return
    await service.close(OPERATOR, ticket_id, rng.choice([Closure.SATISFIED, Closure.UNSATISFIED]))
    if rng.random() < 0.25:
        await service.reopen(OPERATOR, ticket_id, "người dân chưa hài lòng")
        if rng.random() < 0.5:
            await service.accept(user, ticket_id)
            await service.respond(user, ticket_id, "Đã xử lý lại")


async def medical_lifecycle(service: BackofficeService, rng: random.Random, ticket_id: int) -> None:
    await service.classify(
        OPERATOR,
        ticket_id,
        Category.MEDICAL,
        None,
        "DN-HC-TT",
        point=Point(16.0722 + rng.uniform(-0.01, 0.01), 108.2150 + rng.uniform(-0.01, 0.01)),
    )
    if rng.random() < 0.55:
        await service.dispatch(OPERATOR, ticket_id)
        if rng.random() < 0.3:
            await service.answer_dispatch(OPERATOR, ticket_id, False, "no_vehicle")
        if rng.random() < 0.8:
            await service.answer_dispatch(OPERATOR, ticket_id, True)
            if rng.random() < 0.7:
                await service.milestone(OPERATOR, ticket_id, "on_scene")
            outcome = rng.choice([Outcome.HANDLED, Outcome.TRANSPORTED, Outcome.CANCELLED])
            await service.complete(OPERATOR, ticket_id, outcome)
    elif rng.random() < 0.8:
        outcome = rng.choice([Outcome.HANDLED, Outcome.PRANK, Outcome.DUPLICATE])
        await service.complete(OPERATOR, ticket_id, outcome)


async def fill(pool: asyncpg.Pool, seed: int, count: int) -> None:
    rng = random.Random(seed)
    province = read_province()
    service = BackofficeService(PostgresBackofficeStore(pool))
    late = BackofficeService(PostgresBackofficeStore(pool), clock=lambda: NOW + timedelta(days=40))
    tickets: list[tuple[int, Line]] = []
    for n in range(count):
        line = Line.MEDICAL if rng.random() < 0.4 else Line.CITIZEN
        ticket_id = await new_ticket(pool, rng, n, line)
        tickets.append((ticket_id, line))
        try:
            if line is Line.MEDICAL:
                await medical_lifecycle(service, rng, ticket_id)
            else:
                await citizen_lifecycle(service, late, province, rng, ticket_id)
        except DomainError:
            pass  # a move the lifecycle refuses (e.g. no facility left to ask): as in life
    await queue_outcomes(pool, rng)
    for ticket_id, _ in rng.sample(tickets, count // 10):
        with contextlib.suppress(DomainError):
            await service.transfer(OPERATOR, ticket_id)
    for ticket_id, _ in rng.sample(tickets, count // 8):
        into, _ = rng.choice(tickets)
        with contextlib.suppress(DomainError):
            await service.merge(OPERATOR, ticket_id, into)
    await late.escalate_overdue()


def periods(rng: random.Random) -> list[tuple[date, date]]:
    today = NOW.astimezone(HOTLINE_TZ).date()
    first = today - timedelta(days=DAYS + 1)
    out = [(first, today + timedelta(days=1))]
    for _ in range(6):
        start = first + timedelta(days=rng.randrange(DAYS + 2))
        out.append((start, start + timedelta(days=rng.choice([0, 1, 2, 35, 50]))))
    return out


async def assert_same_reports(pool: asyncpg.Pool, rng: random.Random) -> None:
    rollups = PostgresReportRepository(pool)
    rows = PostgresReportRepository(pool, from_rows=True)
    for start, end in periods(rng):
        for lines in (LINES, (Line.CITIZEN,), (Line.MEDICAL,)):
            assert await rollups.report(start, end, lines) == await rows.report(start, end, lines)


@pytest.mark.parametrize("seed", [1, 2])
async def test_given_random_tickets_through_their_lifecycle_when_reported_then_rollups_equal_the_rows(
    pool: asyncpg.Pool, seed: int
) -> None:
    await fill(pool, seed, count=160)
    moved = await pool.fetchval(
        "SELECT count(*) FROM tickets WHERE status IN ('merged', 'transferred')"
    )
    reopened = await pool.fetchval("SELECT count(*) FROM ticket_events WHERE kind = 'reopen'")
    figures = await PostgresReportRepository(pool, from_rows=True).report(
        NOW.date() - timedelta(days=DAYS + 1), NOW.date() + timedelta(days=1), LINES
    )
    assert moved > 0
    assert reopened > 0
    assert figures.citizen is not None
    assert figures.citizen.escalated > 0
    assert figures.medical is not None
    assert figures.medical.mean_minutes_to_scene is not None
    rng = random.Random(seed)

    await assert_same_reports(pool, rng)  # changes not folded yet
    assert await PostgresReportRepository(pool).fold() > 0
    assert await pool.fetchval("SELECT count(*) FROM report_ticket_changes") == 0
    await assert_same_reports(pool, rng)
    await pool.execute("SELECT report_rollups_rebuild()")
    await assert_same_reports(pool, rng)
