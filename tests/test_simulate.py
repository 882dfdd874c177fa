"""``hotline simulate``: the arrival plan is a pure function of the seed, bounded by hours or
calls, shaped by the daily profile and the scenario's mix; a real run (a subprocess against a
fresh test database) loses no call and prints figures that match the database."""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from db.reports import PostgresReportRepository
from hotline.emulated.plan import (
    DAILY_PROFILE,
    SCENARIOS,
    SimulationOptions,
    fingerprint,
    plan_calls,
    seed_mix,
)
from tickets.codes import HOTLINE_TZ
from tickets.model import Line


def test_given_a_seed_when_planned_twice_then_the_same_calls_and_another_seed_differs() -> None:
    options = SimulationOptions(seed=7, hours=2.0)

    first, second = plan_calls(options), plan_calls(options)
    other = plan_calls(SimulationOptions(seed=8, hours=2.0))

    assert first == second
    assert fingerprint(first) == fingerprint(second)
    assert fingerprint(other) != fingerprint(first)


def test_given_hours_or_calls_when_planned_then_the_plan_stops_at_the_first_bound() -> None:
    by_hours = plan_calls(SimulationOptions(seed=1, hours=0.5, calls_per_hour=200))
    by_calls = plan_calls(SimulationOptions(seed=1, hours=24, calls=25))

    assert by_hours
    assert all(0 < c.at < 1800 for c in by_hours)
    assert [c.at for c in by_hours] == sorted(c.at for c in by_hours)
    assert len(by_calls) == 25
    assert by_calls == plan_calls(SimulationOptions(seed=1, hours=24))[:25]


def test_given_the_seed_scenario_when_many_calls_are_planned_then_the_mix_is_the_provinces() -> (
    None
):
    plan = plan_calls(SimulationOptions(seed=3, hours=24 * 20, calls_per_hour=400))
    mix = seed_mix()

    lines = Counter(c.line for c in plan)
    keys = Counter(c.key for c in plan if c.line is Line.CITIZEN)
    share_115 = lines[Line.MEDICAL] / len(plan)

    assert mix.share_115 == pytest.approx(3173 / (3057 + 3173))
    assert share_115 == pytest.approx(mix.share_115, abs=0.01)
    on_1022 = sum(keys.values())
    assert keys["1"] / on_1022 == pytest.approx(479 / 3057, abs=0.01)
    assert keys["2"] / on_1022 == pytest.approx(1025 / 3057, abs=0.01)
    assert keys["3"] / on_1022 == pytest.approx(1553 / 3057, abs=0.01)
    assert {c.key for c in plan if c.line is Line.MEDICAL} == {None}
    assert all(5.0 <= c.patience <= 540.0 for c in plan)


