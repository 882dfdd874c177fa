"""Supervision of live calls end to end, the real service against the switchboard emulator over
TCP (AMI, FastAGI, HTTP): a supervisor listens to, whispers to or barges into an operator's call
(AMI Originate of ChanSpy), an operator moves a caller between 1022 and 115 (AMI Redirect of the
caller's channel; the ticket follows), and the console's player fetches a ticket's recordings."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from db.users import PostgresUserRepository
from hotline.auth import AuthService
from switchboard import AmiEvent, CallerScript, CallHandle, Softphone
from switchboard.raw_client import Message
from switchboard.testing import find_in_order, is_event
from tests.support.live import PASSWORD, Live, eventually, live_hotline
from tests.support.websocket import LiveEvents
from tickets.model import Role

OP = "PJSIP/op101"


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    users = {
        "lan": Role.OPERATOR,
        "minh": Role.OPERATOR,
        "sup": Role.SUPERVISOR,
        "boss": Role.ADMIN,
    }
    async with live_hotline(database_url, tmp_path, seed=23, users=users) as state:
        yield state


def messages(events: Sequence[AmiEvent]) -> list[Message]:
    return [Message(e.encode(), tuple(e.fields())) for e in events]


async def a_call_on(live: Live, interface: str, *, keys: Sequence[str] = ("3",)) -> CallHandle:
    call = await live.board.place_call("1022", "0901234567", script=CallerScript(keys=list(keys)))
    await eventually(lambda: live.agents.model.call_of(interface) is not None, 20)
    return call


async def operators_on_both_lines(live: Live, *, op201_talks: float) -> None:
    """lan at op101 on the 1022 queue, minh at op201 on the 115 queue."""
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
    live.board.add_softphone(Softphone("op201", ring_delay=1.0, talk_time=op201_talks))
    for who, extension, queue in (
        ("lan", "op101", "hotline-1022"),
        ("minh", "op201", "emergency-115"),
    ):
        status, _ = await live.post(
            who, "/api/v1/operators/me/login", {"extension": extension, "queues": [queue]}
        )
        assert status == 200


def received(caplog: pytest.LogCaptureFixture) -> list[bytes]:
    """What the emulator's AMI sessions read from the backend, chunk by chunk."""
    return [
        r.args[1]
        for r in caplog.records
        if r.name == "switchboard.ami_server"
        and isinstance(r.args, tuple)
        and len(r.args) == 2
        and isinstance(r.args[1], bytes)
    ]


def spyer_gone(live: Live) -> bool:
    return not any(c.name.startswith("PJSIP/sup201-") for c in live.board.truth().channels)


async def test_given_an_operator_on_a_call_when_a_supervisor_listens_then_chanspy_runs_quietly_until_the_call_ends(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="switchboard.ami_server")
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=40.0))
    live.board.add_softphone(Softphone("sup201", ring_delay=1.0, talk_time=3600.0))
    await live.login("lan", "op101")
    call = await a_call_on(live, OP)

    status, body = await live.post(
        "sup", f"/api/v1/operators/{OP}/spy", {"mode": "listen", "extension": "sup201"}
    )
    outcome = await call.wait()
    await eventually(lambda: spyer_gone(live))

    assert status == 200, body
    assert body["answered"] is True
    assert body["application_data"] == "PJSIP/op101-,bqES"
    (raw,) = [data for data in received(caplog) if b"Action: Originate" in data]
    print("ChanSpy Originate as the emulator received it:", raw)
    assert b"Channel: PJSIP/sup201\r\n" in raw
    assert b"Application: ChanSpy\r\n" in raw
    assert b"Data: PJSIP/op101-,bqES\r\n" in raw
    assert b"Async: true\r\n" in raw
    (session,) = live.board.spies
    assert (session.mode, session.quiet, session.ended_by) == ("listen", True, "spyee-hangup")
    assert session.spyee.startswith("PJSIP/op101-")
    assert outcome.answered_by == OP
    found = find_in_order(
        messages(live.board.events),
        [
            is_event("Newchannel", Channel="PJSIP/sup201-"),
            is_event("OriginateResponse", Response="Success", Channel="PJSIP/sup201-"),
            is_event("ChanSpyStart", SpyerChannel="PJSIP/sup201-", SpyeeChannel="PJSIP/op101-"),
            is_event("Hangup", Channel="PJSIP/op101-"),
            is_event("ChanSpyStop", SpyerChannel="PJSIP/sup201-", SpyeeChannel="PJSIP/op101-"),
            is_event("Hangup", Channel="PJSIP/sup201-"),
        ],
    )
    assert found[2]["SpyeeUniqueid"] == found[3]["Uniqueid"]
    assert found[2]["SpyerUniqueid"] == found[5]["Uniqueid"]


