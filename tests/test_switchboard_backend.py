"""A whole hotline call through the switchboard and the real backend: the dialplan runs the
backend's FastAGI script, the caller presses a key, the backend files a ticket in PostgreSQL
and sets HOTLINE_* variables, app_queue rings an operator, and AMI shows all of it."""

from __future__ import annotations

from pathlib import Path

import asyncpg

from switchboard import CalledParty, CallerScript, Clock, Softphone, Switchboard
from switchboard.raw_client import Message, RawAmi
from switchboard.testing import EVERYTHING_USER, find_in_order, is_event
from tests.conftest import SOUNDS
from tests.support.service import RunningService


async def test_given_the_backend_when_a_1022_caller_chooses_a_menu_option_then_ticket_variables_and_operator(
    service: RunningService, db: asyncpg.Connection, tmp_path: Path
) -> None:
    board = Switchboard(
        agi_port=service.agi_port,
        recordings_dir=service.settings.recordings,
        sounds_dir=SOUNDS,
        ami_users={"admin": EVERYTHING_USER},
        clock=Clock(scale=50.0),
        seed=5,
        called_party=CalledParty(talk_time=1.0),
    )
    await board.start()
    client = await RawAmi.connect("127.0.0.1", board.ami_port)
    try:
        await client.login("admin", "secret")
        board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
        reply = await client.action(
            "QueueAdd", ("Queue", "hotline-1022"), ("Interface", "PJSIP/op101")
        )
        assert reply["Message"] == "Added interface to queue"

        call = await board.place_call("1022", "0901234567", script=CallerScript(keys=["1"]))
        outcome = await call.wait()
        messages: list[Message] = []
        while (
            not messages
            or messages[-1].get("Channel") != call.channel
            or messages[-1].event != "Hangup"
        ):
            messages.append(await client.read())
    finally:
        await client.close()
        await board.stop()

    row = await db.fetchrow(
        "SELECT t.code, t.category, c.recording FROM calls c JOIN tickets t ON t.id = c.ticket_id"
        " WHERE c.uniqueid = $1",
        call.uniqueid,
    )
    assert row is not None
    assert outcome.agistatus == "SUCCESS"
    assert not outcome.fallback
    assert outcome.variables["HOTLINE_TICKET"] == row["code"]
    assert row["category"] == "admin_procedure"
    assert outcome.recording is not None
    # kept inside the recordings spool, as every reader joins it
    assert service.settings.recordings / row["recording"] == outcome.recording
    assert outcome.recording.exists()
    assert outcome.answered_by == "PJSIP/op101"
    found = find_in_order(
        messages,
        [
            is_event("VarSet", Channel=call.channel, Variable="MIXMONITOR_FILENAME"),
            is_event("MixMonitorStart", Channel=call.channel),
            is_event("Newexten", Channel=call.channel, Application="AGI"),
            is_event("AGIExecStart", Channel=call.channel),
            is_event("VarSet", Channel=call.channel, Variable="HOTLINE_TICKET"),
            is_event("DTMFBegin", Channel=call.channel, Digit="1", Direction="Received"),
            is_event("DTMFEnd", Channel=call.channel, Digit="1"),
            is_event("VarSet", Channel=call.channel, Variable="AGISTATUS", Value="SUCCESS"),
            is_event("Newexten", Context="hotline-queue", Application="Queue"),
            is_event("QueueCallerJoin", Channel=call.channel, Queue="hotline-1022"),
            is_event("AgentConnect", Interface="PJSIP/op101"),
            is_event("AgentComplete", Interface="PJSIP/op101"),
        ],
    )
    assert found[2]["AppData"] == f"agi://127.0.0.1:{service.agi_port}/hotline"
    assert found[4]["Value"] == row["code"]
    assert found[8]["AppData"] == "hotline-1022,tC,,,600"


async def test_given_the_backend_when_the_caller_is_hung_up_over_ami_during_the_menu_then_agistatus_hangup_and_no_queue(
    service: RunningService, db: asyncpg.Connection
) -> None:
    board = Switchboard(
        agi_port=service.agi_port,
        recordings_dir=service.settings.recordings,
        sounds_dir=SOUNDS,
        ami_users={"admin": EVERYTHING_USER},
        clock=Clock(scale=50.0),
    )
    await board.start()
    client = await RawAmi.connect("127.0.0.1", board.ami_port)
    try:
        await client.login("admin", "secret")
        call = await board.place_call("1022", script=CallerScript(keys=["1"], key_delay=2.0))
        await client.next_event("AGIExecStart")
        reply = await client.action("Hangup", ("Channel", call.channel))
        outcome = await call.wait()
    finally:
        await client.close()
        await board.stop()

    assert reply["Message"] == "Channel Hungup"
    assert outcome.agistatus == "HANGUP"
    assert outcome.queue is None
    assert not any(e.name == "QueueCallerJoin" for e in board.events)
    row = await db.fetchrow(
        "SELECT c.disposition FROM calls c WHERE c.uniqueid = $1", call.uniqueid
    )
    assert row is not None
    assert row["disposition"] == "abandoned_in_ivr"
