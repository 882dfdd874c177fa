"""The ``Caller`` port over a FastAGI session: prompts, digits, recordings, channel variables."""

from __future__ import annotations

import logging
from pathlib import Path

from ivr.errors import CallerHungUp, PbxSilent
from ivr.menu import MenuFile
from ivr.ports import Recording
from ivr.server import Handler
from ivr.service import CallInfo, IvrService
from ivr.session import AgiError, AgiHangup, AgiReply, AgiSession, AgiTimeout
from tickets.model import Line

logger = logging.getLogger(__name__)

SAMPLE_RATE = 8000  # endpos is in samples of the channel's 8 kHz audio
PROMPT_DIR = "hotline"
LINES = {line.value for line in Line}


class AgiCaller:
    __slots__ = ("_escape", "_format", "_session")

    def __init__(self, session: AgiSession, *, record_format: str, escape_digits: str) -> None:
        self._session = session
        self._format = record_format
        self._escape = escape_digits

    async def _command(self, *words: str, allowance: float = 0.0) -> AgiReply:
        """One command's reply; a dead channel is the caller's hang-up, a silent PBX its own
        error. (One coroutine frame between the flow and the session: a call held in the IVR
        keeps the whole chain of frames waiting on a reply.)"""
        try:
            reply = await self._session.command(*words, allowance=allowance)
        except AgiHangup as err:
            raise CallerHungUp(str(err)) from err
        except AgiTimeout as err:
            raise PbxSilent(str(err)) from err
        if reply.data == "hangup" and words[0] != "RECORD FILE":  # RECORD FILE keeps its take
            raise CallerHungUp(f"{words[0]}: caller hung up")
        return reply

    async def answer(self) -> None:
        await self._command("ANSWER")

    async def play(self, prompt: str) -> None:
        reply = await self._command("STREAM FILE", f"{PROMPT_DIR}/{prompt}", "")
        if reply.result == "-1":
            self._check_alive()
            logger.warning(
                "prompt %s/%s could not be played (sound file missing?)", PROMPT_DIR, prompt
            )

    async def ask(self, prompt: str, *, timeout_ms: int) -> str | None:
        reply = await self._command(
            "GET DATA", f"{PROMPT_DIR}/{prompt}", str(timeout_ms), "1", allowance=timeout_ms / 1000
        )
        if reply.result == "-1":
            self._check_alive()
            logger.warning("GET DATA failed for prompt %s; treating it as no input", prompt)
            return None
        return reply.result or None

    async def record(
        self,
        path: Path,
        *,
        max_seconds: int,
        silence_seconds: int,
        beep: bool,
        escape_digits: str | None = None,
    ) -> Recording | None:
        path.parent.mkdir(parents=True, exist_ok=True)
        words = [
            "RECORD FILE",
            str(path),
            self._format,
            self._escape if escape_digits is None else escape_digits,
            str(max_seconds * 1000),
            "0",
        ]
        if beep:
            words.append("BEEP")
        if silence_seconds:
            words.append(f"s={silence_seconds}")
        reply = await self._command(*words, allowance=float(max_seconds))
        ended_by = reply.data or ""
        if ended_by == "writefile" or (reply.result == "-1" and ended_by != "hangup"):
            logger.error("Asterisk could not record into %s (%s)", path, reply.lines[0])
            self._check_alive()
            return None
        seconds = (reply.endpos or 0) / SAMPLE_RATE
        digit = chr(int(reply.result)) if ended_by == "dtmf" and reply.result.isdigit() else None
        recording = Recording(Path(f"{path}.{self._format}"), seconds, ended_by, digit)
        if ended_by == "hangup":
            self._session.hung_up = True
        return recording

    async def set_variable(self, name: str, value: str) -> None:
        await self._command("SET VARIABLE", name, value)

    async def get_variable(self, name: str) -> str | None:
        reply = await self._command("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    def _check_alive(self) -> None:
        if self._session.hung_up:
            raise CallerHungUp("caller hung up")


def line_of(env: dict[str, str]) -> Line:
    """The hotline number dialled: ``agi_extension``, else ``agi_dnid``; unknown ⇒ 1022."""
    for key in ("agi_extension", "agi_dnid"):
        value = env.get(key, "")
        if value in LINES:
            return Line(value)
    logger.warning(
        "call to unknown extension %r (dnid %r); handled as line 1022",
        env.get("agi_extension"),
        env.get("agi_dnid"),
    )
    return Line.CITIZEN


def hotline_route(service: IvrService, menu: MenuFile) -> Handler:
    """The handler of the FastAGI script ``hotline``."""

    async def handle(session: AgiSession) -> None:
        caller = AgiCaller(
            session,
            record_format=menu.recording.format,
            escape_digits=menu.recording.escape_digits,
        )
        env = session.env
        uniqueid = env["agi_uniqueid"]
        try:
            linkedid = await caller.get_variable("CHANNEL(linkedid)") or uniqueid
        except (CallerHungUp, PbxSilent, AgiError):
            linkedid = uniqueid  # the flow saves the ticket first, whatever comes next
        info = CallInfo(
            uniqueid=uniqueid,
            linkedid=linkedid,
            line=line_of(env),
            caller_raw=env.get("agi_callerid", "unknown"),
            channel=env.get("agi_channel", ""),
        )
        await service.handle(caller, info)

    return handle