async def test_given_a_long_call_when_a_supervisor_whispers_then_barges_then_each_mode_reaches_chanspy_and_the_call_goes_on(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
    live.board.add_softphone(Softphone("sup201", ring_delay=1.0, talk_time=10.0))
    await live.login("lan", "op101")
    call = await a_call_on(live, OP)

    whisper = await live.post(
        "sup", f"/api/v1/operators/{OP}/spy", {"mode": "whisper", "extension": "sup201"}
    )
    await eventually(lambda: spyer_gone(live) and len(live.board.spies) == 1)
    barge = await live.post(
        "boss", f"/api/v1/operators/{OP}/spy", {"mode": "barge", "extension": "PJSIP/sup201"}
    )
    await eventually(lambda: spyer_gone(live) and len(live.board.spies) == 2)
    still_talking = live.agents.model.call_of(OP) is not None
    call.hangup()
    await call.wait()

    assert [whisper[0], barge[0]] == [200, 200]
    assert [whisper[1]["application_data"], barge[1]["application_data"]] == [
        "PJSIP/op101-,bqwES",
        "PJSIP/op101-,bqBES",
    ]
    assert [(s.mode, s.ended_by) for s in live.board.spies] == [
        ("whisper", "spyer-hangup"),
        ("barge", "spyer-hangup"),
    ]
    assert still_talking
    find_in_order(
        messages(live.board.events),
        [
            is_event("ChanSpyStart", SpyerChannel="PJSIP/sup201-"),
            is_event("HangupRequest", Channel="PJSIP/sup201-"),
            is_event("ChanSpyStop", SpyerChannel="PJSIP/sup201-"),
            is_event("Hangup", Channel="PJSIP/sup201-"),
            is_event("ChanSpyStart", SpyerChannel="PJSIP/sup201-"),
            is_event("ChanSpyStop", SpyerChannel="PJSIP/sup201-"),
            is_event("Hangup", Channel="PJSIP/op101-"),
        ],
    )


async def test_given_an_idle_operator_when_a_supervisor_asks_to_listen_then_409_and_nothing_rings(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101"))
    live.board.add_softphone(Softphone("sup201"))
    await live.login("lan", "op101")

    idle = await live.post(
        "sup", f"/api/v1/operators/{OP}/spy", {"mode": "listen", "extension": "sup201"}
    )
    operator = await live.post(
        "lan", f"/api/v1/operators/{OP}/spy", {"mode": "listen", "extension": "sup201"}
    )
    bad_mode = await live.post(
        "sup", f"/api/v1/operators/{OP}/spy", {"mode": "record", "extension": "sup201"}
    )

    assert idle[0] == 409
    assert idle[1]["error_id"] == "operator-not-on-call"
    assert operator[0] == 403
    assert bad_mode[0] == 400
    assert not any(e.name in ("Newchannel", "ChanSpyStart") for e in live.board.events)


async def test_given_a_supervisors_softphone_that_does_not_join_when_listening_is_asked_then_409_says_why_and_nobody_listens(
    live: Live,
) -> None:
    """Asterisk answers an Originate with ``OriginateResponse`` whose ``Reason`` is the last
    control frame of the first leg (``fast_originate`` in main/manager.c; the values are
    ``__ast_request_and_dial``'s in main/channel.c: 3 still ringing at the timeout, 0 the
    channel could not be requested): the service must not call that a success."""
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=3600.0))
    live.board.add_softphone(Softphone("sup201", answers=False))
    live.board.add_softphone(Softphone("sup202", registered=False))
    await live.login("lan", "op101")
    await a_call_on(live, OP)

    rang = await live.post(
        "sup", f"/api/v1/operators/{OP}/spy", {"mode": "listen", "extension": "sup201"}
    )
    offline = await live.post(
        "sup", f"/api/v1/operators/{OP}/spy", {"mode": "whisper", "extension": "sup202"}
    )
    unknown = await live.post(
        "sup", f"/api/v1/operators/{OP}/spy", {"mode": "barge", "extension": "nobody9"}
    )

    assert rang[0] == 409
    assert rang[1]["error_id"] == "spy-no-answer"
    assert rang[1]["details"] == {"extension": "sup201"}
    assert "did not answer" in rang[1]["message"]
    assert (offline[0], offline[1]["error_id"]) == (409, "spy-unavailable")
    assert (unknown[0], unknown[1]["error_id"]) == (409, "spy-unavailable")
    responses = [e for e in live.board.events if e.name == "OriginateResponse"]
    assert [(e.get("Response"), e.get("Reason")) for e in responses] == [
        ("Failure", "3"),
        ("Failure", "0"),
        ("Failure", "0"),
    ]
    assert live.board.spies == []


