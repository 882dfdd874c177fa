"""The FastAGI session layer against Asterisk's exact bytes over real TCP, including the cases
panoramisk 1.4 gets wrong (probe freezes the loop; 520 and HANGUP shift every later reply)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from ivr.server import FastAgiServer
from ivr.session import (
    AgiCommandError,
    AgiHangup,
    AgiProtocolError,
    AgiSession,
    AgiTimeout,
    parse_env,
    parse_reply,
    quote,
)
from switchboard.fastagi import CallerScript, SimulatedChannel, parse_args

Outcome = dict[str, object]


@pytest.fixture
async def recording_server() -> AsyncIterator[tuple[FastAgiServer, list[Outcome]]]:
    """A server whose ``probe`` script runs a fixed command sequence and records the replies."""
    outcomes: list[Outcome] = []

    async def probe(session: AgiSession) -> None:
        seen: Outcome = {"script": session.script}
        try:
            await session.command("WAIT FOR DIGIT")  # no argument: multi-line 520
        except AgiCommandError as err:
            seen["usage"] = err.reply.lines
        seen["linked"] = (await session.command("GET VARIABLE", "CHANNEL(linkedid)")).data
        seen["set"] = (await session.command("SET VARIABLE", "A", "b c")).result
        seen["a"] = (await session.command("GET VARIABLE", "A")).data
        try:
            await session.command("STREAM FILE", "hotline/welcome_1022", "")
            seen["played"] = True
            await session.command("STREAM FILE", "hotline/welcome_1022", "")
        except AgiHangup:
            seen["hangup"] = True
        seen["hung_up"] = session.hung_up
        outcomes.append(seen)

    server = FastAgiServer({"probe": probe}, header_timeout=0.5, reply_timeout=5.0)
    await server.start("127.0.0.1", 0)
    yield server, outcomes
    await server.stop(1.0)


async def test_given_a_multiline_520_when_the_next_commands_run_then_their_replies_are_not_shifted(
    recording_server: tuple[FastAgiServer, list[Outcome]],
) -> None:
    server, outcomes = recording_server
    channel = SimulatedChannel(script=CallerScript(usage_error_on="WAIT FOR DIGIT"))

    await channel.run_agi("127.0.0.1", server.port, "probe?lang=vi")

    (seen,) = outcomes
    usage = seen["usage"]
    assert isinstance(usage, tuple)
    assert usage[0].startswith("520-")
    assert usage[-1] == "520 End of proper usage."
    assert seen["linked"] == channel.uniqueid
    assert seen["set"] == "1"
    assert seen["a"] == "b c"
    assert seen["script"] == "probe"


async def test_given_hangup_while_a_command_runs_when_its_reply_comes_then_hangup_is_an_event(
    recording_server: tuple[FastAgiServer, list[Outcome]],
) -> None:
    server, outcomes = recording_server
    channel = SimulatedChannel(script=CallerScript(hangup_on=("STREAM FILE", 1)))

    outcome = await channel.run_agi("127.0.0.1", server.port, "probe")

    (seen,) = outcomes
    # the first STREAM FILE got its own reply (result -1) and HANGUP followed it
    assert seen["played"] is True
    assert seen["hangup"] is True
    assert seen["hung_up"] is True
    assert outcome.agistatus == "HANGUP"
    assert outcome.commands[-1].startswith("STREAM FILE")  # the second was never sent


async def test_given_an_unsolicited_hangup_when_a_command_is_sent_then_the_reply_is_511(
    recording_server: tuple[FastAgiServer, list[Outcome]],
) -> None:
    server, outcomes = recording_server
    channel = SimulatedChannel(script=CallerScript(hangup_idle_after=4))

    outcome = await channel.run_agi("127.0.0.1", server.port, "probe")

    (seen,) = outcomes
    assert seen["a"] == "b c"
    assert seen["hangup"] is True
    assert outcome.replies[-1].startswith("511 ")


async def test_given_a_port_probe_when_it_connects_and_closes_then_the_next_call_is_served(
    recording_server: tuple[FastAgiServer, list[Outcome]], caplog: pytest.LogCaptureFixture
) -> None:
    server, outcomes = recording_server
    caplog.set_level(logging.INFO, "ivr.server")
    for _ in range(5):
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.close()
        await writer.wait_closed()

    await asyncio.wait_for(SimulatedChannel().run_agi("127.0.0.1", server.port, "probe"), 5)

    assert len(outcomes) == 1
    assert "connected and closed without a request" in caplog.text


@pytest.mark.parametrize(
    ("payload", "logged"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "not Asterisk"),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) + b"\n\n",
            "not Asterisk",
        ),
        (b"agi_network: yes\nagi_network_script: probe\nagi_chan", "truncated agi_* block"),
        (b"agi_network: yes\n", "no complete agi_* block"),
        (b"agi_x: " + b"x" * 20000, "more than"),
        (b"agi_x: y\n" * 3000, "more than"),
    ],
)
async def test_given_bad_bytes_on_the_agi_port_when_they_arrive_then_they_are_logged_and_dropped(
    recording_server: tuple[FastAgiServer, list[Outcome]],
    caplog: pytest.LogCaptureFixture,
    payload: bytes,
    logged: str,
) -> None:
    server, outcomes = recording_server
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(payload)
    await writer.drain()
    if logged == "truncated agi_* block":
        writer.write_eof()

    assert await asyncio.wait_for(reader.read(), 5) == b""  # the server closed the connection
    writer.close()
    await SimulatedChannel().run_agi("127.0.0.1", server.port, "probe")
    assert len(outcomes) == 1
    assert logged in caplog.text


async def test_given_an_unknown_script_when_asterisk_asks_for_it_then_the_socket_closes_and_it_is_logged(
    recording_server: tuple[FastAgiServer, list[Outcome]], caplog: pytest.LogCaptureFixture
) -> None:
    server, outcomes = recording_server

    outcome = await SimulatedChannel().run_agi("127.0.0.1", server.port, "nosuch")

    assert outcome.commands == []
    assert outcome.agistatus == "SUCCESS"
    assert outcomes == []
    assert "unknown script 'nosuch'" in caplog.text


async def test_given_a_running_session_when_the_server_stops_then_it_is_given_the_grace_period() -> (
    None
):
    finished = asyncio.Event()

    async def slow(session: AgiSession) -> None:
        await asyncio.sleep(0.3)
        await session.command("SET VARIABLE", "DONE", "1")
        finished.set()

    server = FastAgiServer({"slow": slow}, header_timeout=1.0, reply_timeout=5.0)
    await server.start("127.0.0.1", 0)
    channel = SimulatedChannel()
    call = asyncio.create_task(channel.run_agi("127.0.0.1", server.port, "slow"))
    while server.active_sessions == 0:
        await asyncio.sleep(0.01)

    await server.stop(grace=5.0)

    assert finished.is_set()
    assert (await call).variables["DONE"] == "1"
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port if server.serving else 1)


async def test_given_a_session_past_the_grace_period_when_the_server_stops_then_it_is_cancelled() -> (
    None
):
    cancelled = asyncio.Event()

    async def stuck(session: AgiSession) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    server = FastAgiServer({"stuck": stuck}, header_timeout=1.0, reply_timeout=5.0)
    await server.start("127.0.0.1", 0)
    call = asyncio.create_task(SimulatedChannel().run_agi("127.0.0.1", server.port, "stuck"))
    while server.active_sessions == 0:
        await asyncio.sleep(0.01)

    await server.stop(grace=0.1)

    assert cancelled.is_set()
    assert (await asyncio.wait_for(call, 5)).agistatus == "SUCCESS"  # EOF: dialplan goes on


@pytest.mark.parametrize(
    ("line", "result", "data", "endpos"),
    [
        ("200 result=0 endpos=23920", "0", None, 23920),
        ("200 result=49 endpos=800", "49", None, 800),
        ("200 result= (timeout)", "", "timeout", None),
        ("200 result=12 (timeout)", "12", "timeout", None),
        ("200 result=35 (dtmf) endpos=12000", "35", "dtmf", 12000),
        ("200 result=-1 (hangup) endpos=3200", "-1", "hangup", 3200),
        ("200 result=1 (Nguyen Van A (home))", "1", "Nguyen Van A (home)", None),
        ("200 result=-1 (writefile)", "-1", "writefile", None),
    ],
)
def test_given_an_asterisk_200_reply_when_parsed_then_result_data_and_endpos_are_separated(
    line: str, result: str, data: str | None, endpos: int | None
) -> None:
    reply = parse_reply([line])

    assert (reply.code, reply.result, reply.data, reply.endpos) == (200, result, data, endpos)


def test_given_arguments_with_spaces_and_quotes_when_quoted_then_asterisk_reads_them_back() -> None:
    values = ["plain", "", "two words", 'say "hi"', "back\\slash", "Đường dây nóng"]

    line = "SET VARIABLE " + " ".join(quote(v) for v in values)

    assert parse_args(line)[2:] == values


def test_given_an_agi_block_without_uniqueid_when_parsed_then_it_is_refused() -> None:
    with pytest.raises(AgiProtocolError):
        parse_env(b"agi_network: yes\nagi_network_script: hotline")


async def test_given_asterisk_falls_silent_when_a_reply_is_awaited_then_the_session_closes_within_the_bound_and_sends_nothing_more() -> (
    None
):
    """res_agi.c ``run_agi`` reads one command at a time and answers each; a peer that stops
    answering is not Asterisk doing its job, and waiting on it again (a fallback) helps no one."""
    outcome: dict[str, object] = {}

    async def flow(session: AgiSession) -> None:
        await session.command("ANSWER")
        try:
            await session.command("STREAM FILE", "hotline/welcome_1022", "")
        except AgiTimeout:
            outcome["timed_out"] = True
        try:
            await session.command("SET VARIABLE", "HOTLINE_FALLBACK", "1")
        except AgiTimeout:
            outcome["refused_to_send"] = True

    server = FastAgiServer({"flow": flow}, header_timeout=1.0, reply_timeout=0.3)
    await server.start("127.0.0.1", 0)
    try:
        channel = SimulatedChannel(script=CallerScript(silent_after="ANSWER"))
        started = asyncio.get_running_loop().time()
        agi = await asyncio.wait_for(channel.run_agi("127.0.0.1", server.port, "flow"), 10)
        elapsed = asyncio.get_running_loop().time() - started
    finally:
        await server.stop(1.0)

    assert outcome == {"timed_out": True, "refused_to_send": True}
    assert [c.split()[0] for c in agi.commands] == ["ANSWER", "STREAM"]
    assert elapsed < 0.3 + 2.0  # the bound, not the old 10 minutes


async def test_given_a_get_data_when_its_keys_wait_is_long_then_the_reply_bound_includes_it() -> (
    None
):
    replies: list[str] = []

    async def flow(session: AgiSession) -> None:
        reply = await session.command("GET DATA", "hotline/menu_1022", "800", "1", allowance=0.8)
        replies.append(reply.result)

    server = FastAgiServer({"flow": flow}, header_timeout=1.0, reply_timeout=0.3)
    await server.start("127.0.0.1", 0)
    try:
        channel = SimulatedChannel(script=CallerScript(keys=["1"], key_delay=0.6))
        await asyncio.wait_for(channel.run_agi("127.0.0.1", server.port, "flow"), 10)
    finally:
        await server.stop(1.0)

    assert replies == ["1"]  # 0.6 s > the 0.3 s bound alone, < 0.3 + the 0.8 s allowance


@pytest.fixture
async def guarded_server() -> AsyncIterator[tuple[FastAgiServer, list[str]]]:
    served: list[str] = []

    async def flow(session: AgiSession) -> None:
        await session.command("ANSWER")
        served.append(session.env["agi_uniqueid"])

    server = FastAgiServer(
        {"hotline": flow}, header_timeout=1.0, reply_timeout=1.0, secret="s3cret-Đà-Nẵng"
    )
    await server.start("127.0.0.1", 0)
    yield server, served
    await server.stop(1.0)


async def test_given_a_shared_secret_when_the_pbx_shows_it_then_the_call_is_served(
    guarded_server: tuple[FastAgiServer, list[str]],
) -> None:
    """res_agi.c ``handle_getvariable`` answers from the channel, then the dialplan globals
    (``pbx_retrieve_variable``): where ``#tryinclude hotline-agi-secret.conf`` puts it."""
    server, served = guarded_server
    channel = SimulatedChannel(globals={"HOTLINE_AGI_SECRET": "s3cret-Đà-Nẵng"})

    agi = await channel.run_agi("127.0.0.1", server.port)

    assert served == [channel.uniqueid]
    assert agi.commands == ["GET VARIABLE HOTLINE_AGI_SECRET", "ANSWER"]


