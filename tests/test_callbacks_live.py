"""Call-backs end to end (service, PostgreSQL, the switchboard's AMI and dialplan): one operator
rings a citizen however many press "call back" at once, and the citizen sees the line's public
number."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from agents.callbacks import CallbackStatus
from db.agents import PostgresAgentsRepository
from switchboard import CalledParty, CallerScript, Clock, Softphone, Switchboard
from switchboard.raw_client import RawAmi
from switchboard.testing import BACKEND_USER
from tests.conftest import SOUNDS
from tests.support.live import Live, eventually, live_hotline
from tickets.model import Role

PUBLIC_115 = "02363115115"  # a province's 115 as its carrier presents it
OUTBOUND = "02363999999"  # HOTLINE_OUTBOUND_CID: for the operators' own calls only


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    users = {"lan": Role.OPERATOR, "minh": Role.OPERATOR}
    async with live_hotline(
        database_url,
        tmp_path,
        seed=12,
        users=users,
        settings={"callback_callerid_115": PUBLIC_115},
    ) as state:
        state.board.globals["HOTLINE_OUTBOUND_CID"] = OUTBOUND
        yield state


async def abandoned_callback(live: Live, line: str, number: str) -> dict[str, Any]:
    call = await live.board.place_call(line, number, script=CallerScript(keys=["1"]), patience=5)
    assert (await call.wait()).abandoned

    async def listed() -> bool:
        return bool((await live.get("lan", "/api/v1/callbacks"))[1]["items"])

    await eventually(listed)
    (item,) = (await live.get("lan", "/api/v1/callbacks"))[1]["items"]
    return dict(item)


def dials_to(live: Live, number: str) -> list[Any]:
    return [e for e in live.board.events if e.name == "DialBegin" and e.get("DialString") == number]


async def test_given_two_operators_when_both_call_the_same_citizen_back_at_once_then_one_rings_and_the_others_get_409(
    live: Live,
) -> None:
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
    live.board.add_softphone(Softphone("op102", ring_delay=1.0, talk_time=5.0))
    live.board.set_called_party(None, CalledParty(answers=True, ring_delay=1.0, talk_time=5.0))
    callback = await abandoned_callback(live, "1022", "0933333333")
    await live.login("lan", "op101")
    await live.login("minh", "op102")

    presses = await asyncio.gather(
        *(
            live.post(who, f"/api/v1/callbacks/{callback['id']}/call")
            for who in ("lan", "minh", "lan", "minh", "lan", "minh")
        )
    )

    statuses = sorted(status for status, _ in presses)
    assert statuses == [200, 409, 409, 409, 409, 409]
    assert {body["error_id"] for status, body in presses if status == 409} == {
        "callback-invalid-transition"
    }
    ((_, calling),) = [(s, b) for s, b in presses if s == 200]
    assert (calling["status"], calling["attempts"]) == ("calling", 1)
    await eventually(lambda: len(dials_to(live, "0933333333@telco")) == 1)
    assert len([e for e in live.board.events if e.name == "OriginateResponse"]) == 1


async def test_given_a_pending_callback_when_two_updates_race_then_only_the_one_that_finds_it_pending_wins(
    db: asyncpg.Connection, live: Live
) -> None:
    callback = await abandoned_callback(live, "1022", "0955555555")
    repository = PostgresAgentsRepository(live.service.pool)

    won = await asyncio.gather(
        *(
            repository.update_callback(
                callback["id"], CallbackStatus.PENDING, CallbackStatus.CALLING, None, attempt=True
            )
            for _ in range(4)
        )
    )

    assert sorted(won) == [False, False, False, True]
    row = await db.fetchrow("SELECT status, attempts FROM callbacks WHERE id = $1", callback["id"])
    assert row is not None
    assert (row["status"], row["attempts"]) == ("calling", 1)


@pytest.mark.parametrize(("line", "shown"), [("115", PUBLIC_115), ("1022", "1022")])
async def test_given_a_callback_when_the_citizens_phone_rings_then_it_shows_the_lines_public_number(
    live: Live, line: str, shown: str
) -> None:
    """pbx.c ``pbx_outgoing_attempt`` gives the operator's channel the Originate's CallerID
    (``ast_set_callerid``); app_dial.c ``dial_exec_full`` copies that caller into the trunk
    leg's connected line (``ast_connected_line_copy_from_caller``), which res_pjsip_session.c
    ``set_from_header`` puts in the INVITE's From: the number the carrier shows. The dialplan
    leaves it alone for call-backs (``HOTLINE_CALLBACK`` set) even with HOTLINE_OUTBOUND_CID."""
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
    live.board.set_called_party(None, CalledParty(answers=True, ring_delay=1.0, talk_time=5.0))
    callback = await abandoned_callback(live, line, "0944444444")
    await live.login("lan", "op101")

    status, body = await live.post("lan", f"/api/v1/callbacks/{callback['id']}/call")

    assert status == 200, body
    await eventually(lambda: bool(dials_to(live, "0944444444@telco")))
    (dial,) = dials_to(live, "0944444444@telco")
    assert dial.get("DestConnectedLineNum") == shown
    assert dial.get("DestConnectedLineName") == f"Hotline {line}"


async def test_given_the_ami_link_down_when_an_operator_calls_back_then_503_and_the_callback_is_pending_again(
    live: Live, db: asyncpg.Connection
) -> None:
    callback = await abandoned_callback(live, "1022", "0966666666")
    live.board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=5.0))
    await live.login("lan", "op101")
    await live.board.ami.stop()  # Asterisk's AMI is gone until the end of the test
    await eventually(lambda: not live.agents.connected)

    status, body = await live.post("lan", f"/api/v1/callbacks/{callback['id']}/call")

    assert (status, body["error_id"]) == (503, "asterisk-unavailable")
    row = await db.fetchrow("SELECT status FROM callbacks WHERE id = $1", callback["id"])
    assert row is not None
    assert row["status"] == "pending"


@pytest.mark.parametrize(("variables", "shown"), [("HOTLINE_CALLBACK=7", "1022"), ("", OUTBOUND)])
async def test_given_the_operators_out_dialplan_when_a_call_leaves_by_the_trunk_then_only_an_operators_own_call_takes_the_outbound_cid(
    tmp_path: Path, variables: str, shown: str
) -> None:
    """``[operators-out]`` of extensions.conf: ``ExecIf`` sets ``CALLERID(num)`` to
    HOTLINE_OUTBOUND_CID only when HOTLINE_CALLBACK is empty; Dial copies the caller ID into
    the trunk leg's connected line (app_dial.c ``dial_exec_full``)."""
    board = Switchboard(
        recordings_dir=tmp_path,
        sounds_dir=SOUNDS,
        ami_users={"hotline": BACKEND_USER},
        clock=Clock(scale=50.0),
    )
    board.globals["HOTLINE_OUTBOUND_CID"] = OUTBOUND
    board.add_softphone(Softphone("op101", ring_delay=1.0, talk_time=2.0))
    board.set_called_party(None, CalledParty(answers=True, ring_delay=1.0, talk_time=2.0))
    await board.start()
    ami = await RawAmi.connect("127.0.0.1", board.ami_port)
    try:
        await ami.login("hotline", "secret")
        fields = [
            ("Channel", "PJSIP/op101"),
            ("Context", "operators"),
            ("Exten", "0901234567"),
            ("Priority", "1"),
            ("CallerID", "Hotline 1022 <1022>"),
            ("Async", "true"),
        ]
        if variables:
            fields.append(("Variable", variables))
        reply = await ami.action("Originate", *fields)
        while (message := await ami.read(10)).event != "DialBegin":
            pass
    finally:
        await ami.close()
        await board.stop()

    assert reply["Response"] == "Success"
    assert message["DialString"] == "0901234567@telco"
    assert message["DestConnectedLineNum"] == shown
