"""Reports over the replayable 7-month scenario: the seed province's figures come out of the
report queries (``hotline report``, CSV, JSON, the HTML page); exact call KPIs, 115 figures and
period boundaries on hand-made rows.

On 115 the seed reads "2,785 requests sent to the nearest hospital or health centre, 1,482
handled successfully (46.7 %)" and the success rate is successful / all 115 requests: every call
leaves a ticket, so the province received 3,173 requests (1,482 / 3,173 = 46.7 %), of which 2,785
were sent to a facility."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from db.pool import create_pool
from db.reports import PostgresReportRepository
from db.users import PostgresUserRepository
from hotline.auth import AuthService
from tests.support.service import running_service, service_settings
from tests.test_cli import base_env
from tickets.agencies import load_province
from tickets.codes import HOTLINE_TZ
from tickets.dispatch import Outcome
from tickets.model import Category, Line, Role
from tickets.reports import Lang, format_table
from tickets.scenario import END, START, generate

PASSWORD = "correct horse battery"
Table = dict[tuple[str, str], tuple[str, str | None]]


def hotline(
    *args: str, url: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env={**base_env(data_dir, url), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


_ROW = re.compile(r"^ {2,}(?P<label>\S.*?) {2,}(?P<value>\S.*?)(?: +(?P<share>[\d.,]+ %))?$")


def parse_table(text: str) -> Table:
    """``(section title, label) → (value, share)`` from the printed table: titles start at the
    margin, figures are indented (a value may be text, e.g. ``90 % trong 15 giây``)."""
    table: Table = {}
    section = ""
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            table[(section, match["label"])] = (match["value"], match["share"])
        elif line.strip():
            section = line.strip()
    return table


def period_args() -> list[str]:
    return ["--from", START.isoformat(), "--to", END.isoformat()]


def number(text: str) -> int:
    return int(text.replace(",", "").replace(".", ""))


SENT_EN = "Sent to the nearest hospital or health centre"


def test_given_the_seven_month_scenario_when_the_report_is_printed_in_english_then_it_shows_the_seed_figures(
    scenario_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "report.csv"
    result = hotline(
        "report",
        *period_args(),
        "--lang",
        "en",
        "--csv",
        str(out),
        url=scenario_url,
        data_dir=tmp_path,
    )

    assert result.returncode == 0, result.stderr
    table = parse_table(result.stdout)
    assert "From 2019-11-15 to 2020-06-14" in result.stdout
    assert table[("Line 1022", "Requests")] == ("3,057", None)
    assert table[("Line 1022", "Administrative procedures")][0] == "479"
    assert table[("Line 1022", "Field reports")][0] == "1,025"
    assert table[("Line 1022", "Information and feedback")][0] == "1,553"
    assert table[("Line 1022", "Forwarded to agencies")][0] == "1,025"
    assert table[("Line 1022", "Agencies involved")] == ("47", None)
    assert table[("Line 1022", "Responses rated satisfactory")] == ("789", "77.0 %")
    assert table[("Line 115", "Requests")] == ("3,173", None)
    assert table[("Line 115", SENT_EN)] == ("2,785", "87.8 %")
    assert table[("Line 115", "Not sent to any facility")] == ("388", "12.2 %")
    assert table[("Line 115", "Handled successfully")] == ("1,482", "46.7 %")
    assert table[("Line 115", "Handled successfully, of those sent to a facility")] == (
        "1,482",
        "53.2 %",
    )
    sent = {k[1]: number(v[0]) for k, v in table.items() if k[0].startswith("Line 115: sent")}
    not_sent = {k[1]: number(v[0]) for k, v in table.items() if k[0].startswith("Line 115: not")}
    assert sent["Treated on scene"] + sent["Transported"] == 1482
    assert sum(sent.values()) == 2785
    assert sum(not_sent.values()) == 388
    assert not_sent.get("Treated on scene", 0) == not_sent.get("Transported", 0) == 0
    for line in ("1022", "115"):
        queued = int(table[(f"Calls {line}", "Calls queued")][0].replace(",", ""))
        within_15 = int(table[(f"Calls {line}", "Answered within 15 s")][0].replace(",", ""))
        within_20 = int(table[(f"Calls {line}", "Answered within 20 s")][0].replace(",", ""))
        abandoned = int(table[(f"Calls {line}", "Abandoned in queue")][0].replace(",", ""))
        assert 0 < within_15 <= within_20 < queued
        assert abandoned > 0

    with out.open(encoding="utf-8") as handle:
        exported = {(r["section"], r["key"]): r for r in csv.DictReader(handle)}
    assert exported[("1022", "requests")]["value"] == "3057"
    assert exported[("1022", "agencies")]["value"] == "47"
    assert exported[("1022", "satisfied")]["share"] == "0.7698"
    assert exported[("115", "requests")]["value"] == "3173"
    assert exported[("115", "sent")]["value"] == "2785"
    assert exported[("115", "successful")]["value"] == "1482"
    assert exported[("115", "successful")]["share"] == "0.4671"
    assert sum(int(r["value"]) for (s, _), r in exported.items() if s == "115_sent") == 2785
    assert sum(int(r["value"]) for (s, _), r in exported.items() if s == "115_not_sent") == 388
    by_month = {s: r for (s, k), r in exported.items() if k == "field_report" and s[:6] == "month_"}
    assert len(by_month) == 8  # the months' rows follow the figures
    assert sum(int(r["value"]) for r in by_month.values()) == 1025
    agencies = {s for s, _ in exported if s.startswith("agency_")}
    assert len(agencies) == 47
    assert sum(int(exported[(a, "satisfied")]["value"]) for a in agencies) == 789
    assert exported[("calls_1022", "within_20s")]["value"] == table[
        ("Calls 1022", "Answered within 20 s")
    ][0].replace(",", "")


def test_given_the_scenario_when_the_report_is_printed_in_vietnamese_for_115_only_then_labels_and_numbers_are_vietnamese(
    scenario_url: str, tmp_path: Path
) -> None:
    result = hotline("report", *period_args(), "--line", "115", url=scenario_url, data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    table = parse_table(result.stdout)
    assert "Từ ngày 15/11/2019 đến ngày 14/06/2020" in result.stdout
    assert table[("Đường dây 115", "Số yêu cầu")] == ("3.173", None)
    assert table[("Đường dây 115", "Chuyển đến bệnh viện, trung tâm y tế gần nhất")] == (
        "2.785",
        "87,8 %",
    )
    assert table[("Đường dây 115", "Xử lý thành công")] == ("1.482", "46,7 %")
    assert table[("Đường dây 115: đã chuyển cơ sở y tế, theo kết quả", "Chuyển viện")][0] == "884"
    assert "Đường dây 1022" not in result.stdout
    assert "Cuộc gọi 1022" not in result.stdout


def test_given_a_period_ending_before_it_starts_when_the_report_runs_then_it_refuses(
    scenario_url: str, tmp_path: Path
) -> None:
    result = hotline(
        "report", "--from", "2020-02-01", "--to", "2020-01-01", url=scenario_url, data_dir=tmp_path
    )

    assert result.returncode == 2
    assert "before" in result.stderr


async def test_given_the_scenario_when_reported_month_by_month_then_the_months_add_up_to_the_whole_period(
    scenario_url: str,
) -> None:
    pool = await create_pool(scenario_url, min_size=1, max_size=2)
    try:
        repository = PostgresReportRepository(pool)
        lines = (Line.CITIZEN, Line.MEDICAL)
        whole = await repository.report(START, END, lines)
        months = []
        start = START
        while start <= END:
            following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
            end = min(following - timedelta(days=1), END)
            months.append(await repository.report(start, end, lines))
            start = following
    finally:
        await pool.close()

    assert len(months) == 8  # 15 Nov … 14 Jun touches eight calendar months
    assert whole.citizen is not None
    assert whole.medical is not None
    assert sum(m.citizen.requests for m in months if m.citizen) == whole.citizen.requests == 3057
    assert sum(m.citizen.satisfied for m in months if m.citizen) == whole.citizen.satisfied
    assert sum(m.medical.successful for m in months if m.medical) == whole.medical.successful
    assert sum(m.medical.requests for m in months if m.medical) == whole.medical.requests == 3173
    assert sum(m.medical.sent for m in months if m.medical) == whole.medical.sent == 2785
    assert whole.medical.successful == 1482
    assert whole.medical.success_rate == pytest.approx(1482 / 3173)
    assert sum(m.calls[Line.CITIZEN].queued for m in months) == whole.calls[Line.CITIZEN].queued
    # the series of the whole report are the months reported one by one
    assert [m.month for m in whole.months] == [m.start.replace(day=1) for m in months]
    for series, month in zip(whole.months, months, strict=True):
        assert month.citizen is not None
        assert month.medical is not None
        assert {c: series.requests.get(c, 0) for c in month.citizen.by_category} == (
            month.citizen.by_category
        )
        assert series.requests.get(Category.MEDICAL, 0) == month.medical.requests
        assert series.calls == month.calls


async def test_given_the_scenario_when_reported_then_every_agency_has_its_satisfaction_and_115_both_success_rates(
    scenario_url: str,
) -> None:
    pool = await create_pool(scenario_url, min_size=1, max_size=2)
    try:
        report = await PostgresReportRepository(pool).report(
            START, END, (Line.CITIZEN, Line.MEDICAL)
        )
    finally:
        await pool.close()

    assert report.citizen is not None
    assert report.medical is not None
    assert len(report.agencies) == report.citizen.agencies == 47
    assert sum(a.forwarded for a in report.agencies) == report.citizen.forwarded == 1025
    assert sum(a.responded for a in report.agencies) == report.citizen.responded
    assert sum(a.satisfied for a in report.agencies) == report.citizen.satisfied == 789
    rates = [a.satisfied_rate for a in report.agencies if a.satisfied_rate is not None]
    assert min(rates) < 0.77 < max(rates)
    assert report.medical.success_rate == pytest.approx(1482 / 3173)  # 46.7 % of all calls
    assert report.medical.success_rate_of_sent == pytest.approx(1482 / 2785)  # 53.2 % of sent


async def test_given_calls_with_known_waits_when_reported_then_service_level_and_abandoned_are_exact(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Waits 5, 15, 15.1, 20, 21 s answered, one abandoned; a call at 23:59 local on 31 Jan
    belongs to January, one at 00:01 local on 1 Feb does not."""

    def local(day: date, hh: int, mm: int) -> datetime:
        return datetime(day.year, day.month, day.day, hh, mm, tzinfo=HOTLINE_TZ).astimezone(UTC)

    ticket = await db.fetchval(
        "INSERT INTO tickets (code, line, category, caller_raw, created_at)"
        " VALUES ('1022-20-900001', '1022', 'information', '0901234567', $1) RETURNING id",
        local(date(2020, 1, 10), 9, 0),
    )
    calls = [
        (local(date(2020, 1, 10), 9, 0), 5.0, False),
        (local(date(2020, 1, 10), 9, 5), 15.0, False),
        (local(date(2020, 1, 10), 9, 10), 15.1, False),
        (local(date(2020, 1, 10), 9, 15), 20.0, False),
        (local(date(2020, 1, 10), 9, 20), 21.0, False),
        (local(date(2020, 1, 31), 23, 59), 40.0, True),
        (local(date(2020, 2, 1), 0, 1), 3.0, False),
    ]
    for n, (joined, wait, abandoned) in enumerate(calls):
        ended = joined + timedelta(seconds=wait)
        await db.execute(
            "INSERT INTO calls (uniqueid, linkedid, line, channel, caller_raw, started_at, disposition,"
            " version, ticket_id, queue_joined_at, answered_at, abandoned_at, queue_wait_seconds)"
            " VALUES ($1, $1, '1022', 'PJSIP/x', '0901234567', $2, 'queued', 1, $3, $2, $4, $5, $6)",
            f"kpi.{n}",
            joined,
            ticket,
            None if abandoned else ended,
            ended if abandoned else None,
            wait,
        )
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        report = await PostgresReportRepository(pool).report(
            date(2020, 1, 1), date(2020, 1, 31), (Line.CITIZEN,)
        )
    finally:
        await pool.close()

    figures = report.calls[Line.CITIZEN]
    assert (
        figures.queued,
        figures.answered,
        figures.within_15s,
        figures.within_20s,
        figures.abandoned,
    ) == (6, 5, 2, 4, 1)
    assert report.citizen is not None
    assert report.citizen.by_category[Category.INFORMATION] == 1
    assert report.citizen.requests == 1
    assert report.medical is None


