"""FastAGI session layer: read the ``agi_*`` block, send one command at a time, read its reply.

Written for the cases panoramisk 1.4 gets wrong (reference/asterisk.md §1.6): a port probe or a
truncated block never blocks the loop, multi-line ``520`` replies are read to their end, and the
out-of-band ``HANGUP`` notice is recorded as an event instead of being taken for the reply.
"""

from __future__ import annotations

import asyncio
import re
import sys
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

# Commands Asterisk still runs after the caller hung up ("dead mode"); all others get 511.
DEAD_CHANNEL_COMMANDS = ("SET VARIABLE", "GET VARIABLE", "GET FULL VARIABLE", "VERBOSE", "NOOP")
SHARED_VALUE = 16  # header values up to this length are interned (see parse_env)
_HEADER = re.compile(r"^agi_[a-z0-9_]+$")
_ENDPOS = re.compile(r"endpos=(-?\d+)", re.ASCII)
# C0 and C1 controls but TAB, and the two non-characters XML refuses
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\ufffe\uffff]")


class AgiError(Exception):
    error_id = "agi-error"


class AgiProtocolError(AgiError):
    """The peer did not speak FastAGI (garbage, truncated block, nothing at all)."""

    error_id = "agi-protocol-error"


class AgiHangup(AgiError):
    """The channel is dead: ``HANGUP`` notice, ``511`` reply, or the socket closed."""

    error_id = "agi-hangup"


class AgiTimeout(AgiError):
    """Asterisk did not answer a command within its bound: the session is closed at once and
    nothing more is sent (a silent peer would leave every later command waiting too)."""

    error_id = "agi-timeout"


class AgiCommandError(AgiError):
    """``510`` (unknown command) or ``520`` (usage) for a command we sent."""

    error_id = "agi-command-error"

    def __init__(self, command: str, reply: AgiReply) -> None:
        super().__init__(f"{command!r} failed: {' / '.join(reply.lines)}")
        self.reply = reply


@dataclass(frozen=True)
class AgiReply:
    code: int
    result: str
    data: str | None
    endpos: int | None
    lines: tuple[str, ...]


@dataclass(frozen=True)
class AgiEnv:
    values: dict[str, str]
    repaired: tuple[str, ...]  # fields whose bytes were not clean UTF-8 text (see decode_value)


def parse_env(block: bytes) -> AgiEnv:
    """The ``agi_*`` header block (without its blank line).

    Names are Asterisk's and must look like ``agi_[a-z0-9_]+``, else the peer is not Asterisk
    (``AgiProtocolError``). Values carry what the channel carried (a SIP caller controls
    ``agi_calleridname`` and more), so no value is a reason to refuse a call: each is decoded
    leniently (``decode_value``)."""
    env: dict[str, str] = {}
    repaired: list[str] = []
    for raw in block.split(b"\n"):
        line = raw.removesuffix(b"\r")
        if not line:
            continue
        name_bytes, sep, value = line.partition(b":")
        # Names (and the short values most calls share: "unknown", "vi", the extension) are
        # interned: every call held in the IVR keeps its block, so a copy of each name per call
        # was ~1 KiB of its memory.
        name = sys.intern(name_bytes.decode("ascii", errors="replace"))
        if not sep or not _HEADER.match(name):
            raise AgiProtocolError(f"not an agi_* header line: {line[:80]!r}")
        text, clean = decode_value(value.removeprefix(b" ").strip(b" \t"))
        env[name] = sys.intern(text) if len(text) <= SHARED_VALUE else text
        if not clean:
            repaired.append(name)
    if "agi_network_script" not in env or "agi_uniqueid" not in env:
        raise AgiProtocolError("agi_* block lacks agi_network_script or agi_uniqueid")
    return AgiEnv(env, tuple(repaired))


def decode_value(raw: bytes) -> tuple[str, bool]:
    """One header value as text, and whether it was clean UTF-8 text.

    Not UTF-8 ⇒ read as Windows-1258 (Vietnamese; its upper half is Latin-1's for the letters
    Latin-1 has, so Latin-1 names come out right too), composed to NFC; bytes that are not
    characters there become U+FFFD. Control characters (NUL included: PostgreSQL text cannot
    hold it, XML cannot carry most of them) become U+FFFD as well."""
    try:
        text = raw.decode("utf-8")
        clean = True
    except UnicodeDecodeError:
        text = unicodedata.normalize("NFC", raw.decode("cp1258", errors="replace"))
        clean = False
    safe = _CONTROL.sub("\ufffd", text)
    return safe, clean and safe == text


