"""Erlang C against textbook figures and against the closed formula computed here with exact
fractions (factorials are fine for small N in a test; the module itself never uses them)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import aiohttp
import asyncpg
import pytest

from db.users import PostgresUserRepository
from hotline.auth import AuthService
from tests.support.service import RunningService
from tickets.codes import HOTLINE_TZ
from tickets.erlang import (
    agents_needed,
    average_speed_of_answer,
    erlang_b,
    occupancy,
    probability_of_waiting,
    service_level,
    traffic_intensity,
)
from tickets.model import Role


def exact_wait(agents: int, intensity: Fraction) -> Fraction:
    """P(wait) = [A^N/N! · N/(N−A)] / [Σ_{k<N} A^k/k! + A^N/N! · N/(N−A)]."""
    top = intensity**agents / math.factorial(agents) * Fraction(agents) / (agents - intensity)
    below = sum(intensity**k / math.factorial(k) for k in range(agents))
    return top / (below + top)


def exact_level(agents: int, intensity: Fraction, aht: int, within: int) -> float:
    wait = float(exact_wait(agents, intensity))
    return 1 - wait * math.exp(-float(agents - intensity) * within / aht)


def test_given_the_textbook_example_when_computed_then_p_wait_sl_asa_and_occupancy_match() -> None:
    # 100 calls in 30 minutes, AHT 180 s, 14 agents (the R package ErlangC's example)
    intensity = traffic_intensity(100, 1800, 180)

    assert intensity == pytest.approx(10.0)
    assert probability_of_waiting(14, intensity) == pytest.approx(0.1741, abs=5e-4)
    assert service_level(14, intensity, 180, 20) == pytest.approx(0.888, abs=5e-4)
    assert average_speed_of_answer(14, intensity, 180) == pytest.approx(7.8, abs=0.05)
    assert occupancy(14, intensity) == pytest.approx(0.714, abs=5e-4)


@pytest.mark.parametrize(
    ("agents", "intensity", "aht", "within"),
    [
        (14, Fraction(10), 180, 20),
        (4, Fraction(2), 120, 15),
        (5, Fraction(2), 120, 15),
        (24, Fraction(20), 240, 20),
        (25, Fraction(20), 240, 20),
        (3, Fraction(5, 2), 300, 30),
        (1, Fraction(1, 2), 60, 10),
    ],
)
def test_given_small_n_when_computed_then_it_equals_the_closed_formula(
    agents: int, intensity: Fraction, aht: int, within: int
) -> None:
    a = float(intensity)

    assert probability_of_waiting(agents, a) == pytest.approx(
        float(exact_wait(agents, intensity)), rel=1e-12
    )
    assert service_level(agents, a, aht, within) == pytest.approx(
        exact_level(agents, intensity, aht, within), rel=1e-12
    )
    assert average_speed_of_answer(agents, a, aht) == pytest.approx(
        float(exact_wait(agents, intensity)) * aht / float(agents - intensity), rel=1e-12
    )


def test_given_the_115_example_when_agents_needed_for_90_within_15_then_five() -> None:
    # 60 calls an hour, AHT 120 s: A = 2; 4 agents reach 86.5 %, 5 reach 95.9 %
    intensity = traffic_intensity(60, 3600, 120)

    answer = agents_needed(intensity, 120, 0.9, 15)

    assert service_level(4, intensity, 120, 15) == pytest.approx(
        exact_level(4, Fraction(2), 120, 15)
    )
    assert service_level(4, intensity, 120, 15) < 0.9
    assert answer.agents == 5
    assert answer.service_level == pytest.approx(exact_level(5, Fraction(2), 120, 15))
    assert answer.service_level == pytest.approx(0.959, abs=5e-4)
    assert answer.occupancy == pytest.approx(0.4)


def test_given_the_1022_example_when_agents_needed_for_80_within_20_then_25() -> None:
    # 300 calls an hour, AHT 240 s: A = 20; 24 agents reach 78.6 % (ASA 17.9 s), 25 reach 86.2 %
    intensity = traffic_intensity(300, 3600, 240)

    answer = agents_needed(intensity, 240, 0.8, 20)

    assert service_level(24, intensity, 240, 20) == pytest.approx(0.786, abs=5e-4)
    assert average_speed_of_answer(24, intensity, 240) == pytest.approx(17.9, abs=0.05)
    assert answer.agents == 25
    assert answer.service_level == pytest.approx(0.862, abs=5e-4)
    assert answer.asa_seconds == pytest.approx(10.0, abs=0.05)
    assert answer.occupancy == pytest.approx(0.8)
    brute = next(n for n in range(21, 60) if service_level(n, intensity, 240, 20) >= 0.8)
    assert brute == answer.agents


@pytest.mark.parametrize(("agents", "intensity"), [(10, 10.0), (10, 12.5), (0, 3.0), (1, 1.0)])
def test_given_intensity_at_or_above_agents_when_computed_then_unstable_without_division_by_zero(
    agents: int, intensity: float
) -> None:
    assert probability_of_waiting(agents, intensity) == 1.0
    assert service_level(agents, intensity, 180, 20) == 0.0
    assert average_speed_of_answer(agents, intensity, 180) == math.inf
    assert occupancy(agents, intensity) == 1.0


def test_given_no_traffic_when_computed_then_nobody_waits_and_nobody_is_needed() -> None:
    assert probability_of_waiting(3, 0.0) == 0.0
    assert service_level(3, 0.0, 180, 20) == 1.0
    assert average_speed_of_answer(3, 0.0, 180) == 0.0
    assert occupancy(0, 0.0) == 0.0
    assert agents_needed(0.0, 0.0, 0.9, 15).agents == 0


def test_given_thousands_of_agents_when_computed_then_finite_and_consistent() -> None:
    intensity = 5000.0

    answer = agents_needed(intensity, 180, 0.8, 20)
    b = erlang_b(answer.agents, intensity)

    assert 0 < b < 1
    assert answer.agents > intensity
    assert answer.service_level >= 0.8
    assert service_level(answer.agents - 1, intensity, 180, 20) < 0.8
    assert math.isfinite(answer.asa_seconds)
    assert 0.99 < answer.occupancy < 1


@pytest.mark.parametrize(
    "call",
    [
        lambda: agents_needed(2.0, 120, 1.0, 15),
        lambda: agents_needed(2.0, 120, 0.0, 15),
        lambda: agents_needed(2.0, 0, 0.9, 15),
        lambda: agents_needed(-1.0, 120, 0.9, 15),
        lambda: agents_needed(math.inf, 120, 0.9, 15),
        lambda: traffic_intensity(10, 0, 120),
        lambda: probability_of_waiting(-1, 2.0),
    ],
)
def test_given_meaningless_input_when_computed_then_value_error(call: object) -> None:
    assert callable(call)
    with pytest.raises(ValueError):
        call()


# -- GET /api/v1/stats/staffing ---------------------------------------------------------------

STAFF_PASSWORD = "correct horse battery"
STAFF_USERS = {
    "op1": (Role.OPERATOR, None),
    "sup1": (Role.SUPERVISOR, None),
    "admin1": (Role.ADMIN, None),
    "ward7": (Role.AGENCY, "WARD-7"),
}
NINE = datetime(2026, 3, 2, 9, 0, tzinfo=HOTLINE_TZ)
STAFFING = "/api/v1/stats/staffing?from=2026-03-02T08:00:00%2B07:00&to=2026-03-02T12:00:00%2B07:00"


@pytest.fixture
async def staff_http(service: RunningService) -> AsyncIterator[aiohttp.ClientSession]:
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    for name, (role, agency) in STAFF_USERS.items():
        await auth.add_user(name, STAFF_PASSWORD, role, agency)
    async with aiohttp.ClientSession(base_url=service.http_url) as session:
        yield session


async def staff_get(http: aiohttp.ClientSession, path: str, who: str | None) -> tuple[int, Any]:
    headers = {}
    if who:
        login = {"username": who, "password": STAFF_PASSWORD}
        async with http.post("/api/v1/auth/login", json=login) as r:
            headers = {"Authorization": f"Bearer {(await r.json())['token']}"}
    async with http.get(path, headers=headers) as response:
        return response.status, await response.json()


async def insert_interval(
    db: asyncpg.Connection, queue: str, start: datetime, received: int, completed: int, talk: int
) -> None:
    await db.execute(
        "INSERT INTO queue_intervals (queue, interval_start, received, answered, abandoned,"
        " answered_within_1, answered_within_2, sl1_seconds, sl2_seconds, hold_seconds_sum,"
        " talk_seconds_sum, completed, longest_wait)"
        " VALUES ($1, $2, $3, $4, 0, $4, $4, 15, 20, 0, $5, $4, 0)",
        queue,
        start,
        received,
        completed,
        talk,
    )


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("op1", 403), ("ward7", 403), ("sup1", 200), ("admin1", 200)]
)
async def test_given_each_role_when_it_asks_for_staffing_then_only_supervisor_and_admin_may(
    staff_http: aiohttp.ClientSession, who: str | None, status: int
) -> None:
    code, body = await staff_get(staff_http, STAFFING, who)

    assert code == status
    if status != 200:
        assert body["error_id"] in {"unauthenticated", "forbidden"}


async def test_given_measured_intervals_when_staffing_is_asked_then_erlang_c_per_line_target(
    staff_http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    # 1022 at 9:00: 75 calls in 15 min (300/h), AHT 240 s ⇒ A = 20 ⇒ 25 for 80 % within 20 s
    await insert_interval(db, "hotline-1022", NINE, 75, 75, 75 * 240)
    # 115 at 9:00: 15 calls (60/h), AHT 120 s ⇒ A = 2 ⇒ 5 for 90 % within 15 s
    await insert_interval(db, "emergency-115", NINE, 15, 15, 15 * 120)
    # 115 at 9:15: 6 calls, none completed yet ⇒ the period's AHT (120 s) ⇒ A = 0.8
    await insert_interval(db, "emergency-115", NINE + timedelta(minutes=15), 6, 0, 0)

    status, body = await staff_get(staff_http, STAFFING, "sup1")

    assert status == 200, body
    assert body["targets"] == {
        "1022": {"target": 0.8, "seconds": 20},
        "115": {"target": 0.9, "seconds": 15},
    }
    rows = {(r["queue"], r["interval_start"]): r for r in body["intervals"]}
    citizen = rows[("hotline-1022", NINE.astimezone(UTC).isoformat())]
    assert citizen["intensity_erlangs"] == pytest.approx(20.0)
    assert citizen["operators_needed"] == 25
    assert citizen["service_level"] == pytest.approx(0.8622, abs=1e-4)
    medical = rows[("emergency-115", NINE.astimezone(UTC).isoformat())]
    assert (medical["line"], medical["operators_needed"], medical["aht_from"]) == (
        "115",
        5,
        "interval",
    )
    assert medical["service_level"] == pytest.approx(exact_level(5, Fraction(2), 120, 15), abs=1e-4)
    later = rows[("emergency-115", (NINE + timedelta(minutes=15)).astimezone(UTC).isoformat())]
    assert (later["aht_seconds"], later["aht_from"]) == (120.0, "period")
    expected = next(n for n in range(1, 20) if exact_level(n, Fraction(4, 5), 120, 15) >= 0.9)
    assert later["operators_needed"] == expected
    assert body["queues"]["emergency-115"]["peak_operators_needed"] == 5
    assert body["queues"]["emergency-115"]["received"] == 21
    assert body["queues"]["hotline-1022"]["peak_operators_needed"] == 25


async def test_given_a_target_in_the_query_when_staffing_is_asked_then_it_applies_to_every_line(
    staff_http: aiohttp.ClientSession, db: asyncpg.Connection
) -> None:
    await insert_interval(db, "emergency-115", NINE, 15, 15, 15 * 120)

    status, body = await staff_get(staff_http, STAFFING + "&target=80&seconds=20", "admin1")

    assert status == 200, body
    assert body["targets"]["115"] == {"target": 0.8, "seconds": 20}
    (row,) = body["intervals"]
    expected = next(n for n in range(3, 20) if exact_level(n, Fraction(2), 120, 20) >= 0.8)
    assert row["operators_needed"] == expected


@pytest.mark.parametrize(
    "query", ["&target=0", "&target=100", "&target=x", "&seconds=0", "&seconds=1.5"]
)
async def test_given_a_bad_target_when_staffing_is_asked_then_400(
    staff_http: aiohttp.ClientSession, query: str
) -> None:
    status, body = await staff_get(staff_http, STAFFING + query, "sup1")

    assert (status, body["error_id"]) == (400, "invalid-request")
