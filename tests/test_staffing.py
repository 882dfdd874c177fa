"""Erlang C staffing from measured 15-minute intervals: the pure plan (checked against the closed
formula computed with exact fractions) and the report's staffing section over seeded
``queue_intervals`` rows — ``hotline report`` (Vietnamese and English, CSV), the JSON and the
HTML page.

Seed (2 March 2026, hotline time; default targets 1022: 80 % within 20 s, 115: 90 % within 15 s):

- hotline-1022 at 08:00: 40 calls, AHT 180 s ⇒ A = 8; at 09:00: 100 calls, AHT 180 s ⇒ A = 20
  ⇒ 24 operators (the peak); at 09:15 a row without arrivals; the day before and the day after
  far busier intervals that must stay out of the period;
- emergency-115 at 09:00: 15 calls, AHT 120 s ⇒ A = 2 ⇒ 5; at 09:15: 6 calls, none completed
  ⇒ the period's AHT (120 s) ⇒ A = 0.8 ⇒ 3; mean (5 + 3) / 2 = 4.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from db.pool import create_pool
from db.reports import PostgresReportRepository
from db.users import PostgresUserRepository
from hotline.auth import AuthService, TokenKind
from tests.support.service import RunningService
from tests.test_erlang import exact_level, insert_interval
from tests.test_reports import hotline, parse_table
from tickets.codes import HOTLINE_TZ
from tickets.erlang import StaffingTarget
from tickets.model import Line, Role
from tickets.reports import Lang, format_table, to_csv
from tickets.staffing import IntervalCounts, StaffingPolicy, plan_staffing

DAY = date(2026, 3, 2)
EIGHT = datetime(2026, 3, 2, 8, 0, tzinfo=HOTLINE_TZ)
NINE = datetime(2026, 3, 2, 9, 0, tzinfo=HOTLINE_TZ)
QUARTER = timedelta(minutes=15)
TARGETS = {Line.CITIZEN: StaffingTarget(0.8, 20), Line.MEDICAL: StaffingTarget(0.9, 15)}
POLICY = StaffingPolicy({"hotline-1022": Line.CITIZEN, "emergency-115": Line.MEDICAL}, TARGETS)
PASSWORD = "correct horse battery"


def fewest(intensity: Fraction, aht: int, level: float, within: int) -> int:
    """The fewest operators reaching ``level`` by the closed Erlang C formula."""
    start = int(intensity) + 1
    return next(
        n for n in range(start, start + 100) if exact_level(n, intensity, aht, within) >= level
    )


def counts(queue: str, start: datetime, received: int, completed: int, talk: int) -> IntervalCounts:
    return IntervalCounts(queue, start.astimezone(UTC), received, completed, talk)


# -- the plan (pure) --------------------------------------------------------------------------


def test_given_100_calls_in_15_minutes_with_aht_180s_when_planned_for_80_percent_in_20s_then_24_operators() -> (
    None
):
    plan = plan_staffing([counts("hotline-1022", NINE, 100, 100, 100 * 180)], POLICY)

    (interval,) = plan.intervals
    assert fewest(Fraction(20), 180, 0.8, 20) == 24  # by hand: SL(23) = 0.702, SL(24) = 0.809
    assert interval.intensity_erlangs == pytest.approx(20.0)
    assert interval.operators_needed == 24
    assert interval.service_level == pytest.approx(exact_level(24, Fraction(20), 180, 20))
    assert (interval.line, interval.aht_seconds, interval.aht_from) == (
        Line.CITIZEN,
        180.0,
        "interval",
    )
    assert interval.occupancy == pytest.approx(20 / 24)


def test_given_several_intervals_when_planned_then_each_queue_has_its_peak_where_it_falls_and_the_mean_over_intervals_with_calls() -> (
    None
):
    rows = [
        counts("hotline-1022", EIGHT, 40, 40, 40 * 180),
        counts("hotline-1022", NINE, 100, 100, 100 * 180),
        counts("emergency-115", NINE, 15, 15, 15 * 120),
        counts("hotline-1022", NINE + QUARTER, 0, 0, 0),
        counts("emergency-115", NINE + QUARTER, 6, 0, 0),
    ]

    plan = plan_staffing(rows, POLICY)

    queues = {q.queue: q for q in plan.queues}
    citizen, medical = queues["hotline-1022"], queues["emergency-115"]
    at_eight = fewest(Fraction(8), 180, 0.8, 20)
    assert (citizen.peak_operators_needed, citizen.peak_interval_start) == (24, NINE)
    assert citizen.mean_operators_needed == pytest.approx((at_eight + 24) / 2)
    assert (citizen.received, citizen.intervals_with_calls, citizen.target) == (
        140,
        2,
        TARGETS[Line.CITIZEN],
    )
    later = next(i for i in plan.intervals if i.queue == "emergency-115" and i.received == 6)
    assert (later.aht_seconds, later.aht_from) == (120.0, "period")
    assert later.operators_needed == fewest(Fraction(4, 5), 120, 0.9, 15) == 3
    assert (medical.line, medical.peak_operators_needed, medical.peak_interval_start) == (
        Line.MEDICAL,
        fewest(Fraction(2), 120, 0.9, 15),
        NINE,
    )
    assert medical.mean_operators_needed == pytest.approx(4.0)


def test_given_calls_but_no_handling_time_ever_measured_when_planned_then_the_need_is_unknown() -> (
    None
):
    plan = plan_staffing([counts("overflow", NINE, 12, 0, 0)], POLICY)

    ((interval,), (queue,)) = plan.intervals, plan.queues
    assert interval.operators_needed is None
    assert interval.line is Line.CITIZEN  # a queue not in the menu counts as 1022
    assert (queue.peak_interval_start, queue.mean_operators_needed) == (None, None)


# -- the report over seeded intervals -----------------------------------------------------------


async def seed(db: asyncpg.Connection) -> None:
    await insert_interval(db, "hotline-1022", EIGHT, 40, 40, 40 * 180)
    await insert_interval(db, "hotline-1022", NINE, 100, 100, 100 * 180)
    await insert_interval(db, "hotline-1022", NINE + QUARTER, 0, 0, 0)
    await insert_interval(db, "emergency-115", NINE, 15, 15, 15 * 120)
    await insert_interval(db, "emergency-115", NINE + QUARTER, 6, 0, 0)
    # Outside 2 March (local days): would be the peak if they counted.
    for outside in (EIGHT.replace(hour=0) - QUARTER, EIGHT.replace(hour=0) + timedelta(days=1)):
        await insert_interval(db, "hotline-1022", outside, 900, 900, 900 * 180)


async def test_given_seeded_intervals_when_the_report_is_built_then_it_shows_the_erlang_c_operators_per_line(
    db: asyncpg.Connection, database_url: str
) -> None:
    await seed(db)
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        report = await PostgresReportRepository(pool).report(
            DAY, DAY, (Line.CITIZEN, Line.MEDICAL), POLICY
        )
        medical_only = await PostgresReportRepository(pool).report(
            DAY, DAY, (Line.MEDICAL,), POLICY
        )
        without = await PostgresReportRepository(pool).report(DAY, DAY, (Line.CITIZEN,))
    finally:
        await pool.close()

    at_eight = fewest(Fraction(8), 180, 0.8, 20)
    vi = parse_table(format_table(report, Lang.VI))
    citizen_vi = "Số điện thoại viên cần theo Erlang C: đường dây 1022, hàng đợi hotline-1022"
    medical_vi = "Số điện thoại viên cần theo Erlang C: đường dây 115, hàng đợi emergency-115"
    assert vi[(citizen_vi, "Mục tiêu mức phục vụ")] == ("80 % trong 20 giây", None)
    queued_vi = "Cuộc gọi vào hàng đợi (kể cả cuộc gọi chuyển từ đường dây kia sang)"
    assert vi[(citizen_vi, queued_vi)] == ("140", None)
    assert vi[(citizen_vi, "Thời gian xử lý trung bình (giây)")] == ("180,0", None)
    assert vi[(citizen_vi, "Số khung 15 phút có cuộc gọi")] == ("2", None)
    assert vi[(citizen_vi, "Số điện thoại viên cần lúc cao điểm")] == ("24", None)
    assert vi[(citizen_vi, "Khung 15 phút cao điểm")] == ("02/03/2026 09:00–09:15", None)
    mean = f"{(at_eight + 24) / 2:.1f}".replace(".", ",")
    assert vi[(citizen_vi, "Trung bình mỗi khung có cuộc gọi")] == (mean, None)
    assert vi[(medical_vi, "Mục tiêu mức phục vụ")] == ("90 % trong 15 giây", None)
    assert vi[(medical_vi, "Số điện thoại viên cần lúc cao điểm")] == ("5", None)
    assert vi[(medical_vi, "Trung bình mỗi khung có cuộc gọi")] == ("4,0", None)

    en = parse_table(format_table(report, Lang.EN))
    citizen_en = "Operators needed by Erlang C: line 1022, queue hotline-1022"
    assert en[(citizen_en, "Service level target")] == ("80 % within 20 s", None)
    assert en[(citizen_en, "Operators needed at the peak")] == ("24", None)
    assert en[(citizen_en, "Peak 15-minute interval")] == ("2026-03-02 09:00–09:15", None)
    assert en[(citizen_en, "Mean per interval with calls")] == (f"{(at_eight + 24) / 2:.1f}", None)

    assert [q.queue for q in medical_only.staffing] == ["emergency-115"]
    assert without.staffing == ()
    assert not any(r.startswith("staffing") for r in to_csv(without).splitlines()[1:])


def staffing_csv(text: str) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (row["section"], row["key"]): row
        for row in csv.DictReader(io.StringIO(text))
        if row["section"].startswith("staffing_")
    }


async def test_given_seeded_intervals_when_hotline_report_runs_then_it_prints_and_exports_the_staffing_of_the_configured_targets(
    db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    await seed(db)
    out = tmp_path / "report.csv"

    result = hotline(
        "report",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-02",
        "--csv",
        str(out),
        url=database_url,
        data_dir=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    table = parse_table(result.stdout)
    section = "Số điện thoại viên cần theo Erlang C: đường dây 1022, hàng đợi hotline-1022"
    assert table[(section, "Số điện thoại viên cần lúc cao điểm")] == ("24", None)
    rows = staffing_csv(out.read_text(encoding="utf-8"))
    peak = rows[("staffing_1022_hotline-1022", "staffing_peak")]
    assert (peak["value"], peak["Chỉ tiêu"]) == ("24", "Số điện thoại viên cần lúc cao điểm")
    target = rows[("staffing_1022_hotline-1022", "staffing_target")]
    assert (target["value"], target["share"]) == ("20", "0.8000")
    at = rows[("staffing_1022_hotline-1022", "staffing_peak_at")]
    assert datetime.fromisoformat(at["value"]) == NINE
    assert rows[("staffing_115_emergency-115", "staffing_mean")]["value"] == "4.00"

    # 1022 at 90 % within 15 s from the environment: A = 20 needs more operators.
    stricter = hotline(
        "report",
        "--from",
        "2026-03-02",
        "--to",
        "2026-03-02",
        "--line",
        "1022",
        "--lang",
        "en",
        url=database_url,
        data_dir=tmp_path,
        env={"HOTLINE_STAFFING_TARGET_1022": "0.9", "HOTLINE_STAFFING_SECONDS_1022": "15"},
    )

    assert stricter.returncode == 0, stricter.stderr
    section = "Operators needed by Erlang C: line 1022, queue hotline-1022"
    table = parse_table(stricter.stdout)
    assert table[(section, "Service level target")] == ("90 % within 15 s", None)
    needed = fewest(Fraction(20), 180, 0.9, 15)
    assert needed > 24
    assert table[(section, "Operators needed at the peak")] == (str(needed), None)
    assert "115" not in stricter.stdout.split("Operators needed by Erlang C", 1)[1]


@pytest.fixture
async def supervisor(
    service: RunningService,
) -> AsyncIterator[tuple[aiohttp.ClientSession, dict[str, str]]]:
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    await auth.add_user("sup_s", PASSWORD, Role.SUPERVISOR)
    async with aiohttp.ClientSession(base_url=service.http_url) as session:
        login = {"username": "sup_s", "password": PASSWORD}
        async with session.post("/api/v1/auth/login", json=login) as response:
            token = (await response.json())["token"]
        # the API reads the bearer token, the reports page (a console page) the session cookie
        browser = (await auth.login("sup_s", PASSWORD, TokenKind.SESSION)).token
        yield session, {"Authorization": f"Bearer {token}", "Cookie": f"hotline_session={browser}"}


async def test_given_seeded_intervals_when_a_supervisor_opens_the_report_page_and_json_then_they_show_the_staffing(
    supervisor: tuple[aiohttp.ClientSession, dict[str, str]], db: asyncpg.Connection
) -> None:
    await seed(db)
    http, headers = supervisor

    async with http.get("/reports?from=2026-03-02&to=2026-03-02", headers=headers) as response:
        assert response.status == 200
        page = await response.text()
    async with http.get(
        "/api/v1/reports?from=2026-03-02&to=2026-03-02", headers=headers
    ) as response:
        assert response.status == 200
        body = await response.json()

    assert "Số điện thoại viên cần theo Erlang C: đường dây 115, hàng đợi emergency-115" in page
    assert (
        '<tr data-key="staffing_1022_hotline-1022.staffing_target"><td>Mục tiêu mức phục vụ</td>'
        '<td class="n">80 % trong 20 giây</td><td class="n"></td></tr>'
    ) in page
    assert (
        '<tr data-key="staffing_1022_hotline-1022.staffing_peak">'
        '<td>Số điện thoại viên cần lúc cao điểm</td><td class="n">24</td>'
    ) in page
    values = {(r["section"], r["key"]): r["value"] for r in body["rows"]}
    assert values[("staffing_1022_hotline-1022", "staffing_peak")] == 24
    assert values[("staffing_115_emergency-115", "staffing_peak")] == 5
    staffing = {q["queue"]: q for q in body["staffing"]}
    assert staffing["hotline-1022"]["peak_operators_needed"] == 24
    assert datetime.fromisoformat(staffing["hotline-1022"]["peak_interval_start"]) == NINE
    assert (staffing["emergency-115"]["target"], staffing["emergency-115"]["seconds"]) == (0.9, 15)
    assert staffing["emergency-115"]["mean_operators_needed"] == 4.0