@pytest.mark.parametrize(
    ("globals_", "logged"),
    [({}, "did not show"), ({"HOTLINE_AGI_SECRET": "guess"}, "showed a wrong")],
)
async def test_given_a_shared_secret_when_a_peer_does_not_show_it_then_nothing_is_served_and_it_is_logged(
    guarded_server: tuple[FastAgiServer, list[str]],
    caplog: pytest.LogCaptureFixture,
    globals_: dict[str, str],
    logged: str,
) -> None:
    server, served = guarded_server
    channel = SimulatedChannel(globals=globals_)

    agi = await asyncio.wait_for(channel.run_agi("127.0.0.1", server.port), 5)

    assert served == []
    assert agi.commands == ["GET VARIABLE HOTLINE_AGI_SECRET"]  # then EOF: the dialplan goes on
    assert agi.agistatus == "SUCCESS"
    assert logged in caplog.text
    assert "guess" not in caplog.text


async def test_given_no_shared_secret_when_a_call_arrives_then_no_secret_is_asked(
    recording_server: tuple[FastAgiServer, list[Outcome]],
) -> None:
    server, outcomes = recording_server

    agi = await SimulatedChannel().run_agi("127.0.0.1", server.port, "probe")

    assert len(outcomes) == 1
    assert not any("HOTLINE_AGI_SECRET" in c for c in agi.commands)


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"Nguy\xea\xden V\xe3n \xc1nh", "Nguyễn Văn Ánh"),  # Windows-1258, tone marks combining
        (b"Jos\xe9 Mar\xeda", "José María"),  # Latin-1
        ("Trần Thị Bích".encode(), "Trần Thị Bích"),  # UTF-8 as it should be
        (b"A\x00B\x1bC\x81", "A\ufffdB\ufffdC\ufffd"),  # NUL, ESC, a byte CP1258 lacks
    ],
)
def test_given_a_caller_name_in_any_encoding_when_the_block_is_parsed_then_its_meaning_is_kept(
    raw: bytes, text: str
) -> None:
    channel = SimulatedChannel(uniqueid="1700000000.7", raw_fields={"calleridname": raw})
    block = channel.agi_block("h", 1, "hotline")

    parsed = parse_env(block.removesuffix(b"\n\n"))

    assert parsed.values["agi_calleridname"] == text
    assert ("agi_calleridname" in parsed.repaired) == (raw != text.encode())
    assert parsed.values["agi_uniqueid"] == "1700000000.7"