async def test_given_115_tickets_sent_and_not_sent_when_reported_then_the_success_rate_is_over_all_requests(
    db: asyncpg.Connection, database_url: str
) -> None:
    """Seven 115 requests: four sent to a facility (transported, treated on scene, no vehicle,
    still under way) and three not sent (prank, cancelled, a wrong number closed without an
    outcome code); a merged duplicate is not a request. Success rate: 2 / 7."""
    created = datetime(2020, 3, 2, 10, 0, tzinfo=HOTLINE_TZ).astimezone(UTC)
    tickets = [
        (True, "transported"),
        (True, "handled"),
        (True, "no_vehicle"),
        (True, None),
        (False, "prank"),
        (False, "cancelled"),
        (False, None),
    ]
    for n, (sent, outcome) in enumerate(tickets, start=1):
        await db.execute(
            "INSERT INTO tickets (code, line, category, caller_raw, created_at, dispatched_at,"
            " outcome) VALUES ($1, '115', 'medical', '0901234567', $2, $3, $4)",
            f"115-20-90000{n}",
            created,
            created + timedelta(minutes=2) if sent else None,
            outcome,
        )
    await db.execute(
        "INSERT INTO tickets (code, line, category, caller_raw, created_at, outcome, merged_into)"
        " VALUES ('115-20-900009', '115', 'medical', '0901234567', $1, 'duplicate',"
        " (SELECT id FROM tickets WHERE code = '115-20-900001'))",
        created,
    )
    pool = await create_pool(database_url, min_size=1, max_size=2)
    try:
        report = await PostgresReportRepository(pool).report(
            date(2020, 3, 1), date(2020, 3, 31), (Line.MEDICAL,)
        )
    finally:
        await pool.close()

    medical = report.medical
    assert medical is not None
    assert (medical.requests, medical.sent, medical.not_sent, medical.successful) == (7, 4, 3, 2)
    assert medical.sent_by_outcome == {
        Outcome.TRANSPORTED: 1,
        Outcome.HANDLED: 1,
        Outcome.NO_VEHICLE: 1,
        None: 1,
    }
    assert medical.not_sent_by_outcome == {Outcome.PRANK: 1, Outcome.CANCELLED: 1, None: 1}
    table = parse_table(format_table(report, Lang.EN))
    assert table[("Line 115", "Requests")] == ("7", None)
    assert table[("Line 115", SENT_EN)] == ("4", "57.1 %")
    assert table[("Line 115", "Handled successfully")] == ("2", "28.6 %")
    assert table[("Line 115: not sent to any facility, by outcome", "No outcome code")] == (
        "1",
        "14.3 %",
    )
    assert report.citizen is None