def parse_reply(lines: list[str]) -> AgiReply:
    """One reply: ``200 result=<r>[ (<data>)][ endpos=<n>]``, ``510 …``, ``511 …`` or ``520…``."""
    head = lines[0]
    if len(head) < 3 or not (head[:3].isascii() and head[:3].isdigit()):  # not "²00"
        raise AgiProtocolError(f"not an AGI reply: {head[:80]!r}")
    code = int(head[:3])
    result, data, endpos = "", None, None
    rest = head[4:]
    if code == 200 and rest.startswith("result="):
        result, _, tail = rest[len("result=") :].partition(" ")
        tail = tail.strip()
        if tail.startswith("("):
            close = tail.rfind(")")
            if close > 0:
                data, tail = tail[1:close], tail[close + 1 :]
        match = _ENDPOS.search(tail)
        endpos = int(match[1]) if match else None
    return AgiReply(code, result, data, endpos, tuple(lines))


def quote(argument: str) -> str:
    """Quote one command argument the way Asterisk's ``parse_args`` reads it back."""
    if argument and not any(c in argument for c in ' \t"\\'):
        return argument
    return '"' + argument.replace("\\", "\\\\").replace('"', '\\"') + '"'


class LineTooLong(ValueError):
    """A line longer than the connection's limit: not Asterisk (its longest is ~1 kB)."""


