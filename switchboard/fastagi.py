"""The Asterisk side of FastAGI: a simulated channel connects to the backend like
``AGI(agi://host:port/script)`` does and answers its commands with Asterisk 20's exact bytes
(reference/asterisk.md §4): the ``agi_*`` block, ``200 result=…`` replies with ASCII digit codes
and ``endpos`` in samples, ``(timeout)``/``(dtmf)``/``(hangup)`` tags, ``510``, multi-line
``520``, ``511`` in dead mode, the out-of-band ``HANGUP`` notice, and ``AGISTATUS`` at the end.

What the simulated caller does is a ``CallerScript``: keys for each ``GET DATA``, when to hang
up, how a recording ends.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import math
import struct
import time
import wave
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_RATE = 8000
DEAD_OK = ("SET VARIABLE", "GET VARIABLE", "GET FULL VARIABLE", "VERBOSE", "NOOP", "EXEC")
COMMANDS = (
    "GET FULL VARIABLE",
    "WAIT FOR DIGIT",
    "SET VARIABLE",
    "GET VARIABLE",
    "STREAM FILE",
    "RECORD FILE",
    "GET DATA",
    "ANSWER",
    "VERBOSE",
    "NOOP",
    "EXEC",
)
USAGE_520 = {
    "WAIT FOR DIGIT": (
        "520-Invalid command syntax.  Proper usage follows:",
        " Usage: WAIT FOR DIGIT <timeout>",
        "        Waits up to 'timeout' milliseconds for channel to receive a DTMF digit.",
        " Returns -1 on channel failure, 0 if no digit is received in the timeout, or",
        " the numerical value of the ascii of the digit if one is received.  Use -1",
        " for the timeout value if you desire the call to block indefinitely.",
        "520 End of proper usage.",
    ),
}
_counter = itertools.count(1)


def parse_args(line: str) -> list[str]:
    """Split a command line the way res_agi's ``parse_args`` does (quotes, backslashes)."""
    args: list[str] = []
    current: list[str] = []
    quoted = escaped = started = False
    for char in line:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = started = True
        elif char == '"':
            quoted = not quoted
            started = True
        elif char in " \t" and not quoted:
            if started:
                args.append("".join(current))
                current, started = [], False
        else:
            current.append(char)
            started = True
    if started:
        args.append("".join(current))
    return args