def test_given_a_seed_when_the_scenario_is_generated_twice_then_it_is_identical_and_another_seed_differs_but_keeps_the_mix() -> (
    None
):
    province = load_province()

    first, again, other = generate(province, 7), generate(province, 7), generate(province, 8)

    assert first == again
    assert [t.created_at for t in first.tickets] != [t.created_at for t in other.tickets]
    for scenario in (first, other):
        assert len(scenario.tickets) == 3057 + 3173
        assert len({t.agency_code for t in scenario.tickets if t.forwarded_at}) == 47
        medical = [t for t in scenario.tickets if t.line is Line.MEDICAL]
        asked = {d.ticket_key for d in scenario.dispatches}
        sent = [t for t in medical if t.dispatched_at is not None]
        assert len(medical) == 3173
        assert len(sent) == 2785
        assert {t.key for t in sent} == asked & {t.key for t in medical}
        assert sum(t.outcome in ("handled", "transported") for t in medical) == 1482
        assert not any(t.on_scene_at or t.facility_code for t in medical if not t.dispatched_at)
        assert all(t.status.value == "closed" for t in medical)


@pytest.fixture
async def report_http(scenario_url: str, tmp_path: Path) -> AsyncIterator[aiohttp.ClientSession]:
    async with running_service(service_settings(scenario_url, tmp_path)) as service:
        auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
        for name, role in (("sup_r", Role.SUPERVISOR), ("op_r", Role.OPERATOR)):
            if await PostgresUserRepository(service.pool).credentials(name) is None:
                await auth.add_user(name, PASSWORD, role)
        async with aiohttp.ClientSession(base_url=service.http_url) as session:
            yield session


