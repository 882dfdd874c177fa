"""Fuzz: arbitrary bytes at our FastAGI server over a real socket, and arbitrary input to the
session reader's parsers. Nothing may crash, hang or hold memory: every connection is closed
within the server's timeouts, no session task is left behind, and a valid call is still served
afterwards. ``HOTLINE_FUZZ_EXAMPLES=5000`` runs a long campaign."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import unicodedata
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.server import MAX_BLOCK, FastAgiServer, Handler
from ivr.session import AgiError, AgiProtocolError, AgiReply, AgiSession, parse_env, parse_reply
from switchboard.fastagi import SimulatedChannel
from tests.support.fuzzing import LoopThread, agi_blocks, fuzz_settings

HEADER_TIMEOUT = 0.5
REPLY_TIMEOUT = 1.0
CLOSE_WITHIN = 10.0  # seconds: generous for a loaded machine; the server's own bound is ~1 s
VALID_BLOCK = SimulatedChannel(uniqueid="1700000000.1").agi_block("127.0.0.1", 4573, "hotline")

# pieces Asterisk really sends, so hypothesis reaches the reader's deeper branches
FRAGMENTS = st.sampled_from(
    [
        b"200 result=0",
        b"200 result=1 (value)",
        b"200 result=-1 endpos=123",
        b"200 result= (timeout)",
        b"200 result=35 (dtmf) endpos=16000",
        b"100 result=0 Trying...",
        b"510 Invalid or unknown command",
        b"511 Command Not Permitted on a dead channel or intercept routine",
        b"520-Invalid command syntax.  Proper usage follows:",
        b"520 End of proper usage.",
        b"HANGUP",
        b"agi_uniqueid: 1.2",
        b"agi_network_script: hotline",
        "²00 result=1".encode(),
        b"",
    ]
)
LINE_ENDS = st.sampled_from([b"\n", b"\r\n", b"", b"\r"])
LINES = st.lists(
    st.tuples(st.one_of(FRAGMENTS, st.binary(max_size=64)), LINE_ENDS).map(lambda t: t[0] + t[1]),
    max_size=12,
).map(b"".join)


class Served:
    def __init__(self) -> None:
        self.completed: list[tuple[str, str]] = []

    async def route(self, session: AgiSession) -> None:
        answer = await session.command("ANSWER")
        value = await session.command("GET VARIABLE", "CHANNEL(linkedid)")
        await session.command("SET VARIABLE", "HOTLINE_QUEUE", "hotline-1022")
        self.completed.append((answer.result, value.data or ""))


@contextlib.contextmanager
def serving(route: Handler) -> Iterator[tuple[LoopThread, FastAgiServer]]:
    """Our FastAGI server with ``route`` as the script ``hotline``, on a loop in a thread."""
    server = FastAgiServer(
        {"hotline": route}, header_timeout=HEADER_TIMEOUT, reply_timeout=REPLY_TIMEOUT
    )
    with LoopThread() as thread:
        thread.run(server.start("127.0.0.1", 0))
        yield thread, server
        thread.run(server.stop(grace=1.0))


@pytest.fixture(scope="module")
def agi() -> Iterator[tuple[LoopThread, FastAgiServer, Served]]:
    served = Served()
    with serving(served.route) as (thread, server):
        yield thread, server, served


def exchange(port: int, data: bytes, *, half_close: bool) -> bytes:
    """Send ``data``, optionally close our side, read until the server closes; bounded."""
    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=CLOSE_WITHIN) as sock:
        try:
            sock.sendall(data)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            deadline = time.monotonic() + CLOSE_WITHIN
            while chunk := sock.recv(65536):
                received += chunk
                assert time.monotonic() < deadline, "the server kept the connection open"
        except (ConnectionResetError, BrokenPipeError):
            pass  # the server gave up on us first: fine
    return bytes(received)


def valid_call_is_served(thread: LoopThread, server: FastAgiServer) -> None:
    channel = SimulatedChannel()
    outcome = thread.run(channel.run_agi("127.0.0.1", server.port), timeout=CLOSE_WITHIN)
    assert outcome.agistatus == "SUCCESS"
    assert channel.variables["HOTLINE_QUEUE"] == "hotline-1022"
    assert outcome.commands[0] == "ANSWER"


def no_session_left(thread: LoopThread, server: FastAgiServer) -> None:
    async def drained() -> None:
        async with asyncio.timeout(CLOSE_WITHIN):
            while server.active_sessions:
                await asyncio.sleep(0.01)

    thread.run(drained())


@fuzz_settings()
@given(
    data=st.one_of(
        st.binary(max_size=2048),
        LINES,
        LINES.map(lambda tail: VALID_BLOCK + tail),
        st.tuples(LINES, LINES).map(lambda t: t[0] + b"\n" + t[1]),
    ),
    half_close=st.booleans(),
)
def test_given_arbitrary_bytes_when_sent_to_the_fastagi_server_then_it_closes_the_connection_and_still_serves_a_valid_call(
    agi: tuple[LoopThread, FastAgiServer, Served], data: bytes, half_close: bool
) -> None:
    thread, server, _ = agi
    sent = exchange(server.port, data, half_close=half_close)

    assert len(sent) < 4096  # at most a few commands, never an echo of what we sent
    no_session_left(thread, server)
    valid_call_is_served(thread, server)
    assert server.serving


def test_given_an_endless_line_when_sent_to_the_fastagi_server_then_it_is_dropped_without_being_buffered(
    agi: tuple[LoopThread, FastAgiServer, Served],
) -> None:
    thread, server, _ = agi
    with socket.create_connection(("127.0.0.1", server.port), timeout=CLOSE_WITHIN) as sock:
        sent = 0
        try:
            while sent < 64 * MAX_BLOCK:  # 1 MB of one "header line" without a newline
                sock.sendall(b"agi_" + b"x" * 65532)
                sent += 65536
        except (ConnectionResetError, BrokenPipeError):
            pass
        sock.settimeout(CLOSE_WITHIN)
        with contextlib.suppress(ConnectionResetError):
            assert sock.recv(1) == b""  # closed by the server
    no_session_left(thread, server)
    valid_call_is_served(thread, server)


@fuzz_settings(short=300)
@given(block=st.one_of(st.binary(max_size=512), LINES, LINES.map(lambda t: VALID_BLOCK + t)))
def test_given_arbitrary_bytes_when_parsed_as_an_agi_block_then_the_result_is_a_dict_or_a_protocol_error(
    block: bytes,
) -> None:
    try:
        env = parse_env(block).values
    except AgiProtocolError:
        return
    assert "agi_network_script" in env
    assert "agi_uniqueid" in env


@fuzz_settings(short=300)
@given(
    lines=st.lists(
        st.one_of(FRAGMENTS.map(lambda b: b.decode("utf-8", "replace")), st.text(max_size=80)),
        min_size=1,
        max_size=8,
    )
)
def test_given_arbitrary_reply_lines_when_parsed_then_the_result_is_a_reply_or_a_protocol_error(
    lines: list[str],
) -> None:
    try:
        reply = parse_reply(lines)
    except AgiError:
        return
    assert isinstance(reply, AgiReply)
    assert 0 <= reply.code <= 999
    assert reply.endpos is None or isinstance(reply.endpos, int)


def clean_utf8(raw: bytes) -> str | None:
    """The text Asterisk meant when ``raw`` is UTF-8 without control characters, else None."""
    try:
        text = raw.strip(b" \t").decode("utf-8")
    except UnicodeDecodeError:
        return None
    controls = any(unicodedata.category(c) == "Cc" and c != "\t" for c in text)
    return None if controls or "\ufffe" in text or "\uffff" in text else text


def readable(value: str) -> bool:
    """Text PostgreSQL, XML 1.0 and an SMS can all carry: no control character but TAB."""
    return not any(
        (unicodedata.category(c) == "Cc" and c != "\t") or c in "\ufffe\uffff" for c in value
    )


@fuzz_settings(short=300)
@given(drawn=agi_blocks())
def test_given_any_bytes_in_the_agi_fields_when_the_block_is_parsed_then_every_field_is_readable_text(
    drawn: tuple[bytes, dict[str, bytes]],
) -> None:
    block, raw = drawn

    parsed = parse_env(block.removesuffix(b"\n\n"))

    assert set(parsed.values) == set(raw)
    assert all(readable(v) for v in parsed.values.values())
    for name, value in raw.items():
        meant = clean_utf8(value)
        if meant is not None:
            assert parsed.values[name] == meant
        assert (name in parsed.repaired) == (meant is None)


class Recorded:
    def __init__(self) -> None:
        self.envs: list[dict[str, str]] = []

    async def route(self, session: AgiSession) -> None:
        self.envs.append(session.env)


@pytest.fixture(scope="module")
def recording_agi() -> Iterator[tuple[LoopThread, FastAgiServer, Recorded]]:
    recorded = Recorded()
    with serving(recorded.route) as (thread, server):
        yield thread, server, recorded


@fuzz_settings()
@given(drawn=agi_blocks())
def test_given_any_bytes_in_the_agi_fields_when_asterisk_connects_then_the_call_is_served(
    recording_agi: tuple[LoopThread, FastAgiServer, Recorded],
    drawn: tuple[bytes, dict[str, bytes]],
) -> None:
    thread, server, recorded = recording_agi
    block, raw = drawn
    served = len(recorded.envs)

    exchange(server.port, block, half_close=False)

    no_session_left(thread, server)
    assert len(recorded.envs) == served + 1  # never refused for what a field holds
    env = recorded.envs[-1]
    assert env["agi_network_script"] == "hotline"
    assert all(readable(v) for v in env.values())
    callerid_name = clean_utf8(raw["agi_calleridname"])
    if callerid_name is not None:
        assert env["agi_calleridname"] == callerid_name