class AgiConnection(asyncio.Protocol):
    """One FastAGI socket, read as lines without asyncio's streams: a held call is a transport,
    this object and one future, not a stream reader, its protocol, a writer and three more
    coroutine frames (``bench.agi_capacity`` measures the memory of a held call).

    ``line`` returns the next line with its ``\\n``; at the end of the stream what is left
    without one, then ``b""``. A line longer than ``limit`` raises ``LineTooLong``; a connection
    lost with an error raises that error; ``deadline`` (monotonic seconds, ``None``: none) bounds
    every wait of ``line`` with ``TimeoutError``. Asterisk sends one reply per command, so data
    nobody has read yet beyond ``limit`` × 4 is not Asterisk either: reading stops and the next
    ``line`` raises ``LineTooLong``."""

    __slots__ = (
        "_buffer",
        "_ended",
        "_error",
        "_limit",
        "_lines",
        "_on_open",
        "_timer",
        "_transport",
        "_unread",
        "_waiter",
        "peer",
    )

    def __init__(self, on_open: Callable[[AgiConnection], object], *, limit: int) -> None:
        self._on_open = on_open
        self._limit = limit
        self._transport: asyncio.Transport | None = None
        self._buffer = b""  # the start of a line whose end has not come yet
        self._lines: list[bytes] = []
        self._unread = 0  # bytes in _lines and _buffer
        self._ended = False
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.peer: object = None

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.peer = transport.get_extra_info("peername")
        self._on_open(self)

    def data_received(self, data: bytes) -> None:
        if self._error is not None:
            return
        self._unread += len(data)
        if b"\n" not in data:
            self._buffer += data
        else:
            *complete, rest = (self._buffer + data).split(b"\n")
            self._lines.extend(line + b"\n" for line in complete)
            self._buffer = rest
        if len(self._buffer) > self._limit:
            self._stop_reading(LineTooLong(f"more than {self._limit} bytes in a line"))
        elif self._unread > 4 * self._limit:
            self._stop_reading(LineTooLong(f"more than {4 * self._limit} bytes unread"))
        self._wake()

    def eof_received(self) -> bool:
        self._ended = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended = True
        if exc is not None and self._error is None:
            self._error = exc
        self._wake()

    # the session's side

    def write(self, data: bytes) -> None:
        assert self._transport is not None
        if self._transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self._transport.write(data)

    def close(self) -> None:
        """EOF to Asterisk: it leaves AGI() and goes on with the dialplan."""
        if self._transport is not None:
            self._transport.close()

    async def line(self, deadline: float | None = None) -> bytes:
        while not self._lines:
            if self._error is not None:
                raise self._error
            if self._ended:
                rest, self._buffer = self._buffer, b""
                self._unread -= len(rest)
                return rest
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            if deadline is not None:
                self._timer = loop.call_at(loop.time() + deadline - time.monotonic(), self._wake)
            try:
                await self._waiter
            finally:
                self._waiter = None
                if self._timer is not None:
                    self._timer.cancel()
                    self._timer = None
        line = self._lines.pop(0)
        self._unread -= len(line)
        return line

    def _stop_reading(self, error: BaseException) -> None:
        self._error = error
        self._lines.clear()
        self._buffer = b""
        if self._transport is not None:
            self._transport.pause_reading()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class AgiSession:
    """One FastAGI connection. Commands are strictly sequential (Asterisk runs one at a time).

    Every reply is awaited for at most ``reply_timeout`` seconds plus the command's own time
    (``allowance``: the keys' wait of ``GET DATA``, the length of ``RECORD FILE``).

    ``on_turn`` is told each turn's length: from a reply read to the next command sent, our
    own time between two steps (the first command, after the header block, is not a turn)."""

    __slots__ = (  # one per call held in the IVR
        "_conn",
        "_lock",
        "_on_turn",
        "_replied_at",
        "_reply_timeout",
        "env",
        "hung_up",
        "script",
        "silent",
    )

    def __init__(
        self,
        conn: AgiConnection,
        env: dict[str, str],
        *,
        reply_timeout: float,
        on_turn: Callable[[float], None] | None = None,
    ) -> None:
        self._conn = conn
        self.env = env  # the block's own dict (``parse_env``'s), not a copy
        self._reply_timeout = reply_timeout
        self.hung_up = False
        self.silent = False  # Asterisk stopped answering; the connection is closed
        self._lock = asyncio.Lock()
        self._on_turn = on_turn
        self._replied_at: float | None = None  # monotonic time of the last reply read
        self.script = self.env.get("agi_network_script", "").partition("?")[0]

    async def command(self, *words: str, allowance: float = 0.0) -> AgiReply:
        """Send one command, return its reply; raise ``AgiHangup`` once the channel is dead,
        ``AgiTimeout`` once Asterisk has let a reply wait past its bound."""
        line = " ".join([words[0], *(quote(w) for w in words[1:])])
        name = line.upper()
        if self.silent:
            raise AgiTimeout(f"Asterisk stopped answering; not sending {words[0]}")
        if self.hung_up and not name.startswith(DEAD_CHANNEL_COMMANDS):
            raise AgiHangup(f"channel hung up; not sending {words[0]}")
        async with self._lock:
            now = time.monotonic()
            if self._on_turn is not None and self._replied_at is not None:
                self._on_turn(now - self._replied_at)
            try:
                self._conn.write(line.encode("utf-8") + b"\n")
            except ConnectionError as err:
                self.hung_up = True
                raise AgiHangup(f"connection lost while sending {words[0]}") from err
            bound = self._reply_timeout + allowance
            try:
                reply = await self._read_reply(now + bound)
            except TimeoutError as err:
                self.silent = True
                self._conn.close()
                raise AgiTimeout(f"no reply to {words[0]} within {bound:.1f} s") from err
            self._replied_at = time.monotonic()
        if reply.code == 511:
            self.hung_up = True
            raise AgiHangup(f"{words[0]}: dead channel (511)")
        if reply.code != 200:
            raise AgiCommandError(line, reply)
        return reply

    async def _read_reply(self, deadline: float) -> AgiReply:
        lines: list[str] = []
        while True:
            try:
                raw = await self._conn.line(deadline)
            except (ConnectionError, ValueError) as err:
                self.hung_up = True
                raise AgiHangup(f"connection broken: {err}") from err
            if not raw.endswith(b"\n"):
                self.hung_up = True
                raise AgiHangup("Asterisk closed the connection")
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if lines:  # inside a multi-line 520 usage text, read to its end
                lines.append(line)
                if line.startswith("520 "):
                    return parse_reply(lines)
            elif line == "HANGUP":
                self.hung_up = True  # out-of-band: the reply of the running command still comes
            elif line.startswith("100 "):
                continue  # "100 result=0 Trying..." precedes GOSUB's real reply
            elif line.startswith("520-"):
                lines.append(line)
            elif line:
                return parse_reply([line])