async def test_given_a_call_that_ends_while_the_supervisors_phone_rings_when_it_answers_then_409_says_the_call_ended(
    live: Live,
) -> None:
    """ChanSpy with ``S`` (app_chanspy.c ``common_exec``: stop when no channel is left to spy
    on) leaves the supervisor's phone with nothing to hear once the operator's call is over."""
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=2.0))
    live.board.add_softphone(Softphone("sup201", ring_delay=20.0, talk_time=3600.0))
    await live.login("lan", "op101")
    call = await a_call_on(live, OP)

    status, body = await live.post(
        "sup", f"/api/v1/operators/{OP}/spy", {"mode": "listen", "extension": "sup201"}
    )
    await call.wait()

    assert status == 409, body
    assert body["error_id"] == "spy-call-ended"
    assert body["details"] == {"extension": "sup201"}


async def test_given_a_1022_call_when_the_operator_transfers_it_to_115_then_the_caller_is_redirected_and_the_ticket_follows(
    live: Live, db: asyncpg.Connection
) -> None:
    await operators_on_both_lines(live, op201_talks=5.0)

    async with live.http.ws_connect(
        f"/api/v1/events?topics=calls&token={live.tokens['sup']}"
    ) as ws:
        events = LiveEvents(ws)
        assert (await events.next())["kind"] == "hello"
        call = await a_call_on(live, OP)
        status, body = await live.post(
            "lan", f"/api/v1/calls/{call.uniqueid}/transfer", {"line": "115"}
        )
        async with asyncio.timeout(10):
            while (event := await events.next())["kind"] != "transferred":
                pass
        outcome = await call.wait()

    assert status == 200, body
    assert (body["from_line"], body["to_line"], body["channel"]) == ("1022", "115", call.channel)
    assert re.fullmatch(r"115-\d\d-\d{6}", body["new_ticket"])
    assert event["data"] == body
    assert outcome.answered_by == "PJSIP/op201"
    find_in_order(
        messages(live.board.events),
        [
            is_event("AgentConnect", Channel=call.channel, Interface=OP),
            is_event("Hangup", Channel="PJSIP/op101-"),
            is_event("QueueMemberStatus", Interface=OP, InCall="0"),
            is_event("Newexten", Channel=call.channel, Context="hotline-transfer", Exten="115"),
            is_event("QueueCallerJoin", Channel=call.channel, Queue="emergency-115"),
            is_event("AgentConnect", Channel=call.channel, Interface="PJSIP/op201"),
            is_event("AgentComplete", Interface=OP, Reason="caller"),  # at the end (handle_hangup)
        ],
    )
    redirected = [
        e
        for e in live.board.events
        if e.name == "Newexten" and e.get("Context") == "hotline-transfer"
    ]
    assert {e.get("Channel") for e in redirected} == {call.channel}  # never the operator's leg
    old = await db.fetchrow("SELECT id, line, status FROM tickets WHERE code = $1", body["ticket"])
    new = await db.fetchrow(
        "SELECT line, transferred_from FROM tickets WHERE code = $1", body["new_ticket"]
    )
    assert old is not None
    assert new is not None
    assert (old["line"], old["status"]) == ("1022", "transferred")
    assert (new["line"], new["transferred_from"]) == ("115", old["id"])
    call_ticket = await db.fetchval(
        "SELECT t.code FROM calls c JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
        call.uniqueid,
    )
    assert call_ticket == body["new_ticket"]  # the 115 operator's screen pop shows the new one


