"""Operators and queues end to end: the real service (FastAGI, AMI adapter, PostgreSQL, HTTP,
WebSocket) against the switchboard emulator speaking Asterisk 20's AMI over TCP."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from db.users import PostgresUserRepository
from hotline.auth import AuthService
from switchboard import CalledParty, CallerScript, Softphone
from tests.support.live import PASSWORD, Live, eventually, live_hotline
from tests.support.websocket import LiveEvents
from tickets.model import Role


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    users = {"lan": Role.OPERATOR, "minh": Role.OPERATOR, "sup": Role.SUPERVISOR}
    async with live_hotline(database_url, tmp_path, seed=7, users=users) as state:
        yield state


async def test_given_a_logged_in_operator_when_a_caller_is_connected_then_the_screen_pop_carries_the_ticket(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=2.0, talk_time=20.0))
    await live.login("lan", "op101")
    members = {m.interface for q in live.board.truth().queues.values() for m in q.members}
    assert members == {"PJSIP/op101"}
    earlier = await live.board.place_call("1022", "0901234567", script=CallerScript(keys=["1"]))
    await earlier.wait()

    async with live.http.ws_connect(f"/api/v1/events?topics=me&token={live.tokens['lan']}") as ws:
        events = LiveEvents(ws)
        assert (await events.next())["kind"] == "hello"
        call = await live.board.place_call("1022", "0901234567", script=CallerScript(keys=["2"]))
        async with asyncio.timeout(15):
            pop = await events.next()
        outcome = await call.wait()

    assert pop["kind"] == "screen_pop"
    data = pop["data"]
    assert data["uniqueid"] == outcome.uniqueid
    assert data["code"] == outcome.variables["HOTLINE_TICKET"]
    assert data["category"] == "field_report"
    assert data["caller_phone_national"] == "0901234567"
    assert [s["step"] for s in data["ivr_path"]][-1] == "to_queue"
    assert data["description_recording"].endswith("-description.wav")
    assert [t["code"] for t in data["earlier_tickets"]] == [
        earlier_code := (
            await db.fetchval(
                "SELECT t.code FROM calls c JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
                earlier.uniqueid,
            )
        )
    ]
    assert earlier_code.startswith("1022-")
    assert outcome.answered_by == "PJSIP/op101"
    row = await db.fetchrow(
        "SELECT answered_at, queue_wait_seconds, answered_by FROM calls WHERE uniqueid = $1",
        outcome.uniqueid,
    )
    assert row is not None
    assert row["answered_at"] is not None
    assert row["answered_by"] == "PJSIP/op101"
    assert row["queue_wait_seconds"] == round(outcome.hold_time or 0)


async def test_given_answered_and_abandoned_calls_when_stats_are_asked_then_intervals_count_them(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=30.0))
    await live.login("lan", "op101")
    answered = await live.board.place_call("1022", "0911111111", script=CallerScript(keys=["3"]))
    await answered.wait()
    await live.post("lan", "/api/v1/operators/me/pause", {"reason": "Họp giao ban"})
    gave_up = await live.board.place_call("115", "0922222222", patience=30.0)
    assert (await gave_up.wait()).abandoned

    async def counted() -> bool:
        _, stats = await live.get("sup", "/api/v1/stats/queues")
        q = stats["queues"]
        return bool(
            q.get("hotline-1022", {}).get("answered") == 1
            and q.get("emergency-115", {}).get("abandoned") == 1
        )

    await eventually(counted)
    _, stats = await live.get("sup", "/api/v1/stats/queues")
    citizen = stats["queues"]["hotline-1022"]
    assert (citizen["received"], citizen["answered"], citizen["answered_within_1"]) == (1, 1, 1)
    assert citizen["aht_seconds"] == pytest.approx(30, abs=2)
    assert stats["queues"]["emergency-115"]["longest_wait"] >= 29
    assert stats["operators"][0]["interface"] == "PJSIP/op101"
    (occupancy,) = stats["occupancy"]
    assert occupancy["interface"] == "PJSIP/op101"
    assert occupancy["talk_seconds"] == pytest.approx(30, abs=2)
    assert 0 < occupancy["occupancy"] <= 1
    status, queues = await live.get("lan", "/api/v1/queues")
    assert status == 200
    assert [a["caller_raw"] for a in queues["abandoned_today"]] == ["0922222222"]


async def test_given_abandoned_callers_when_the_worklist_is_read_then_115_comes_first_and_a_callback_reaches_the_citizen(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=10.0))
    live.board.set_called_party(None, CalledParty(answers=True, ring_delay=2.0, talk_time=10.0))
    for line, number in (("1022", "0933333333"), ("115", "0944444444")):
        call = await live.board.place_call(
            line, number, script=CallerScript(keys=["1"]), patience=10.0
        )
        assert (await call.wait()).abandoned

    async def two() -> bool:
        return len((await live.get("lan", "/api/v1/callbacks"))[1]["items"]) == 2

    await eventually(two)
    _, worklist = await live.get("lan", "/api/v1/callbacks")
    assert [c["line"] for c in worklist["items"]] == ["115", "1022"]
    first = worklist["items"][0]
    assert (first["phone"], first["status"], first["ticket_code"][:4]) == (
        "+84944444444",
        "pending",
        "115-",
    )

    status, body = await live.post("lan", f"/api/v1/callbacks/{first['id']}/call")
    assert (status, body["error_id"]) == (409, "operator-not-logged-in")
    await live.login("lan", "op101")
    status, calling = await live.post("lan", f"/api/v1/callbacks/{first['id']}/call")
    assert status == 200, calling
    assert (calling["status"], calling["attempts"]) == ("calling", 1)
    originated = [e for e in live.board.events if e.name == "OriginateResponse"]
    assert originated[-1].get("Response") == "Success"
    assert any(
        e.name == "DialBegin" and e.get("DialString") == "0944444444@telco"
        for e in live.board.events
    )
    status, done = await live.post(
        "lan", f"/api/v1/callbacks/{first['id']}/result", {"reached": True}
    )
    assert (status, done["status"]) == (200, "reached")
    _, worklist = await live.get("lan", "/api/v1/callbacks")
    assert [c["line"] for c in worklist["items"]] == ["1022"]


async def test_given_a_softphone_that_never_answers_when_it_rings_then_the_next_operator_takes_the_call(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.add_softphone(Softphone("op101", answers=False))
    live.board.add_softphone(Softphone("op102", ring_delay=1.0, talk_time=10.0))
    await live.login("lan", "op101")
    await live.login("minh", "op102")

    call = await live.board.place_call("1022", "0955555555", script=CallerScript(keys=["3"]))
    outcome = await call.wait()

    no_answer = [e for e in live.board.events if e.name == "AgentRingNoAnswer"]
    assert outcome.answered_by == "PJSIP/op102"
    if no_answer:  # leastrecent may offer op102 first; then op101 was never rung
        assert no_answer[0].get("Interface") == "PJSIP/op101"
        # autopause = yes pauses in the queue that rang (1022), not in 115
        await eventually(
            lambda: live.agents.model.operators["PJSIP/op101"].queues["hotline-1022"].paused
        )
        _, operators = await live.get("sup", "/api/v1/operators")
        op101 = next(o for o in operators["items"] if o["interface"] == "PJSIP/op101")
        assert (op101["paused_queues"], op101["pause_reason"]) == (["hotline-1022"], "Auto-Pause")

        async def counted() -> bool:
            rows = await db.fetch(
                "SELECT ring_no_answer FROM operator_intervals WHERE interface = 'PJSIP/op101'"
            )
            return sum(int(r["ring_no_answer"]) for r in rows) >= 1

        await eventually(counted)


async def test_given_a_caller_who_hangs_up_while_the_operator_rings_when_abandoned_then_it_is_on_the_worklist(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=60.0))
    await live.login("lan", "op101")

    call = await live.board.place_call(
        "1022", "0966666666", script=CallerScript(keys=["1"]), patience=8.0
    )
    outcome = await call.wait()

    assert outcome.abandoned
    assert any(e.name == "AgentCalled" for e in live.board.events)
    assert any(e.name == "QueueCallerAbandon" for e in live.board.events)

    async def listed() -> bool:
        return len((await live.get("lan", "/api/v1/callbacks"))[1]["items"]) == 1

    await eventually(listed)


@pytest.mark.parametrize("version", ["20.19.0", "21.12.0"])
async def test_given_a_115_caller_past_the_queue_timeout_when_queued_again_and_answered_then_not_abandoned_and_no_callback(
    database_url: str, tmp_path: Path, version: str
) -> None:
    """Asterisk 20's queue_exec sends QueueCallerAbandon + QueueCallerLeave at the Queue()
    timeout (record_abandoned) and, from 20.19.0, leaves ANSWEREDTIME=0 (21: empty): the
    dialplan queues the 115 caller again on both, and the service counts no abandon, puts
    nobody on the worklist and counts the call received once."""
    users = {"lan": Role.OPERATOR, "sup": Role.SUPERVISOR}
    async with live_hotline(
        database_url, tmp_path, seed=7, users=users, board_options={"asterisk_version": version}
    ) as live:
        live.board.add_softphone(Softphone("op201", ring_delay=1.0, talk_time=10.0))
        call = await live.board.place_call("115", "0977777777", script=CallerScript())
        await eventually(
            lambda: (
                sum(
                    e.name == "QueueCallerJoin" and e.get("Channel") == call.channel
                    for e in live.board.events
                )
                == 2
            ),
            seconds=30,
        )
        await live.login("lan", "op201")
        outcome = await call.wait()

        async def counted() -> bool:
            _, stats = await live.get("sup", "/api/v1/stats/queues")
            return bool(stats["queues"].get("emergency-115", {}).get("answered") == 1)

        await eventually(counted)
        _, stats = await live.get("sup", "/api/v1/stats/queues")
        _, worklist = await live.get("lan", "/api/v1/callbacks")
        _, queues = await live.get("lan", "/api/v1/queues")
        row = await live.service.pool.fetchrow(
            "SELECT answered_at, abandoned_at FROM calls WHERE uniqueid = $1", call.uniqueid
        )

    assert outcome.answered_by == "PJSIP/op201"
    assert [e.name for e in live.board.events if e.name.startswith("QueueCaller")][:3] == [
        "QueueCallerJoin",
        "QueueCallerAbandon",
        "QueueCallerLeave",
    ]
    emergency = stats["queues"]["emergency-115"]
    assert (emergency["received"], emergency["answered"], emergency["abandoned"]) == (1, 1, 0)
    assert worklist["items"] == []
    assert queues["abandoned_today"] == []
    assert row is not None
    assert (row["answered_at"] is not None, row["abandoned_at"]) == (True, None)


async def test_given_an_operator_whose_call_just_ended_when_the_wallboard_asks_then_wrap_up_and_not_available(
    database_url: str, tmp_path: Path
) -> None:
    """Asterisk 20's member events carry the member's own Wrapuptime (0: QueueAdd set none;
    app_queue.c queue_member_blob_create), never the queue's; the service takes the queue's
    wrap-up from its settings (HOTLINE_WRAPUP_SECONDS_1022), so the operator shows wrap-up
    and the queue counts nobody available until it has passed."""
    users = {"lan": Role.OPERATOR}
    async with live_hotline(
        database_url, tmp_path, seed=7, users=users, settings={"wrapup_seconds_1022": 600}
    ) as live:
        live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
        await live.login("lan", "op101")
        call = await live.board.place_call("1022", "0911111111", script=CallerScript(keys=["3"]))
        await call.wait()

        async def after_the_call() -> bool:
            _, body = await live.get("lan", "/api/v1/operators")
            return [o["calls_handled"] for o in body["items"]] == [1]

        await eventually(after_the_call)
        _, operators = await live.get("lan", "/api/v1/operators")
        _, queues = await live.get("lan", "/api/v1/queues")
        added = [e for e in live.board.events if e.name == "QueueMemberAdded"]

    assert {e.get("Wrapuptime") for e in added} == {"0"}
    assert [o["state"] for o in operators["items"]] == ["wrap_up"]
    citizen = next(q for q in queues["items"] if q["name"] == "hotline-1022")
    assert (citizen["operators_logged_in"], citizen["operators_available"]) == (1, 0)


async def test_given_pause_unpause_and_a_supervisor_logout_when_done_then_asterisk_and_the_model_agree(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101"))
    await live.login("lan", "op101")

    assert (await live.post("lan", "/api/v1/operators/me/pause", {"reason": "Nghỉ trưa"}))[0] == 200
    truth = [m for q in live.board.truth().queues.values() for m in q.members]
    assert {(m.paused, m.paused_reason) for m in truth} == {(True, "Nghỉ trưa")}
    await eventually(lambda: live.agents.model.operators["PJSIP/op101"].pause_reason == "Nghỉ trưa")

    assert (await live.post("lan", "/api/v1/operators/me/unpause"))[0] == 200
    await eventually(lambda: not live.agents.model.operators["PJSIP/op101"].paused)
    status, body = await live.post("lan", "/api/v1/operators/PJSIP/op101/logout")
    assert status == 403, body  # an operator may not log colleagues out
    assert (await live.post("sup", "/api/v1/operators/PJSIP/op101/logout"))[0] == 200

    assert all(not q.members for q in live.board.truth().queues.values())
    await eventually(lambda: "PJSIP/op101" not in live.agents.model.operators)
    assert (await live.get("lan", "/api/v1/operators/me"))[1] == {"logged_in": False}


def model_matches_truth(live: Live) -> bool:
    truth = live.board.truth()
    model = live.agents.model
    for name, queue in truth.queues.items():
        if {c.uniqueid for c in queue.callers} != set(model.queues[name].waiting):
            return False
        members = {m.interface: m.paused for m in queue.members}
        mine = {i: op.queues[name].paused for i, op in model.operators.items() if name in op.queues}
        if members != mine:
            return False
    return True


async def test_given_the_emulator_restarts_mid_calls_when_it_is_back_then_the_model_equals_its_truth(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=600.0))
    await live.login("lan", "op101")
    waiting = await live.board.place_call("115", "0977777777", patience=3000.0)
    await eventually(lambda: bool(live.agents.model.queues["emergency-115"].waiting))

    await live.board.restart_ami(down_for=20.0)  # one real second down
    await live.post(
        "lan", "/api/v1/operators/me/pause", {"reason": "x"}
    )  # refused while down is fine
    await eventually(lambda: live.agents.connected, seconds=10)
    await eventually(lambda: model_matches_truth(live), seconds=5)

    waiting.hangup()
    await waiting.wait()
    await eventually(lambda: not live.agents.model.queues["emergency-115"].waiting, seconds=5)


async def test_given_the_emulator_stops_answering_when_pings_go_unanswered_then_the_link_is_reconnected(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "agents.ami")
    live.board.freeze_ami()
    await eventually(lambda: not live.agents.connected, seconds=2 * 0.5 + 1.5)  # two intervals
    assert "did not answer a Ping" in caplog.text
    live.board.thaw_ami()

    await eventually(lambda: live.agents.connected, seconds=10)
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
    await live.login("lan", "op101")
    await eventually(lambda: model_matches_truth(live))


async def test_given_malformed_and_unknown_events_when_they_arrive_then_they_are_ignored_and_calls_still_count(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
    await live.login("lan", "op101")
    live.board.inject_ami(
        b"Event: SomethingNew\r\nPrivilege: call,all\r\nFoo: bar\r\n\r\n"
        b"no colon here\r\n\r\n"
        b"Event: QueueCallerJoin\r\nQueue: hotline-1022\r\nPosition: abc\r\n\r\n"
        b"\x00\xff\xfe garbage\r\n\r\n"
    )

    call = await live.board.place_call("1022", "0988888888", script=CallerScript(keys=["1"]))
    outcome = await call.wait()

    assert outcome.answered_by == "PJSIP/op101"
    assert live.agents.connected
    await eventually(lambda: model_matches_truth(live))


async def test_given_the_backend_unreachable_when_a_caller_reaches_the_queue_then_a_ticket_is_made_from_the_queue(
    live: Live, db: asyncpg.Connection
) -> None:
    live.board.dialplan.agi_port = 1  # nothing listens: "FastAGI failed", the dialplan falls back
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
    await live.login("lan", "op101")

    call = await live.board.place_call("115", "0999999999")
    outcome = await call.wait()

    assert outcome.agistatus == "FAILURE"
    assert outcome.fallback
    query = (
        "SELECT t.line, t.category, c.disposition, t.caller_phone FROM calls c"
        " JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1"
    )
    # made by the queue_log applier from the ENTERQUEUE row, in its own time
    await eventually(lambda: db.fetchval(query, outcome.uniqueid))
    row = await db.fetchrow(query, outcome.uniqueid)
    assert row is not None
    assert dict(row) == {
        "line": "115",
        "category": "medical",
        "disposition": "fallback",
        "caller_phone": "+84999999999",
    }


async def test_given_an_agency_user_when_it_opens_the_event_socket_then_it_gets_only_its_own_topic(
    live: Live, database_url: str
) -> None:
    auth = AuthService(PostgresUserRepository(live.service.pool), token_ttl=timedelta(hours=1))
    await auth.add_user("ward7", PASSWORD, Role.AGENCY, "WARD-7")
    token = (await auth.login("ward7", PASSWORD)).token

    async with live.http.ws_connect(f"/api/v1/events?topics=queues,operators&token={token}") as ws:
        hello = await LiveEvents(ws).next()
    async with live.http.get("/api/v1/events") as anonymous:
        assert anonymous.status == 401

    assert hello["data"]["topics"] == []
    assert (await live.get("lan", "/api/v1/stats/queues"))[0] == 403


async def test_given_a_pause_reason_with_line_breaks_when_sent_then_no_ami_action_is_injected(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101"))
    await live.login("lan", "op101")
    reason = "Họp\r\nAction: QueueRemove\r\nQueue: hotline-1022\r\nInterface: PJSIP/op101\r\n\r\n"

    status, _ = await live.post("lan", "/api/v1/operators/me/pause", {"reason": reason})

    assert status == 200
    truth = [m for q in live.board.truth().queues.values() for m in q.members]
    assert len(truth) == len(live.agents.queues)  # still a member of every queue
    assert {m.paused for m in truth} == {True}
    assert all("\n" not in m.paused_reason and "\r" not in m.paused_reason for m in truth)
    assert live.agents.connected


async def test_given_queues_that_are_not_names_when_an_operator_logs_in_then_400_and_no_queue_add(
    live: Live,
) -> None:
    """Found by schemathesis: a list of objects as ``queues`` reached the service and gave 500."""
    live.board.add_softphone(Softphone("op101"))

    not_names: tuple[object, ...] = ([{"": {}}], "hotline-1022", [1])
    for queues in not_names:
        status, body = await live.post(
            "lan", "/api/v1/operators/me/login", {"extension": "op101", "queues": queues}
        )
        assert (status, body["error_id"]) == (400, "invalid-request")
    assert not any(e.name == "QueueMemberAdded" for e in live.board.events)
