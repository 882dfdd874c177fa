"""``hotline replay``: the seed province's months played through the real system (emulated PBX,
FastAGI, queues over AMI, operators and agencies on the HTTP API, the sweeper, the outbox and
the citizens' SMS answers through Kannel's MO callback), and its report compared with the plan.

A week runs as a subprocess on a fresh database, once per session (``tests.support.replay``:
the report tests read the same week); the seven months' published figures are checked on the
plan, and their replay is measured by hand (the closing note of issue 16 gives the command and
its wall time)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date
from pathlib import Path

import asyncpg

from hotline.emulated.replay_plan import in_period, plan_replay, planned_figures
from switchboard import Clock
from tests.support.replay import WEEK, ReplayedWeek
from tickets.agencies import load_province
from tickets.codes import HOTLINE_TZ
from tickets.scenario import END, FATES, START


def test_given_the_seed_when_the_seven_months_are_planned_then_the_plan_holds_the_published_figures() -> (
    None
):
    plan = plan_replay(load_province(None), seed=1)
    figures = planned_figures(plan)
    assert figures["1022 admin_procedure"] == 479
    assert figures["1022 field_report"] == 1025
    assert figures["1022 information"] == 1553
    assert figures["1022 forwarded"] == figures["1022 responded"] == 1025
    assert figures["1022 agencies"] == 47
    assert figures["1022 satisfied"] == 789
    assert round(100 * figures["1022 satisfied"] / figures["1022 responded"]) == 77
    assert figures["115 requests"] == 3173
    assert figures["115 sent"] == 2785
    assert figures["115 successful"] == 1482
    assert round(100 * figures["115 successful"] / figures["115 requests"], 1) == 46.7
    assert round(100 * figures["115 successful"] / figures["115 sent"], 1) == 53.2
    misrouted = [c for c in plan if c.field is not None and c.field.misrouted is not None]
    assert 0.01 * 1025 < len(misrouted) < 0.05 * 1025  # reassigned by a supervisor
    assert all(c.field and c.field.misrouted != c.field.agency for c in misrouted)
    moved = [call for call in plan if call.dialled is not call.line]
    assert all(call.medical is not None and call.key == "0" for call in moved)
    assert 0.02 * 3173 < len(moved) < 0.06 * 3173  # some dialled 1022 for an ambulance
    assert figures["calls 1022 queued"] == 3057 + len(moved)  # their calls stay 1022's
    assert figures["calls 115 queued"] == 3173 - len(moved)
    gave_up = [call for call in plan if call.gives_up]  # called back from the worklist
    assert 0.01 * len(plan) < len(gave_up) < 0.03 * len(plan)
    assert all(call.dialled is call.line for call in gave_up)  # a moved caller was answered
    for line in ("1022", "115"):
        abandoned = sum(call.dialled.value == line for call in gave_up)
        assert figures[f"calls {line} abandoned"] == abandoned > 0
        assert figures[f"calls {line} answered"] == figures[f"calls {line} queued"] - abandoned
    assert all(START <= call.day <= END for call in plan)
    assert len({call.number for call in plan}) == len(plan)  # one caller per ticket
    assert all(call.at.astimezone(HOTLINE_TZ).hour < 23 for call in plan)  # days stay days
    again = plan_replay(load_province(None), seed=1)
    assert again == plan
    assert plan_replay(load_province(None), seed=2) != plan


def test_given_the_plan_when_a_week_is_taken_then_weekends_and_tet_are_quieter() -> None:
    plan = plan_replay(load_province(None), seed=1)
    week = in_period(plan, *WEEK)
    assert {call.day for call in week} <= {date(2019, 11, d) for d in range(18, 25)}
    per_weekday = [sum(c.day.weekday() == n for c in plan) for n in range(7)]
    assert per_weekday[6] < per_weekday[0] * 0.7  # Sundays are quiet
    tet = in_period(plan, date(2020, 1, 23), date(2020, 1, 29))
    before = in_period(plan, date(2020, 1, 9), date(2020, 1, 15))
    assert len(tet) < len(before)


def test_given_a_hold_when_time_passes_it_then_it_slows_until_released_and_never_runs_back() -> (
    None
):
    """The replay's clock: past a hold simulated time runs at ``held_scale``; a release brings
    back the full pace; a hold in the past never makes time run backwards."""
    clock = Clock(scale=1e6, start=1_000_000.0, held_scale=1.0)
    release = clock.hold(1_000_100.0)
    asyncio.run(asyncio.sleep(0.01))  # 10,000 simulated seconds at the full pace
    held = clock.now()
    assert 1_000_100.0 <= held < 1_000_101.0
    release()
    asyncio.run(asyncio.sleep(0.01))
    assert clock.now() > 1_000_100.0 + 1000
    before = clock.now()
    late = clock.hold(before - 500)
    assert clock.now() >= before
    late()


def test_given_holds_of_their_own_pace_when_time_passes_them_then_the_slowest_sets_the_pace() -> (
    None
):
    """A hold may name its own pace (the replay's operator pressing a button at a person's
    speed): past several holds time runs at the slowest of them, and a release gives back
    the pace of those still passed, then the full one."""
    clock = Clock(scale=1e6, start=1_000_000.0, held_scale=100.0)
    usual = clock.hold(clock.now())
    clock.now()
    assert clock.real(100.0) == 1.0
    person = clock.hold(clock.now(), scale=1.0)
    clock.now()
    assert clock.real(1.0) == 1.0
    usual()
    assert clock.real(1.0) == 1.0  # the slower hold is still passed
    person()
    assert clock.real(1e6) == 1.0


def _folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def test_given_a_week_of_the_seed_when_replayed_through_the_system_then_its_report_equals_the_plan_and_a_ticket_shows_every_step(
    replayed_week: ReplayedWeek,
) -> None:
    """The replay (``tests.support.replay``, once per session) exited 0: every figure equal."""
    assert "the report equals the plan" in replayed_week.output
    planned = replayed_week.figures
    for name in ("1022 field_report", "1022 satisfied", "115 sent", "115 successful"):
        line = next(x for x in replayed_week.output.splitlines() if x.startswith(name + " "))
        assert line.split()[-2:] == [str(planned[name])] * 2, line
    assert _folder_bytes(replayed_week.data_dir / "recordings") < 20 * 1024 * 1024

    url = replayed_week.url
    [ticket] = _fetch(
        url,
        "SELECT id FROM tickets WHERE category = 'field_report' AND closure = 'satisfied'"
        " ORDER BY code LIMIT 1",
    )
    events = _fetch(
        url, "SELECT actor, kind FROM ticket_events WHERE ticket_id = $1 ORDER BY at, id", ticket[0]
    )
    timeline = [(r["actor"], r["kind"]) for r in events]
    kinds = [kind for _, kind in timeline]
    assert kinds[0] == "call_started", timeline
    by = dict((kind, actor) for actor, kind in timeline)
    assert by["classify"].startswith("rp3"), timeline  # an operator, through the API
    assert by["forward"].startswith("rp3"), timeline
    assert by["accept"].startswith("agency_"), timeline  # an agency user, through the API
    assert by["respond"].startswith("agency_"), timeline
    assert by["close"] == "citizen:sms", timeline  # the survey answer, by SMS
    assert kinds.index("classify") < kinds.index("forward") < kinds.index("accept")
    assert kinds.index("accept") < kinds.index("respond") < kinds.index("close")

    # callers who dialled 1022 for an ambulance: moved to 115 by the 1022 operator who answered
    # (the console's transfer), their 115 ticket worked by a 115 operator
    moved = [call for call in replayed_week.plan if call.dialled is not call.line]
    rows = _fetch(
        url,
        "SELECT (SELECT actor FROM ticket_events WHERE ticket_id = f.id"
        "  AND kind = 'transferred') AS moved_by,"
        " (SELECT actor FROM ticket_events WHERE ticket_id = t.id"
        "  AND kind = 'classify') AS classified_by, t.outcome"
        " FROM tickets f JOIN tickets t ON t.transferred_from = f.id"
        " WHERE f.line = '1022' AND f.status = 'transferred' AND t.line = '115'",
    )
    assert len(rows) == len(moved) > 0
    assert all(301 <= int(r["moved_by"].removeprefix("rp")) < 351 for r in rows), rows
    assert all(int(r["classified_by"].removeprefix("rp")) >= 351 for r in rows), rows
    outcomes = Counter(r["outcome"] for r in rows)
    assert outcomes == Counter(
        None if (o := FATES[c.medical.fate][1]) is None else o.value for c in moved if c.medical
    )

    # field reports an operator forwarded to the wrong agency: a supervisor reassigned them,
    # the right agency answered
    misrouted = sorted(
        (c.field.misrouted, c.field.agency)
        for c in replayed_week.plan
        if c.field and c.field.misrouted
    )
    rows = _fetch(
        url,
        "SELECT e.data->>'previous' AS first, e.data->>'agency' AS agency, e.actor,"
        " (SELECT actor FROM ticket_events WHERE ticket_id = t.id AND kind = 'respond') AS answer"
        " FROM tickets t JOIN ticket_events e ON e.ticket_id = t.id AND e.kind = 'reassign'"
        " WHERE t.agency_code = e.data->>'agency'",
    )
    assert sorted((r["first"], r["agency"]) for r in rows) == misrouted
    assert len(misrouted) > 0
    for row in rows:
        assert row["actor"] == "rp_supervisor", row
        assert row["answer"] == "agency_" + row["agency"].lower().replace("-", "_"), row

    # callers who hung up in the queue: each line's call-back operator (rp321, rp371) called
    # them back from the worklist, reached them and worked their ticket
    gave_up = Counter(call.line.value for call in replayed_week.plan if call.gives_up)
    rows = _fetch(
        url,
        "SELECT b.line, b.status, u.username AS called_by,"
        " (SELECT actor FROM ticket_events WHERE ticket_id = b.ticket_id"
        "  AND kind = 'classify') AS classified_by"
        " FROM callbacks b JOIN users u ON u.id = b.last_attempt_by",
    )
    assert Counter(r["line"] for r in rows) == gave_up, rows
    assert sum(gave_up.values()) > 0
    desks = {"1022": "rp321", "115": "rp371"}
    for row in rows:
        assert row["status"] == "reached", row
        assert row["called_by"] == row["classified_by"] == desks[row["line"]], row


def _fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    async def rows() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    return asyncio.run(rows())