async def bearer(http: aiohttp.ClientSession, username: str) -> dict[str, str]:
    async with http.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    ) as r:
        assert r.status == 200
        return {"Authorization": f"Bearer {(await r.json())['token']}"}


async def test_given_the_scenario_when_a_supervisor_asks_for_the_json_then_it_has_the_seed_figures(
    report_http: aiohttp.ClientSession,
) -> None:
    headers = await bearer(report_http, "sup_r")
    async with report_http.get(
        "/api/v1/reports", params={"from": "15/11/2019", "to": END.isoformat()}, headers=headers
    ) as response:
        assert response.status == 200
        body = await response.json()

    values = {(r["section"], r["key"]): r["value"] for r in body["rows"]}
    shares = {(r["section"], r["key"]): r["share"] for r in body["rows"]}
    assert body["from"] == START.isoformat()  # the Vietnamese way of writing a day is read
    assert values[("1022", "requests")] == 3057
    assert values[("1022", "agencies")] == 47
    assert values[("115", "requests")] == 3173
    assert values[("115", "sent")] == 2785
    assert values[("115", "successful")] == 1482
    assert shares[("115", "successful")] == 0.4671
    assert shares[("115", "successful_of_sent")] == 0.5321
    assert values[("115_sent", "handled")] + values[("115_sent", "transported")] == 1482
    assert [m["month"] for m in body["months"]][0::7] == ["2019-11", "2020-06"]
    assert len(body["agencies"]) == 47


async def test_given_an_operator_or_no_token_when_the_reports_are_requested_then_they_are_refused(
    report_http: aiohttp.ClientSession,
) -> None:
    query = f"from={START}&to={END}"
    operator = await bearer(report_http, "op_r")
    supervisor = await bearer(report_http, "sup_r")

    async with report_http.get(f"/api/v1/reports?{query}", headers=operator) as response:
        assert response.status == 403
    async with report_http.get(f"/api/v1/reports?{query}") as response:
        assert response.status == 401
        assert (await response.json())["error_id"] == "unauthenticated"
    async with report_http.get(
        "/api/v1/reports?from=2020-13-01&to=2020-01-01", headers=supervisor
    ) as response:
        assert response.status == 400
        assert (await response.json())["error_id"] == "invalid-request"