async def test_given_a_call_of_another_operator_when_an_operator_transfers_it_then_403_and_only_a_supervisor_may(
    live: Live, db: asyncpg.Connection
) -> None:
    """Who talks to whom is AgentConnect's ``Interface`` (app_queue.c ``try_calling``, which
    publishes queue_agent_connect_type with ``member->interface``; Asterisk 20): another
    operator is refused before any AMI action or ticket change, a supervisor moves the caller."""
    await operators_on_both_lines(live, op201_talks=600.0)
    call = await a_call_on(live, OP)

    other = await live.post("minh", f"/api/v1/calls/{call.uniqueid}/transfer", {"line": "115"})
    redirects_after_refusal = [
        e for e in live.board.events if e.get("Context") == "hotline-transfer"
    ]
    tickets_after_refusal = await db.fetchval("SELECT count(*) FROM tickets WHERE line = '115'")
    supervisor = await live.post("sup", f"/api/v1/calls/{call.uniqueid}/transfer", {"line": "115"})

    assert (other[0], other[1]["error_id"]) == (403, "not-on-this-call")
    assert redirects_after_refusal == []
    assert tickets_after_refusal == 0
    assert supervisor[0] == 200, supervisor
    assert supervisor[1]["by"] == "sup"


async def test_given_unknown_or_wrong_transfers_when_asked_then_404_400_and_409(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=600.0))
    await live.login("lan", "op101")

    unknown = await live.post("lan", "/api/v1/calls/1764000000.999/transfer", {"line": "115"})
    call = await a_call_on(live, OP)
    bad_line = await live.post("lan", f"/api/v1/calls/{call.uniqueid}/transfer", {"line": "113"})
    same_line = await live.post("lan", f"/api/v1/calls/{call.uniqueid}/transfer", {"line": "1022"})
    call.hangup()
    await call.wait()
    await eventually(lambda: live.agents.model.call_of(OP) is None)
    over = await live.post("sup", f"/api/v1/calls/{call.uniqueid}/transfer", {"line": "115"})

    assert (unknown[0], unknown[1]["error_id"]) == (404, "call-not-found")
    assert bad_line[0] == 400
    assert (same_line[0], same_line[1]["error_id"]) == (409, "call-already-on-line")
    assert (over[0], over[1]["error_id"]) == (409, "call-not-live")
    assert not any(e.get("Context") == "hotline-transfer" for e in live.board.events)


async def test_given_a_ticket_with_a_description_recording_when_the_player_fetches_it_then_wav_inline_and_only_inside_the_spool(
    live: Live, db: asyncpg.Connection, tmp_path: Path
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=2.0))
    await live.login("lan", "op101")
    call = await live.board.place_call("1022", "0901234567", script=CallerScript(keys=["2"]))
    outcome = await call.wait()
    code = outcome.variables["HOTLINE_TICKET"]
    auth = AuthService(PostgresUserRepository(live.service.pool), token_ttl=timedelta(hours=1))
    await auth.add_user("ubnd", PASSWORD, Role.AGENCY, "UBND-P1")
    token = (await auth.login("ubnd", PASSWORD)).token
    assert token is not None
    live.tokens["ubnd"] = token
    stored = await db.fetchval("SELECT description_recording FROM tickets WHERE code = $1", code)
    recording = live.service.settings.recordings / stored  # stored inside the spool
    outside = tmp_path / "secret.wav"
    outside.write_bytes(recording.read_bytes())

    async def fetch(who: str, kind: str = "description") -> tuple[int, str, str, bytes]:
        path = f"/api/v1/tickets/{code}/recordings/{kind}"
        async with live.http.get(path, headers=live.auth(who)) as r:
            return (
                r.status,
                r.headers.get("Content-Type", ""),
                r.headers.get("Content-Disposition", ""),
                await r.read(),
            )

    served = await fetch("lan")
    by_admin = await fetch("boss")
    location = await fetch("sup", "location")
    agency = await fetch("ubnd")
    escapes = []
    for path in (f"{Path(stored).parent}/../../secret.wav", "../secret.wav"):
        await db.execute(
            "UPDATE tickets SET description_recording = $2 WHERE code = $1", code, path
        )
        escapes.append(await fetch("sup"))
    await db.execute(  # an absolute path inside the spool, as stored before migration 0012
        "UPDATE tickets SET description_recording = $2 WHERE code = $1", code, str(recording)
    )
    absolute = await fetch("sup")

    assert not Path(stored).is_absolute()
    assert served[:3] == (200, "audio/wav", f'inline; filename="{code}-description.wav"')
    assert served[3] == recording.read_bytes()
    assert served[3][:4] == b"RIFF"
    assert by_admin[0] == 200
    assert location[0] == 404
    assert agency[0] == 403
    assert [e[0] for e in escapes] == [404, 404]
    assert (tmp_path / "secret.wav").exists()  # it was there to be served, and was not
    assert absolute[0] == 200
    assert absolute[3] == served[3]
