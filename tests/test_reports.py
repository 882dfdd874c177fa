"""Reports over a week of the seed province replayed through the real system (``hotline
replay``, once per session: ``tests.support.replay``): the figures ``hotline report``, its CSV,
the JSON and the repository give are the figures the replay planned for that week; exact call
KPIs, 115 figures and period boundaries on hand-made rows. The seed's seven-month figures are
the plan's (``tests/test_replay.py``).

On 115 the seed reads "2,785 requests sent to the nearest hospital or health centre, 1,482
handled successfully (46.7 %)" and the success rate is successful / all 115 requests: every call
leaves a ticket, so the province received 3,173 requests (1,482 / 3,173 = 46.7 %), of which 2,785
were sent to a facility; the other reading (1,482 / 2,785 = 53.2 %) is printed too."""

from __future__ import annotations

import csv
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import aiohttp
import asyncpg

from db.pool import create_pool
from db.reports import PostgresReportRepository
from db.users import PostgresUserRepository
from hotline.auth import AuthService
from tests.support.replay import ReplayedWeek
from tests.support.service import running_service, service_settings
from tests.test_cli import base_env
from tickets.codes import HOTLINE_TZ
from tickets.dispatch import Outcome
from tickets.model import Category, Line, Role
from tickets.reports import NO_OUTCOME, Lang, format_table

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


def period_args(week: ReplayedWeek) -> list[str]:
    return ["--from", week.start.isoformat(), "--to", week.end.isoformat()]


def number(text: str) -> int:
    return int(text.replace(",", "").replace(".", ""))


def percent(part: int, whole: int, lang: Lang) -> str:
    """A share as the report prints it: ``82.1 %``, ``82,1 %``."""
    text = f"{100 * part / whole:.1f} %"
    return text.replace(".", ",") if lang is Lang.VI else text


def planned_requests(week: ReplayedWeek, line: Line, day: date | None = None) -> int:
    """The requests planned on ``line`` (a caller moved from 1022 to 115 is one of 115's)."""
    return sum(c.line is line and (day is None or c.day == day) for c in week.plan)


def planned_queued(week: ReplayedWeek, line: Line, day: date | None = None) -> int:
    """The calls planned into ``line``'s queue: those dialled to it (a moved call stays 1022's)."""
    return sum(c.dialled is line and (day is None or c.day == day) for c in week.plan)


def planned_agencies(week: ReplayedWeek) -> dict[str, tuple[int, int, int]]:
    """Agency code → (forwarded, responded, satisfied) as planned."""
    codes = {c.field.agency for c in week.plan if c.field is not None}
    f = week.figures
    return {
        a: (f[f"agency {a} forwarded"], f[f"agency {a} responded"], f[f"agency {a} satisfied"])
        for a in codes
    }


def planned_outcomes(week: ReplayedWeek, sent: bool) -> dict[str, int]:
    """115 outcome code (as the CSV's keys) → requests, of those sent or not sent, as planned."""
    prefix = "115 sent " if sent else "115 not sent "
    codes = {k.removeprefix(prefix): n for k, n in week.figures.items() if k.startswith(prefix)}
    return {NO_OUTCOME if code == "none" else code: n for code, n in codes.items()}


SENT_EN = "Sent to the nearest hospital or health centre"