def test_given_the_daily_profile_when_a_whole_day_is_planned_then_nine_oclock_is_busier_than_three() -> (
    None
):
    plan = plan_calls(SimulationOptions(seed=2, hours=24 * 10, start_hour=0, calls_per_hour=300))

    per_hour = Counter(int(c.at // 3600) % 24 for c in plan)

    assert len(DAILY_PROFILE) == 24
    assert per_hour[9] > 5 * per_hour[3]
    expected = 10 * 300 * DAILY_PROFILE[9] / max(DAILY_PROFILE)
    assert per_hour[9] == pytest.approx(expected, rel=0.1)


def test_given_the_scenarios_when_compared_then_a_flood_brings_more_field_reports() -> None:
    seed, flood = SCENARIOS["seed"], SCENARIOS["flood"]

    assert flood.keys_1022["2"] == 4 * seed.keys_1022["2"]
    assert SCENARIOS["outbreak"].share_115 > seed.share_115
    with pytest.raises(ValueError, match="unknown scenario"):
        plan_calls(SimulationOptions(scenario="nope"))


def _table(stdout: str) -> dict[str, list[str]]:
    rows: dict[str, list[str]] = {}
    for line in stdout.splitlines():
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) == 4:
            rows[cells[0]] = cells[1:]
    return rows


async def _simulate_process(database_url: str, data_dir: Path, *extra: str) -> str:
    """``hotline simulate`` as a process (a short run); its standard output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {"HOTLINE_DATABASE_URL": database_url, "HOTLINE_DATA_DIR": str(data_dir)}
    args = ["--seed", "5", "--hours", "0.1", "--scale", "50", "--calls-per-hour", "300"]
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline",
        "simulate",
        *args,
        "--no-progress",
        *extra,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 110)
    assert process.returncode == 0, stdout.decode() + stderr.decode()[-3000:]
    return stdout.decode()


async def test_given_a_configured_database_when_simulate_runs_by_default_then_it_runs_on_a_scratch_database_and_leaves_nothing(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    out = await _simulate_process(database_url, tmp_path)

    database = re.search(r"^database: scratch .*database (hotline_simulate_\w+)", out, re.M)
    assert database is not None, out
    assert "cross-check with the emulator: ok" in out
    assert _table(out)["tickets lost"] == ["0", "0", "0"]
    assert await db.fetchval("SELECT count(*) FROM tickets") == 0
    assert await db.fetchval("SELECT count(*) FROM calls") == 0
    left = await db.fetchval(
        "SELECT count(*) FROM pg_database WHERE datname = $1", database.group(1)
    )
    assert left == 0  # dropped at the end
    assert not (tmp_path / "recordings").exists()  # recordings went to a scratch folder too


async def test_given_a_short_simulation_into_the_configured_database_when_run_as_a_process_then_no_call_is_lost_the_summary_matches_and_reports_leave_it_out(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    out = await _simulate_process(database_url, tmp_path, "--into-configured-database")

    assert "database: the configured database" in out
    plan = plan_calls(SimulationOptions(seed=5, hours=0.1, calls_per_hour=300))
    assert f"plan: {len(plan)} calls, fingerprint {fingerprint(plan)}; placed {len(plan)}" in out
    assert "cross-check with the emulator: ok" in out
    table = _table(out)
    assert table["tickets lost"] == ["0", "0", "0"]
    stored = await db.fetch(
        "SELECT c.line, c.disposition, c.queue_joined_at, c.answered_at, c.abandoned_at,"
        " c.queue_wait_seconds, t.code FROM calls c JOIN tickets t ON t.id = c.ticket_id"
    )
    assert len(stored) == len(plan) > 10
    for column, line in enumerate(("1022", "115")):
        mine = [r for r in stored if r["line"] == line]
        answered = [r for r in mine if r["answered_at"] is not None]
        expected = {
            "calls": len(mine),
            "tickets created": len({r["code"] for r in mine}),
            "reached a queue": sum(r["queue_joined_at"] is not None for r in mine),
            "answered": len(answered),
            "answered within 15 s": sum(r["queue_wait_seconds"] <= 15 for r in answered),
            "answered within 20 s": sum(r["queue_wait_seconds"] <= 20 for r in answered),
            "abandoned in queue": sum(
                r["abandoned_at"] is not None and r["answered_at"] is None for r in mine
            ),
            "hung up in the menu": sum(r["disposition"] == "abandoned_in_ivr" for r in mine),
        }
        printed = {label: int(table[label][column]) for label in expected}
        assert printed == expected, line
    intervals = await db.fetch(
        "SELECT queue, sum(completed)::int AS completed, sum(talk_seconds_sum)::int AS talk"
        " FROM queue_intervals GROUP BY queue"
    )
    per_queue = {r["queue"]: r for r in intervals}
    for column, queue in enumerate(("hotline-1022", "emergency-115")):
        row = per_queue.get(queue)
        aht = (
            "–" if row is None or not row["completed"] else f"{row['talk'] / row['completed']:.1f}"
        )
        assert table["AHT (s, statistics)"][column] == aht
    assert re.search(r"^Erlang C operators needed\s+\d+\s+\d+\s*$", out, re.MULTILINE)
    assert await db.fetchval("SELECT bool_and(simulated) FROM tickets") is True
    today = datetime.now(HOTLINE_TZ).date()
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    try:
        report = await PostgresReportRepository(pool).report(
            today - timedelta(days=1), today + timedelta(days=1), (Line.CITIZEN, Line.MEDICAL)
        )
    finally:
        await pool.close()
    assert report.citizen is not None
    assert report.medical is not None
    assert (report.citizen.requests, report.citizen.unclassified, report.medical.requests) == (
        0,
        0,
        0,
    )
    assert report.calls == {}


async def test_given_two_instances_when_simulate_runs_as_a_process_then_both_pbxs_carry_calls_and_the_cross_check_passes(
    database_url: str, tmp_path: Path, db: asyncpg.Connection
) -> None:
    """Two service instances and two emulated PBXs (system names pbx-1, pbx-2) on one
    database: every instance on both AMIs, each PBX's FastAGI on its own instance, the
    queue_log of both applied once; the statistics and tickets equal the emulators' record."""
    out = await _simulate_process(
        database_url, tmp_path, "--into-configured-database", "--instances", "2"
    )

    assert "instances: 2 services on 2 PBXs, one database" in out
    assert "cross-check with the emulator: ok" in out
    table = _table(out)
    assert table["tickets lost"] == ["0", "0", "0"]
    gave_up = int(table["abandoned in queue"][2])
    assert await db.fetchval("SELECT count(*) FROM callbacks") == gave_up
    plan = plan_calls(SimulationOptions(seed=5, hours=0.1, calls_per_hour=300))
    uniqueids = await db.fetch("SELECT uniqueid FROM calls")
    assert len(uniqueids) == len(plan)
    per_pbx = Counter(r["uniqueid"].rsplit("-", 1)[0] for r in uniqueids)
    assert set(per_pbx) == {"pbx-1", "pbx-2"}
    assert abs(per_pbx["pbx-1"] - per_pbx["pbx-2"]) <= 1
    sessions = await db.fetch("SELECT interface FROM operator_sessions")
    assert len(sessions) == 12
    callids = await db.fetch("SELECT DISTINCT callid FROM queue_log WHERE event = 'ENTERQUEUE'")
    assert {r["callid"].rsplit("-", 1)[0] for r in callids} == {"pbx-1", "pbx-2"}
