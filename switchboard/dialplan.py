"""The hotline dialplan of ``asterisk_conf/extensions.conf``, priority by priority.

Contexts: ``from-trunk``, ``hotline-1022``, ``emergency-115``, ``hotline-queue``,
``hotline-fallback``, ``hotline-transfer``, ``operators`` and ``operators-out``. Every priority
publishes ``Newexten`` (class dialplan) before its application runs, ``Set`` publishes
``VarSet``, ``AGI`` runs a ``switchboard.fastagi.SimulatedChannel`` against the backend,
``Queue`` runs app_queue. A Redirect (AMI) continues at its target; a hang-up ends the channel.
"""

from __future__ import annotations

import asyncio
import logging
import re
import wave
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from switchboard.channels import (
    STATE_DOWN,
    STATE_RINGING,
    STATE_UP,
    Channel,
    ChannelHungUp,
    Channels,
    Redirected,
)
from switchboard.clock import Clock
from switchboard.devices import Devices
from switchboard.events import EventBus
from switchboard.fastagi import CallerScript, SimulatedChannel, parse_args
from switchboard.people import CalledParty, draw
from switchboard.queues import AppQueue, QueueResult

logger = logging.getLogger(__name__)

Jump = tuple[str, str, str]  # context, exten, priority or label
HOTLINE_QUEUES = ("hotline-1022", "emergency-115")
LINES = {"1022": ("hotline-1022", "600", "0"), "115": ("emergency-115", "120", "10")}
TRANSFER_PRIO = {"1022": "5", "115": "20"}  # [hotline-transfer]: ahead of the line's callers
SAMPLE_RATE = 8000
# MixMonitor's day folder: extensions.conf's STRFTIME(${EPOCH},Asia/Ho_Chi_Minh,%Y%m%d), the
# day the IVR files its recordings under too, whatever the PBX's own time zone
RECORDINGS_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


@dataclass
class CallState:
    """What happened to one call, filled in while the dialplan runs."""

    script: CallerScript = field(default_factory=CallerScript)
    patience: float | None = None
    agistatus: str | None = None
    queue: str | None = None
    queue_status: str | None = None
    answered_by: str | None = None
    abandoned: bool = False
    hold_time: float | None = None
    talk_time: float | None = None
    hung_up_by: str = ""
    played: list[str] = field(default_factory=list)
    recording: Path | None = None


@dataclass
class OriginateRequest:
    """AMI Originate: ring ``channel``, then run it from context/exten (or an application)."""

    channel: str
    context: str
    exten: str
    priority: str
    application: str
    data: str
    timeout: float
    callerid: str
    variables: dict[str, str]
    action_id: str | None


@dataclass
class Step:
    label: str | None
    app: str
    data: Callable[[], str]
    run: Callable[[str], Awaitable[Jump | bool | None]] | None = None


END = True  # a step result: the channel's dialplan ends (Hangup())