def test_given_a_replayed_week_when_the_report_is_printed_in_english_then_it_shows_the_planned_figures(
    replayed_week: ReplayedWeek, tmp_path: Path
) -> None:
    week, planned = replayed_week, replayed_week.figures
    out = tmp_path / "report.csv"
    result = hotline(
        "report", *period_args(week), "--lang", "en", "--csv", str(out),
        url=week.url, data_dir=tmp_path,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    table = parse_table(result.stdout)
    en = Lang.EN
    assert "From 2019-11-18 to 2019-11-24" in result.stdout
    requests = planned_requests(week, Line.CITIZEN)
    assert table[("Line 1022", "Requests")] == (str(requests), None)
    for label, category in (
        ("Administrative procedures", "admin_procedure"),
        ("Field reports", "field_report"),
        ("Information and feedback", "information"),
    ):
        count = planned[f"1022 {category}"]
        assert table[("Line 1022", label)] == (str(count), percent(count, requests, en))
    forwarded, satisfied = planned["1022 forwarded"], planned["1022 satisfied"]
    assert table[("Line 1022", "Forwarded to agencies")][0] == str(forwarded)
    assert table[("Line 1022", "Agencies involved")] == (str(planned["1022 agencies"]), None)
    assert table[("Line 1022", "Responses rated satisfactory")] == (
        str(satisfied),
        percent(satisfied, planned["1022 responded"], en),
    )
    medical, sent = planned["115 requests"], planned["115 sent"]
    successful = planned["115 successful"]
    assert table[("Line 115", "Requests")] == (str(medical), None)
    assert table[("Line 115", SENT_EN)] == (str(sent), percent(sent, medical, en))
    assert table[("Line 115", "Not sent to any facility")] == (
        str(medical - sent),
        percent(medical - sent, medical, en),
    )
    assert table[("Line 115", "Handled successfully")] == (
        str(successful),
        percent(successful, medical, en),
    )
    assert table[("Line 115", "Handled successfully, of those sent to a facility")] == (
        str(successful),
        percent(successful, sent, en),
    )
    by_outcome = {k[1]: number(v[0]) for k, v in table.items() if k[0].startswith("Line 115: ")}
    assert by_outcome["Treated on scene"] + by_outcome["Transported"] == successful
    for line in (Line.CITIZEN, Line.MEDICAL):
        calls = {k[1]: number(v[0]) for k, v in table.items() if k[0] == f"Calls {line.value}"}
        assert calls["Calls queued"] == planned_queued(week, line)
        assert calls["Calls answered"] == planned[f"calls {line.value} answered"]
        assert calls["Abandoned in queue"] == planned[f"calls {line.value} abandoned"] > 0
        assert (
            calls["Answered within 15 s"] <= calls["Answered within 20 s"] <= calls["Calls queued"]
        )

    with out.open(encoding="utf-8") as handle:
        exported = {(r["section"], r["key"]): r for r in csv.DictReader(handle)}
    assert exported[("1022", "requests")]["value"] == str(requests)
    assert exported[("1022", "agencies")]["value"] == str(planned["1022 agencies"])
    assert (
        exported[("1022", "satisfied")]["share"] == f"{satisfied / planned['1022 responded']:.4f}"
    )
    assert exported[("115", "requests")]["value"] == str(medical)
    assert exported[("115", "sent")]["value"] == str(sent)
    assert exported[("115", "successful")]["value"] == str(successful)
    assert exported[("115", "successful")]["share"] == f"{successful / medical:.4f}"
    for section, was_sent in (("115_sent", True), ("115_not_sent", False)):
        outcomes = {k: int(r["value"]) for (s, k), r in exported.items() if s == section}
        assert {k: n for k, n in outcomes.items() if n} == planned_outcomes(week, was_sent)
    by_month = {s: r for (s, k), r in exported.items() if k == "field_report" and s[:6] == "month_"}
    assert list(by_month) == ["month_2019-11"]  # the month's rows follow the figures
    assert by_month["month_2019-11"]["value"] == str(planned["1022 field_report"])
    agencies = {
        s.removeprefix("agency_"): tuple(
            int(exported[(s, k)]["value"]) for k in ("forwarded", "responded", "satisfied")
        )
        for s, _ in exported
        if s.startswith("agency_")
    }
    assert agencies == planned_agencies(week)
    assert exported[("calls_1022", "within_20s")]["value"] == str(
        number(table[("Calls 1022", "Answered within 20 s")][0])
    )


def test_given_a_replayed_week_when_the_report_is_printed_in_vietnamese_for_115_only_then_labels_and_numbers_are_vietnamese(
    replayed_week: ReplayedWeek, tmp_path: Path
) -> None:
    week, planned = replayed_week, replayed_week.figures
    result = hotline("report", *period_args(week), "--line", "115", url=week.url, data_dir=tmp_path)

    assert result.returncode == 0, result.stderr
    table = parse_table(result.stdout)
    vi = Lang.VI
    medical, sent = planned["115 requests"], planned["115 sent"]
    successful = planned["115 successful"]
    assert "Từ ngày 18/11/2019 đến ngày 24/11/2019" in result.stdout
    assert table[("Đường dây 115", "Số yêu cầu")] == (str(medical), None)
    assert table[("Đường dây 115", "Chuyển đến bệnh viện, trung tâm y tế gần nhất")] == (
        str(sent),
        percent(sent, medical, vi),
    )
    assert table[("Đường dây 115", "Xử lý thành công")] == (
        str(successful),
        percent(successful, medical, vi),
    )
    assert table[("Đường dây 115", "Xử lý thành công, trên số đã chuyển cơ sở y tế")] == (
        str(successful),
        percent(successful, sent, vi),
    )
    assert table[("Đường dây 115: đã chuyển cơ sở y tế, theo kết quả", "Chuyển viện")][0] == str(
        planned["115 sent transported"]
    )
    assert "Đường dây 1022" not in result.stdout
    assert "Cuộc gọi 1022" not in result.stdout


def test_given_a_period_ending_before_it_starts_when_the_report_runs_then_it_refuses(
    database_url: str, tmp_path: Path
) -> None:
    result = hotline(
        "report", "--from", "2020-02-01", "--to", "2020-01-01", url=database_url, data_dir=tmp_path
    )

    assert result.returncode == 2
    assert "before" in result.stderr


async def test_given_a_replayed_week_when_reported_day_by_day_then_the_days_add_up_to_the_week_and_each_is_its_plan(
    replayed_week: ReplayedWeek,
) -> None:
    week = replayed_week
    lines = (Line.CITIZEN, Line.MEDICAL)
    days = [week.start + timedelta(days=n) for n in range((week.end - week.start).days + 1)]
    pool = await create_pool(week.url, min_size=1, max_size=2)
    try:
        repository = PostgresReportRepository(pool)
        whole = await repository.report(week.start, week.end, lines)
        each = [await repository.report(day, day, lines) for day in days]
    finally:
        await pool.close()

    assert whole.citizen is not None
    assert whole.medical is not None
    for day, report in zip(days, each, strict=True):
        citizen = report.citizen.requests if report.citizen else 0
        medical = report.medical.requests if report.medical else 0
        assert (citizen, medical) == (
            planned_requests(week, Line.CITIZEN, day),
            planned_requests(week, Line.MEDICAL, day),
        ), day
        for line in lines:
            assert report.calls[line].queued == planned_queued(week, line, day), (day, line)
    assert sum(d.citizen.requests for d in each if d.citizen) == whole.citizen.requests
    assert sum(d.citizen.forwarded for d in each if d.citizen) == whole.citizen.forwarded
    assert sum(d.citizen.satisfied for d in each if d.citizen) == whole.citizen.satisfied
    assert sum(d.medical.requests for d in each if d.medical) == whole.medical.requests
    assert sum(d.medical.sent for d in each if d.medical) == whole.medical.sent
    assert sum(d.medical.successful for d in each if d.medical) == whole.medical.successful
    for line in lines:
        for kpi in ("queued", "answered", "within_15s", "within_20s", "abandoned"):
            assert sum(getattr(d.calls[line], kpi) for d in each) == getattr(whole.calls[line], kpi)
    # the week is one month's series, and that month is the week's figures
    [month] = whole.months
    assert month.month == date(2019, 11, 1)
    assert {c: month.requests.get(c, 0) for c in whole.citizen.by_category} == (
        whole.citizen.by_category
    )
    assert month.requests.get(Category.MEDICAL, 0) == whole.medical.requests
    assert month.calls == whole.calls


async def test_given_a_replayed_week_when_reported_then_every_agency_has_its_planned_satisfaction_and_115_both_success_rates(
    replayed_week: ReplayedWeek,
) -> None:
    week, planned = replayed_week, replayed_week.figures
    pool = await create_pool(week.url, min_size=1, max_size=2)
    try:
        report = await PostgresReportRepository(pool).report(
            week.start, week.end, (Line.CITIZEN, Line.MEDICAL)
        )
    finally:
        await pool.close()

    assert report.citizen is not None
    assert report.medical is not None
    agencies = {a.agency: (a.forwarded, a.responded, a.satisfied) for a in report.agencies}
    assert agencies == planned_agencies(week)
    assert len(report.agencies) == report.citizen.agencies == planned["1022 agencies"]
    assert sum(a.forwarded for a in report.agencies) == report.citizen.forwarded
    assert sum(a.responded for a in report.agencies) == report.citizen.responded
    assert sum(a.satisfied for a in report.agencies) == report.citizen.satisfied
    for agency in report.agencies:
        assert agency.satisfied_rate == agency.satisfied / agency.responded
    medical = report.medical
    assert medical.success_rate == planned["115 successful"] / planned["115 requests"]
    assert medical.success_rate_of_sent == planned["115 successful"] / planned["115 sent"]


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


@asynccontextmanager
async def report_http(url: str, data_dir: Path) -> AsyncIterator[aiohttp.ClientSession]:
    """The service on ``url`` with a supervisor and an operator, and a client session to it."""
    async with running_service(service_settings(url, data_dir)) as service:
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


async def test_given_a_replayed_week_when_a_supervisor_asks_for_the_json_then_it_has_the_planned_figures_every_agencys_satisfaction_and_both_115_rates(
    replayed_week: ReplayedWeek, tmp_path: Path
) -> None:
    week, planned = replayed_week, replayed_week.figures
    async with report_http(week.url, tmp_path) as http:
        headers = await bearer(http, "sup_r")
        async with http.get(
            "/api/v1/reports",
            params={"from": "18/11/2019", "to": week.end.isoformat()},
            headers=headers,
        ) as response:
            assert response.status == 200
            body = await response.json()

    rows = {(r["section"], r["key"]): r for r in body["rows"]}
    values = {k: r["value"] for k, r in rows.items()}
    shares = {k: r["share"] for k, r in rows.items()}
    assert body["from"] == week.start.isoformat()  # the Vietnamese way of writing a day is read
    assert values[("1022", "requests")] == planned_requests(week, Line.CITIZEN)
    assert values[("1022", "agencies")] == planned["1022 agencies"]
    assert values[("1022", "satisfied")] == planned["1022 satisfied"]
    medical, sent = planned["115 requests"], planned["115 sent"]
    successful = planned["115 successful"]
    assert values[("115", "requests")] == medical
    assert values[("115", "sent")] == sent
    assert values[("115", "successful")] == values[("115", "successful_of_sent")] == successful
    assert shares[("115", "successful")] == round(successful / medical, 4)
    assert shares[("115", "successful_of_sent")] == round(successful / sent, 4)
    assert rows[("115", "successful")]["label_en"] == "Handled successfully"
    assert rows[("115", "successful_of_sent")]["label_en"] == (
        "Handled successfully, of those sent to a facility"
    )
    assert rows[("115", "successful_of_sent")]["label_vi"] == (
        "Xử lý thành công, trên số đã chuyển cơ sở y tế"
    )
    assert [m["month"] for m in body["months"]] == ["2019-11"]
    assert body["months"][0]["requests"]["medical"] == medical
    agencies = {a["agency"]: a for a in body["agencies"]}
    assert {a: (x["forwarded"], x["responded"], x["satisfied"]) for a, x in agencies.items()} == (
        planned_agencies(week)
    )
    for agency in agencies.values():
        assert agency["satisfied_rate"] == round(agency["satisfied"] / agency["responded"], 4)


async def test_given_an_operator_or_no_token_when_the_reports_are_requested_then_they_are_refused(
    database_url: str, tmp_path: Path
) -> None:
    query = "from=2019-11-15&to=2020-06-14"
    async with report_http(database_url, tmp_path) as http:
        operator = await bearer(http, "op_r")
        supervisor = await bearer(http, "sup_r")

        async with http.get(f"/api/v1/reports?{query}", headers=operator) as response:
            assert response.status == 403
        async with http.get(f"/api/v1/reports?{query}") as response:
            assert response.status == 401
            assert (await response.json())["error_id"] == "unauthenticated"
        async with http.get(
            "/api/v1/reports?from=2020-13-01&to=2020-01-01", headers=supervisor
        ) as response:
            assert response.status == 400
            assert (await response.json())["error_id"] == "invalid-request"