async def test_given_a_peer_flooding_lines_when_a_reply_is_awaited_then_reading_stops_and_the_call_ends_as_hung_up() -> (
    None
):
    """Asterisk answers one command with one reply (``run_agi`` in res_agi.c), so a peer that
    sends far more than it was asked for is not Asterisk: the connection keeps at most four
    times its line limit unread, stops reading past that, and the session ends as a hang-up
    instead of buffering whatever the peer sends."""
    outcome: dict[str, object] = {}

    async def flow(session: AgiSession) -> None:
        try:
            await session.command("ANSWER")
        except AgiHangup as err:
            outcome["hung_up"] = str(err)

    server = FastAgiServer({"flow": flow}, header_timeout=1.0, reply_timeout=5.0)
    await server.start("127.0.0.1", 0)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(SimulatedChannel().agi_block("127.0.0.1", server.port, "flow"))
        assert (await asyncio.wait_for(reader.readline(), 5)).startswith(b"ANSWER")
        flood = b"100 result=0 Trying...\n" * 50_000  # 1.1 MB of lines, no reply among them
        writer.write(flood)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        try:
            rest = await asyncio.wait_for(reader.read(), 5)
        except ConnectionResetError:  # closed by the server with the flood unread
            rest = b""
        assert rest == b""  # closed by the server, nothing more sent
        writer.close()
    finally:
        await server.stop(1.0)

    assert "connection broken: more than 65536 bytes unread" in str(outcome["hung_up"])
    assert server.active_sessions == 0