def write_silence_wav(path: Path, seconds: float) -> None:
    """A real 8 kHz mono 16-bit WAV of ``seconds`` (MixMonitor's file of the whole call)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = max(0, int(seconds * SAMPLE_RATE))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(b"\x00\x00" * frames)


class Dialplan:
    def __init__(
        self,
        *,
        channels: Channels,
        queues: AppQueue,
        devices: Devices,
        bus: EventBus,
        clock: Clock,
        agi_host: str,
        agi_port: int,
        recordings_dir: Path,
        sounds_dir: Path | None,
        called_party: CalledParty,
        globals_: dict[str, str],
        longest_recording: float | None = None,
    ) -> None:
        self.channels = channels
        self.queues = queues
        self.devices = devices
        self.bus = bus
        self.clock = clock
        self.agi_host = agi_host
        self.agi_port = agi_port
        self.recordings_dir = recordings_dir
        self.sounds_dir = sounds_dir
        self.called_party = called_party
        self.called_parties: dict[str, CalledParty] = {}
        self.globals = globals_
        # MixMonitor's file holds at most this many seconds (None: the whole call); ``hotline
        # replay`` plays months of simulated calls and keeps its spool small with it
        self.longest_recording = longest_recording

    # the interpreter ---------------------------------------------------------------------------

    async def run(
        self, channel: Channel, context: str, exten: str, state: CallState, priority: str = "1"
    ) -> None:
        """Run the channel from ``context,exten,priority`` until it hangs up; always ends with
        Hangup."""
        where: Jump | None = (context, exten, priority)
        try:
            while where is not None:
                try:
                    where = await self._run_extension(channel, *where, state)
                except Redirected as moved:
                    where = (moved.context, moved.exten, moved.priority)
        except ChannelHungUp:
            pass
        finally:
            if not state.hung_up_by:
                state.hung_up_by = channel.hangup_by or "system"
            self.channels.hangup(channel)

    async def _run_extension(
        self, channel: Channel, context: str, exten: str, where: str, state: CallState
    ) -> Jump | None:
        previous = (channel.context, channel.exten)
        channel.context, channel.exten = context, exten
        steps = self._steps(channel, context, exten, state)
        if steps is None:
            channel.context, channel.exten = previous
            logger.warning("no extension %s in context %s: hang up", exten, context)
            return None
        index = self._find(steps, where)
        if index is None:
            logger.warning("no priority %s at %s@%s: hang up", where, exten, context)
            return None
        while index < len(steps):
            channel.check()
            step = steps[index]
            data = step.data()
            self.channels.newexten(channel, index + 1, step.app, data)
            result = await step.run(data) if step.run is not None else None
            if result is END:
                return None
            if isinstance(result, tuple):
                target_context, target_exten, target = result
                if target_context == context and target_exten == exten:
                    found = self._find(steps, target)
                    if found is None:
                        return None
                    index = found
                    continue
                return result
            index += 1
        return None  # falling off the end of an extension hangs up

    def priority_exists(self, context: str, exten: str, priority: str) -> bool:
        """As action_redirect checks a Redirect's Priority: a number is taken as it is (1 or
        more); a label must exist at context/exten (ast_findlabel_extension)."""
        if priority.lstrip("-").isdigit():
            return int(priority) >= 1
        probe = Channel(name="", uniqueid="", linkedid="", state=STATE_DOWN, exten=exten)
        steps = self._steps(probe, context, exten, CallState())
        return steps is not None and self._find(steps, priority) is not None

    @staticmethod
    def _find(steps: list[Step], where: str) -> int | None:
        if where.isdigit():
            number = int(where)
            return number - 1 if 1 <= number <= len(steps) else None
        return next((i for i, step in enumerate(steps) if step.label == where), None)

    def _steps(
        self, channel: Channel, context: str, exten: str, state: CallState
    ) -> list[Step] | None:
        if context == "from-trunk":
            return self._from_trunk(exten)
        if context in ("hotline-1022", "emergency-115"):
            line = "1022" if context == "hotline-1022" else "115"
            return self._line(channel, line, state) if exten == line else None
        if context == "hotline-queue" and re.fullmatch(r"\d.+", exten):
            return self._hotline_queue(channel, state)
        if context == "hotline-fallback" and re.fullmatch(r"\d.+", exten):
            return self._fallback(channel, state)
        if context == "hotline-transfer" and exten in LINES:
            return self._transfer(channel, exten)
        if context == "operators":
            return self._operators(channel, exten, state)
        if context == "operators-out" and re.fullmatch(r"0\d.+", exten):
            callback = channel.variables.get("HOTLINE_CALLBACK", "")
            outbound = self.globals.get("HOTLINE_OUTBOUND_CID", "")

            async def outbound_cid(data: str) -> None:
                if not callback and outbound:
                    channel.caller_num = outbound

            return [
                Step(
                    None,
                    "ExecIf",
                    lambda: (
                        f'$["{callback}" = "" & "{outbound}" != ""]?Set(CALLERID(num)={outbound})'
                    ),
                    outbound_cid,
                ),
                Step(
                    None,
                    "Dial",
                    lambda: f"PJSIP/{exten}@telco,60",
                    lambda data: self._dial_trunk(channel, exten, 60.0, state),
                ),
                Step(None, "Hangup", lambda: "", self._end),
            ]
        return None

    async def _end(self, data: str) -> bool:
        return END

    @staticmethod
    def _goto(target: Jump) -> Callable[[str], Awaitable[Jump]]:
        async def jump(data: str) -> Jump:
            return target

        return jump

    # contexts ---------------------------------------------------------------------------------

    def _from_trunk(self, exten: str) -> list[Step] | None:
        if exten in LINES:
            target = (LINES[exten][0], exten, "1")
            return [Step(None, "Goto", lambda: ",".join(target), self._goto(target))]
        if re.fullmatch(r"\+\d.+", exten):
            plus = ("from-trunk", exten[1:], "1")
            return [Step(None, "Goto", lambda: ",".join(plus), self._goto(plus))]
        to_1022 = ("hotline-1022", "1022", "1")
        if exten == "s":
            message = "WARNING,No dialled number from the trunk: handled as 1022"
        elif re.fullmatch(r"\d.+", exten):
            message = f"WARNING,Unexpected number {exten} from the trunk: handled as 1022"
        else:
            return None
        return [
            Step(None, "Log", lambda: message),
            Step(None, "Goto", lambda: ",".join(to_1022), self._goto(to_1022)),
        ]

    def _line(self, channel: Channel, line: str, state: CallState) -> list[Step]:
        queue, maxwait, prio = LINES[line]
        title = "Hotline 1022" if line == "1022" else "Emergency 115"
        recdir = str(self.recordings_dir)

        def recording() -> str:
            day = datetime.fromtimestamp(self.clock.now(), RECORDINGS_TZ).strftime("%Y%m%d")
            return f"{recdir}/{day}/{channel.uniqueid}-call.wav"

        return [
            Step(None, "NoOp", lambda: f"{title}: call from {channel.caller_num}"),
            Step(None, "Set", lambda: "CHANNEL(language)=vi", self._set(channel)),
            Step(None, "Set", lambda: f"HOTLINE_LINE_QUEUE={queue}", self._set(channel)),
            Step(None, "Set", lambda: f"HOTLINE_QUEUE={queue}", self._set(channel)),
            Step(None, "Set", lambda: f"HOTLINE_MAXWAIT={maxwait}", self._set(channel)),
            Step(None, "Set", lambda: f"QUEUE_PRIO={prio}", self._set(channel)),
            Step(None, "Answer", lambda: "", self._answer(channel)),
            Step(None, "MixMonitor", recording, self._mixmonitor(channel, state)),
            Step(
                None,
                "AGI",
                lambda: f"agi://{self.agi_host}:{self.agi_port}/hotline",
                self._agi(channel, state),
            ),
            Step(
                None,
                "Goto",
                lambda: f"hotline-queue,{line},1",
                self._goto(("hotline-queue", line, "1")),
            ),
        ]

    def _hotline_queue(self, channel: Channel, state: CallState) -> list[Step]:
        var = channel.variables
        exten = channel.exten

        async def if_hangup(data: str) -> Jump | None:
            return ("hotline-queue", exten, "gone") if var.get("AGISTATUS") == "HANGUP" else None

        async def if_failure(data: str) -> Jump | None:
            if var.get("AGISTATUS") == "FAILURE":
                return ("hotline-fallback", exten, "1")
            return None

        async def check_queue(data: str) -> None:
            if var.get("HOTLINE_QUEUE") not in HOTLINE_QUEUES:
                self.channels.set_var(channel, "HOTLINE_QUEUE", var.get("HOTLINE_LINE_QUEUE", ""))

        async def if_answered(data: str) -> Jump | None:
            # $[0${ANSWEREDTIME} > 0]: "" (Asterisk 21, or before 20.19) and "0" (20.19+:
            # nobody answered) are both 0, so the caller is queued again
            answered = "0" + var.get("ANSWEREDTIME", "")
            talked = answered.isdigit() and int(answered) > 0
            return ("hotline-queue", exten, "gone") if talked else None

        async def if_timeout(data: str) -> Jump | None:
            return (
                ("hotline-queue", exten, "queue") if var.get("QUEUESTATUS") == "TIMEOUT" else None
            )

        async def bump(data: str) -> None:
            prio = var.get("QUEUE_PRIO", "0")
            value = int(prio) + 1 if prio.lstrip("-").isdigit() else 1
            self.channels.set_var(channel, "QUEUE_PRIO", str(value))

        return [
            Step(
                None,
                "NoOp",
                lambda: (
                    f"{exten}: AGISTATUS={var.get('AGISTATUS', '')}"
                    f" ticket={var.get('HOTLINE_TICKET', '')}"
                    f" category={var.get('HOTLINE_CATEGORY', '')}"
                    f" queue={var.get('HOTLINE_QUEUE', '')}"
                    f" fallback={var.get('HOTLINE_FALLBACK', '')}"
                ),
            ),
            Step(
                None,
                "GotoIf",
                lambda: f'$["{var.get("AGISTATUS", "")}" = "HANGUP"]?gone',
                if_hangup,
            ),
            Step(
                None,
                "GotoIf",
                lambda: f'$["{var.get("AGISTATUS", "")}" = "FAILURE"]?hotline-fallback,{exten},1',
                if_failure,
            ),
            Step(
                None,
                "ExecIf",
                lambda: (
                    f'$["{var.get("HOTLINE_QUEUE", "")}" != "hotline-1022" & '
                    f'"{var.get("HOTLINE_QUEUE", "")}" != "emergency-115"]'
                    f"?Set(HOTLINE_QUEUE={var.get('HOTLINE_LINE_QUEUE', '')})"
                ),
                check_queue,
            ),
            Step(
                "queue",
                "Queue",
                lambda: f"{var.get('HOTLINE_QUEUE', '')},tC,,,{var.get('HOTLINE_MAXWAIT', '')}",
                self._queue(channel, state),
            ),
            Step(
                None,
                "GotoIf",
                lambda: f"$[0{var.get('ANSWEREDTIME', '')} > 0]?gone",
                if_answered,
            ),
            Step(
                None,
                "Verbose",
                lambda: (
                    f"2,{exten}: not answered in {var.get('HOTLINE_QUEUE', '')}:"
                    f" QUEUESTATUS={var.get('QUEUESTATUS', '')}"
                ),
            ),
            Step(None, "Set", lambda: f"QUEUE_PRIO=$[{var.get('QUEUE_PRIO', '')} + 1]", bump),
            Step(
                None,
                "GotoIf",
                lambda: f'$["{var.get("QUEUESTATUS", "")}" = "TIMEOUT"]?queue',
                if_timeout,
            ),
            Step(None, "MusicOnHold", lambda: "default,15", self._music_on_hold(channel)),
            Step(None, "Goto", lambda: "queue", self._goto(("hotline-queue", exten, "queue"))),
            Step("gone", "Hangup", lambda: "", self._end),
        ]

    def _fallback(self, channel: Channel, state: CallState) -> list[Step]:
        var = channel.variables
        exten = channel.exten

        async def mark(data: str) -> None:
            self.channels.set_var(channel, "HOTLINE_FALLBACK", "1")

        async def line_queue(data: str) -> None:
            self.channels.set_var(channel, "HOTLINE_QUEUE", var.get("HOTLINE_LINE_QUEUE", ""))

        return [
            Step(
                None,
                "Log",
                lambda: (
                    f"WARNING,{exten}: FastAGI failed for {channel.uniqueid} from"
                    f" {channel.caller_num}: apology and queue {var.get('HOTLINE_LINE_QUEUE', '')}"
                ),
            ),
            Step(None, "Set", lambda: "HOTLINE_FALLBACK=1", mark),
            Step(
                None,
                "Set",
                lambda: f"HOTLINE_QUEUE={var.get('HOTLINE_LINE_QUEUE', '')}",
                line_queue,
            ),
            Step(None, "Playback", lambda: "hotline/apology", self._playback(channel, state)),
            Step(
                None,
                "Goto",
                lambda: f"hotline-queue,{exten},queue",
                self._goto(("hotline-queue", exten, "queue")),
            ),
        ]

    def _transfer(self, channel: Channel, line: str) -> list[Step]:
        """A caller an operator moved to ``line`` (AMI Redirect): the line's queue settings,
        then straight into its queue (no second greeting, IVR or recording)."""
        queue, maxwait, _ = LINES[line]
        var = channel.variables
        target = ("hotline-queue", line, "queue")
        return [
            Step(
                None,
                "NoOp",
                lambda: (
                    f"Transfer of {channel.uniqueid} to {line}:"
                    f" ticket={var.get('HOTLINE_TICKET', '')}"
                ),
            ),
            Step(None, "Set", lambda: f"HOTLINE_LINE_QUEUE={queue}", self._set(channel)),
            Step(None, "Set", lambda: f"HOTLINE_QUEUE={queue}", self._set(channel)),
            Step(None, "Set", lambda: f"HOTLINE_MAXWAIT={maxwait}", self._set(channel)),
            Step(None, "Set", lambda: f"QUEUE_PRIO={TRANSFER_PRIO[line]}", self._set(channel)),
            Step(None, "Set", lambda: "ANSWEREDTIME=", self._set(channel)),
            Step(None, "Goto", lambda: ",".join(target), self._goto(target)),
        ]

    def _operators(self, channel: Channel, exten: str, state: CallState) -> list[Step] | None:
        if re.fullmatch(r"1\d{3}", exten) and exten not in LINES:
            return [
                Step(
                    None,
                    "Dial",
                    lambda: f"PJSIP/{exten},30",
                    lambda data: self._dial_phone(channel, exten, 30.0, state),
                ),
                Step(None, "Hangup", lambda: "", self._end),
            ]
        if exten in LINES:
            target = (LINES[exten][0], exten, "1")
            return [Step(None, "Goto", lambda: ",".join(target), self._goto(target))]
        if re.fullmatch(r"0[35789]\d{8}", exten) or re.fullmatch(r"02\d{9}", exten):
            out = ("operators-out", exten, "1")
            return [Step(None, "Goto", lambda: ",".join(out), self._goto(out))]
        return None

    # applications -----------------------------------------------------------------------------

    def _set(self, channel: Channel) -> Callable[[str], Awaitable[None]]:
        async def run(data: str) -> None:
            name, _, value = data.partition("=")
            if name == "CHANNEL(language)":
                channel.language = value
            elif name == "CALLERID(num)":
                channel.caller_num = value
            else:
                self.channels.set_var(channel, name, value)

        return run

    def _answer(self, channel: Channel) -> Callable[[str], Awaitable[None]]:
        async def run(data: str) -> None:
            self.channels.set_state(channel, STATE_UP)

        return run

    def _mixmonitor(self, channel: Channel, state: CallState) -> Callable[[str], Awaitable[None]]:
        async def run(data: str) -> None:
            path = Path(data)
            self.channels.set_var(channel, "MIXMONITOR_FILENAME", data)
            self.bus.publish("MixMonitorStart", "call", channel.snapshot())
            started = self.clock.now()
            state.recording = path

            def close() -> None:
                try:
                    seconds = self.clock.now() - started
                    if self.longest_recording is not None:
                        seconds = min(seconds, self.longest_recording)
                    write_silence_wav(path, seconds)
                except OSError:
                    logger.warning("MixMonitor could not write %s", path)

            channel.finalizers.append(close)

        return run

    def _agi(self, channel: Channel, state: CallState) -> Callable[[str], Awaitable[None]]:
        async def run(data: str) -> None:
            command_ids = iter(range(1, 1 << 30))

            def exchange(line: str, reply: list[str]) -> None:
                self._agi_events(channel, line, reply, next(command_ids))

            channel.variables.setdefault("CHANNEL(linkedid)", channel.linkedid)
            simulated = SimulatedChannel(
                extension=channel.exten,
                callerid=channel.caller_num,
                script=state.script,
                sounds_dir=self.sounds_dir,
                language=channel.language,
                variables=channel.variables,
                globals=self.globals,
                uniqueid=channel.uniqueid,
                context=channel.context,
                priority=channel.priority,
                on_exchange=exchange,
                channel_name=channel.name,
                sleep=self.clock.sleep,
            )
            if channel.hangup_requested:
                simulated.hang_up()
            channel.on_hangup_request = simulated.hang_up
            try:
                outcome = await simulated.run_agi(self.agi_host, self.agi_port, "hotline")
            finally:
                channel.on_hangup_request = None
            state.agistatus = outcome.agistatus
            if outcome.agistatus == "FAILURE" and not outcome.commands:
                logger.warning("Couldn't connect to any host.  FastAGI failed.")
            self.channels.set_var(channel, "AGISTATUS", outcome.agistatus)
            if outcome.hung_up:
                self.channels.request_hangup(channel, 16, by="caller", soft=False)
                channel.check()
            channel.check()  # a Redirect during the AGI takes effect now

        return run

    def _agi_events(self, channel: Channel, line: str, reply: list[str], command_id: int) -> None:
        snapshot = channel.snapshot()
        self.bus.publish(
            "AGIExecStart", "agi", [*snapshot, ("CommandId", str(command_id)), ("Command", line)]
        )
        args = parse_args(line)
        words = [a.upper() for a in args]
        first = reply[0] if reply else ""
        if words[:2] == ["SET", "VARIABLE"] and len(args) >= 4 and first.startswith("200"):
            self.channels.publish_varset(channel, args[2], args[3])
        if words[:2] == ["GET", "DATA"] and first.startswith("200 result="):
            digits = first[len("200 result=") :].split(" ", 1)[0]
            for digit in digits if digits.lstrip("-").isdigit() or digits else "":
                if digit in "0123456789*#ABCD":
                    self._dtmf(channel, digit)
        code = first[:3] if first[:3].isdigit() else "-1"
        texts = {
            "200": "Success",
            "510": "Invalid or unknown command",
            "511": "Command Not Permitted on a dead channel or intercept routine",
            "520": "Usage",
        }
        if code == "200" and "result=-1" in first:
            result_text = "Failure"
        else:
            result_text = texts.get(code, "Failure")
        self.bus.publish(
            "AGIExecEnd",
            "agi",
            [
                *channel.snapshot(),
                ("CommandId", str(command_id)),
                ("Command", line),
                ("ResultCode", code),
                ("Result", result_text),
            ],
        )

    def _dtmf(self, channel: Channel, digit: str) -> None:
        base = channel.snapshot()
        self.bus.publish("DTMFBegin", "dtmf", [*base, ("Digit", digit), ("Direction", "Received")])
        self.bus.publish(
            "DTMFEnd",
            "dtmf",
            [*base, ("Digit", digit), ("DurationMs", "120"), ("Direction", "Received")],
        )

    def _queue(self, channel: Channel, state: CallState) -> Callable[[str], Awaitable[None]]:
        async def run(data: str) -> None:
            name, options, _, _, timeout_text, *_ = [*data.split(","), "", "", "", "", ""]
            if state.patience is not None and channel.gives_up_at is None:
                channel.gives_up_at = self.clock.now() + state.patience
            state.queue = name
            timeout = float(timeout_text) if timeout_text.isdigit() else 0.0
            try:
                result: QueueResult = await self.queues.run(
                    channel, name, options=options, max_wait=timeout
                )
            except ChannelHungUp:
                if not state.answered_by:
                    state.abandoned = True
                raise
            state.queue_status = result.status or None
            if result.answered_by is not None:
                state.answered_by = result.answered_by
                state.hold_time = result.hold_time
                state.talk_time = result.talk_time
                state.hung_up_by = result.hung_up_by
                raise ChannelHungUp(channel.name)  # without option c the call ends here
            if result.status:
                self.channels.set_var(channel, "QUEUESTATUS", result.status)

        return run

    def _music_on_hold(self, channel: Channel) -> Callable[[str], Awaitable[None]]:
        async def run(data: str) -> None:
            klass, _, seconds = data.partition(",")
            self.channels.moh_start(channel, klass or "default")
            deadline = self.clock.now() + (float(seconds) if seconds else 0.0)
            try:
                while self.clock.now() < deadline:
                    await self.channels.wait(channel, deadline - self.clock.now())
            finally:
                if not channel.hangup_requested:
                    self.channels.moh_stop(channel)

        return run

    def _sound_seconds(self, name: str, language: str) -> float | None:
        if self.sounds_dir is None:
            return 3.0
        for lang in (language, "en"):
            path = self.sounds_dir / lang / f"{name}.wav"
            if path.exists():
                with wave.open(str(path)) as sound:
                    frames: int = sound.getnframes()
                    rate: int = sound.getframerate()
                return frames / float(rate)
        return None

    def _playback(self, channel: Channel, state: CallState) -> Callable[[str], Awaitable[None]]:
        async def run(data: str) -> None:
            seconds = self._sound_seconds(data, channel.language)
            if seconds is None:
                logger.warning("Playback: file %s does not exist", data)
                return
            state.played.append(data)
            deadline = self.clock.now() + seconds
            while self.clock.now() < deadline:
                await self.channels.wait(channel, deadline - self.clock.now())

        return run

    # Dial -------------------------------------------------------------------------------------

    async def _dial_phone(
        self, channel: Channel, endpoint: str, ring_for: float, state: CallState
    ) -> None:
        phone = self.devices.phone(f"PJSIP/{endpoint}")
        if phone is None or not phone.registered:
            self.channels.set_var(channel, "DIALSTATUS", "CHANUNAVAIL")
            return
        delay = draw(phone.rng, phone.ring_delay) if phone.answers else None
        talk = draw(phone.rng, phone.talk_time)
        await self._dial(
            channel,
            endpoint,
            endpoint,
            ring_for,
            delay,
            talk,
            state,
            device=phone.interface,
            context=phone.context,
        )

    async def _dial_trunk(
        self, channel: Channel, number: str, ring_for: float, state: CallState
    ) -> None:
        party = self.called_parties.get(number, self.called_party)
        delay = draw(party.rng, party.ring_delay) if party.answers else None
        talk = draw(party.rng, party.talk_time)
        await self._dial(
            channel, "telco", f"{number}@telco", ring_for, delay, talk, state, None, "from-trunk"
        )

    async def _dial(
        self,
        channel: Channel,
        endpoint: str,
        dialstring: str,
        ring_for: float,
        answer_after: float | None,
        talk: float,
        state: CallState,
        device: str | None,
        context: str,
    ) -> None:
        callee = self.channels.create(
            endpoint,
            state=STATE_DOWN,
            caller_num=dialstring.split("@", 1)[0],
            connected_num=channel.caller_num,
            connected_name=channel.caller_name,
            language=channel.language,
            context=context,  # the endpoint's context; app_dial copies the extension
            exten=channel.exten,
            linked_to=channel,
        )
        self.channels.dial_begin(channel, callee, dialstring)
        self.channels.set_state(callee, STATE_RINGING)
        self.channels.dial_state(channel, callee, "RINGING")
        if device:
            self.devices.ring(device, +1)
        start = self.clock.now()
        ring_end = start + ring_for
        answer_at = None if answer_after is None else start + answer_after
        ringing = True
        try:
            while True:
                now = self.clock.now()
                if answer_at is not None and answer_at <= min(now, ring_end):
                    break
                if now >= ring_end:
                    self.channels.dial_end(channel, callee, "NOANSWER")
                    self.channels.hangup(callee, 19)
                    self.channels.set_var(channel, "DIALSTATUS", "NOANSWER")
                    return
                target = ring_end if answer_at is None else min(answer_at, ring_end)
                await self.channels.wait(channel, target - now)
            self.channels.set_state(callee, STATE_UP)
            self.channels.dial_end(channel, callee, "ANSWER")
            if device:
                self.devices.transition(device, ring=-1, use=+1)
            ringing = False
            if channel.state != STATE_UP:
                self.channels.set_state(channel, STATE_UP)
            bridge = self.channels.bridge_create()
            self.channels.bridge_enter(bridge, channel)
            self.channels.bridge_enter(bridge, callee)
            end_at = self.clock.now() + talk
            first, second = callee, channel
            try:
                while self.clock.now() < end_at and not callee.hangup_requested:
                    await self.channels.wait(channel, end_at - self.clock.now())
                if not callee.hangup_requested:
                    self.channels.request_hangup(callee, 16, by="callee", soft=False)
            except (ChannelHungUp, Redirected):
                first, second = channel, callee
                raise
            finally:
                self.channels.bridge_leave(bridge, first)
                self.channels.bridge_leave(bridge, second)
                self.channels.bridge_destroy(bridge)
                self.channels.hangup(callee, 16)
                if device:
                    self.devices.use(device, -1)
                self.channels.set_var(channel, "DIALSTATUS", "ANSWER")
            state.talk_time = talk
        except (ChannelHungUp, Redirected, asyncio.CancelledError):
            if ringing and not callee.gone:
                self.channels.dial_end(channel, callee, "CANCEL")
                self.channels.hangup(callee, 16)
                if device:
                    self.devices.ring(device, -1)
            raise


__all__ = ["END", "CallState", "Dialplan", "OriginateRequest", "Step", "write_silence_wav"]