def write_tone_wav(path: Path, seconds: float, frequency: float = 440.0) -> None:
    """A real 8 kHz mono 16-bit WAV, as RECORD FILE would leave in the spool."""
    with path.open("wb") as fh, wave.open(fh, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(tone(int(seconds * SAMPLE_RATE), frequency))


@functools.lru_cache(maxsize=64)
def tone(frames: int, frequency: float) -> bytes:
    """The samples of a tone, computed once per length: a load of simulated callers would
    otherwise spend most of its CPU synthesising the same recordings again."""
    return b"".join(
        struct.pack("<h", int(8000 * math.sin(2 * math.pi * frequency * n / SAMPLE_RATE)))
        for n in range(frames)
    )


@functools.lru_cache(maxsize=256)
def sound_frames(path: Path, mtime_ns: int, size: int) -> int:
    """The length of a sound file in frames, read once per version of the file."""
    with wave.open(str(path)) as sound:
        frames: int = sound.getnframes()
        return frames


def copy_wav(source: Path, path: Path, max_seconds: float | None) -> float:
    """``source`` as the recording, cut after ``max_seconds``; returns its length in seconds."""
    with wave.open(str(source), "rb") as audio:
        rate = audio.getframerate()
        frames = audio.getnframes()
        if max_seconds is not None:
            frames = min(frames, int(max_seconds * rate))
        data = audio.readframes(frames)
        params = audio.getparams()
    with path.open("wb") as fh, wave.open(fh, "wb") as out:
        out.setparams(params)
        out.writeframes(data)
    return frames / rate


@dataclass
class CallerScript:
    """What the simulated caller does. ``keys`` answer successive GET DATA commands
    (``None`` = presses nothing); ``hangup_on`` hangs up during the n-th command
    (1-based) whose name starts with the given words, e.g. ``("GET DATA", 1)``;
    ``hangup_idle_after`` hangs up while idle after that many commands."""

    keys: Sequence[str | None] = ()
    hangup_on: tuple[str, int] | None = None
    hangup_idle_after: int | None = None
    record_seconds: float = 2.0
    record_ends_with: str = "dtmf"  # "dtmf" (#) or "timeout" (silence / max length)
    # What the caller says into RECORD FILE: this WAV (8 kHz mono s16, e.g. a speech fixture)
    # is copied as the recording, cut at the command's time limit; None ⇒ a tone.
    record_wav: Path | None = None
    usage_error_on: str | None = None  # answer this command with a multi-line 520
    key_delay: float = 0.0  # seconds the caller takes to press a key (GET DATA)
    # Fault: Asterisk stops answering after its reply to the first command whose name starts
    # with these words (a PBX thread stuck); it keeps reading commands and the socket open.
    silent_after: str | None = None


@dataclass
class AgiOutcome:
    agistatus: str  # SUCCESS, FAILURE or HANGUP
    variables: dict[str, str]
    commands: list[str]
    replies: list[str]
    hung_up: bool


@dataclass
class SimulatedChannel:
    """One inbound call on a PJSIP trunk, running ``AGI(agi://…/script)``."""

    extension: str = "1022"
    callerid: str = "0901234567"
    # agi_* values as the trunk delivered them, by name without "agi_" (e.g. "calleridname"):
    # bytes, since a SIP peer may send any and setup_env writes them as they are.
    raw_fields: Mapping[str, bytes] = field(default_factory=dict)
    script: CallerScript = field(default_factory=CallerScript)
    sounds_dir: Path | None = None  # where hotline/<prompt>.wav live; None ⇒ every file exists
    language: str = "vi"
    variables: dict[str, str] = field(default_factory=dict)
    # The dialplan's [globals]: GET VARIABLE reads the channel's variables, then these
    # (pbx_retrieve_variable in main/pbx_variables.c).
    globals: Mapping[str, str] = field(default_factory=dict)
    uniqueid: str = field(default_factory=lambda: f"{int(time.time())}.{next(_counter)}")
    # Where AGI() runs in the dialplan (agi_context / agi_priority of the block).
    context: str = "hotline"
    priority: int = 4
    # Called after every command with the command line and the reply lines (the switchboard
    # turns these into AGIExecStart/End, DTMF and VarSet events).
    on_exchange: Callable[[str, list[str]], None] | None = None
    # The channel's name; None ⇒ a new PJSIP/telco-%08x name.
    channel_name: str | None = None
    # How the caller's key_delay passes (the switchboard's simulated clock); None ⇒ real time.
    sleep: Callable[[float], Awaitable[None]] | None = None

    def __post_init__(self) -> None:
        self.channel = self.channel_name or f"PJSIP/telco-{next(_counter):08x}"
        self.variables.setdefault("CHANNEL(linkedid)", self.uniqueid)
        self._hung_up = False
        self._writer: asyncio.StreamWriter | None = None
        self._failed = False
        self._keys: Iterator[str | None] = iter(self.script.keys)
        self._seen: dict[str, int] = {}

    def agi_block(self, host: str, port: int, script: str) -> bytes:
        fields = [
            ("network", "yes"),
            ("network_script", script),
            ("request", f"agi://{host}:{port}/{script}"),
            ("channel", self.channel),
            ("language", self.language),
            ("type", "PJSIP"),
            ("uniqueid", self.uniqueid),
            ("version", "20.5.0"),
            ("callerid", self.callerid or "unknown"),
            ("calleridname", "unknown"),
            ("callingpres", "0"),
            ("callingani2", "0"),
            ("callington", "0"),
            ("callingtns", "0"),
            ("dnid", self.extension),
            ("rdnis", "unknown"),
            ("context", self.context),
            ("extension", self.extension),
            ("priority", str(self.priority)),
            ("enhanced", "0.0"),
            ("accountcode", ""),
            ("threadid", "139872334567168"),
        ]
        return (
            b"".join(
                b"agi_%s: %s\n" % (name.encode(), self.raw_fields.get(name, value.encode()))
                for name, value in fields
            )
            + b"\n"
        )

    async def run_agi(self, host: str, port: int, script: str = "hotline") -> AgiOutcome:
        commands: list[str] = []
        replies: list[str] = []
        try:
            reader, writer = await asyncio.open_connection(host, port)
        except OSError:
            return AgiOutcome("FAILURE", self.variables, commands, replies, False)
        self._writer = writer
        writer.write(self.agi_block(host, port, script))
        await writer.drain()
        silent = False
        try:
            while True:
                if self._idle_hangup_due(len(commands)):
                    self._hung_up = True
                    writer.write(b"HANGUP\n")
                    await writer.drain()
                raw = await reader.readline()
                if not raw:
                    break  # the backend closed: AGI() returns, the dialplan goes on
                line = raw.decode().rstrip("\n")
                commands.append(line)
                if silent:
                    continue
                silent = self._falls_silent(line)
                if self.script.key_delay and line.upper().startswith("GET DATA"):
                    await (self.sleep or asyncio.sleep)(self.script.key_delay)
                reply = self._execute(line)
                replies.extend(reply)
                if self.on_exchange is not None:
                    self.on_exchange(line, reply)
                writer.write("".join(f"{r}\n" for r in reply).encode())
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
        status = "HANGUP" if self._hung_up else "FAILURE" if self._failed else "SUCCESS"
        self.variables["AGISTATUS"] = status
        return AgiOutcome(status, self.variables, commands, replies, self._hung_up)

    def _falls_silent(self, line: str) -> bool:
        after = self.script.silent_after
        return after is not None and line.upper().startswith(after.upper())

    def hang_up(self) -> None:
        """The caller hangs up now (e.g. AMI Hangup): Asterisk sends the out-of-band
        ``HANGUP`` line and the channel goes into dead mode (reference §4.4)."""
        if self._hung_up:
            return
        self._hung_up = True
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(b"HANGUP\n")

    def _idle_hangup_due(self, done: int) -> bool:
        after = self.script.hangup_idle_after
        return after is not None and not self._hung_up and done == after

    def _hangup_now(self, name: str) -> bool:
        self._seen[name] = self._seen.get(name, 0) + 1
        target = self.script.hangup_on
        return (
            target is not None
            and not self._hung_up
            and name == target[0]
            and self._seen[name] == target[1]
        )

    def _execute(self, line: str) -> list[str]:
        args = parse_args(line)
        words = [a.upper() for a in args]
        name = next((c for c in COMMANDS if words[: c.count(" ") + 1] == c.split()), "")
        if self._hung_up and name not in DEAD_OK:
            return ["511 Command Not Permitted on a dead channel or intercept routine"]
        if self.script.usage_error_on == name:
            return list(USAGE_520.get(name, USAGE_520["WAIT FOR DIGIT"]))
        hangup = self._hangup_now(name)
        reply = self._reply(name, args, hangup)
        if hangup:
            self._hung_up = True
            return [reply, "HANGUP"]
        return [reply]

    def _reply(self, name: str, args: list[str], hangup: bool) -> str:
        match name:
            case "ANSWER" | "EXEC":
                return "200 result=-1" if hangup else "200 result=0"
            case "NOOP":
                return "200 result=0"
            case "VERBOSE":
                return "200 result=1"
            case "SET VARIABLE" if len(args) >= 4:
                self.variables[args[2]] = args[3]
                return "200 result=1"
            case "GET VARIABLE" if len(args) >= 3:
                value = self.variables.get(args[2], self.globals.get(args[2]))
                return "200 result=0" if value is None else f"200 result=1 ({value})"
            case "STREAM FILE" if len(args) >= 4:
                samples = self._sound_samples(args[2])
                if samples is None:
                    self._failed = True
                    return "200 result=-1 endpos=0"
                if hangup:
                    return f"200 result=-1 endpos={samples // 2}"
                return f"200 result=0 endpos={samples}"
            case "GET DATA" if len(args) >= 3:
                # handle_getdata answers -1 when ast_app_getdata_full cannot stream the prompt
                # but returns RESULT_SUCCESS: unlike STREAM FILE, AGISTATUS stays SUCCESS.
                if self._sound_samples(args[2]) is None or hangup:
                    return "200 result=-1"
                key = next(self._keys, None)
                if key is None:
                    return "200 result= (timeout)"
                maxdigits = int(args[4]) if len(args) > 4 else 1024
                return f"200 result={key[:maxdigits]}"
            case "RECORD FILE" if len(args) >= 6:
                return self._record(args, hangup)
            case "WAIT FOR DIGIT":
                return "200 result=-1" if hangup else "200 result=0"
        if name in ("SET VARIABLE", "GET VARIABLE", "STREAM FILE", "GET DATA", "RECORD FILE"):
            return "520 Invalid command syntax.  Proper usage not available."
        return "510 Invalid or unknown command"

    def _record(self, args: list[str], hangup: bool) -> str:
        path = Path(f"{args[2]}.{args[3]}")
        limit_ms = int(args[5])
        seconds = self.script.record_seconds
        if limit_ms > 0:
            seconds = min(seconds, limit_ms / 1000)
        try:
            if self.script.record_wav is not None:
                cut = limit_ms / 1000 if limit_ms > 0 else None
                seconds = copy_wav(self.script.record_wav, path, cut)
            else:
                write_tone_wav(path, seconds)
        except OSError:
            self._failed = True
            return "200 result=-1 (writefile)"
        endpos = int(seconds * SAMPLE_RATE)
        if hangup:
            return f"200 result=-1 (hangup) endpos={endpos}"
        if self.script.record_ends_with == "dtmf":
            return f"200 result={ord('#')} (dtmf) endpos={endpos}"
        return f"200 result=0 (timeout) endpos={endpos}"

    def _sound_samples(self, name: str) -> int | None:
        if self.sounds_dir is None:
            return SAMPLE_RATE * 3
        path = self.sounds_dir / self.language / f"{name}.wav"
        try:
            stat = path.stat()
        except OSError:
            return None
        return sound_frames(path, stat.st_mtime_ns, stat.st_size)


@dataclass
class DialplanResult:
    agi: AgiOutcome
    queue: str | None  # the queue the caller joined, None if they hung up
    played: list[str]


async def run_hotline_call(
    channel: SimulatedChannel, host: str, port: int, *, default_queue: str
) -> DialplanResult:
    """The 1022/115 context of asterisk_conf/extensions.conf: preset the line's queue, run the
    AGI, fall back to an apology and the line's queue if the backend failed, else join
    ``HOTLINE_QUEUE``; a hung-up caller joins nothing."""
    channel.variables["HOTLINE_QUEUE"] = default_queue
    outcome = await channel.run_agi(host, port)
    if outcome.agistatus == "HANGUP":
        return DialplanResult(outcome, None, [])
    if outcome.agistatus == "FAILURE":
        return DialplanResult(outcome, default_queue, ["hotline/apology"])
    return DialplanResult(outcome, channel.variables.get("HOTLINE_QUEUE") or default_queue, [])
