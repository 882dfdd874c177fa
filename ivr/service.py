"""Call flows of the 1022 and 115 lines, driven by the menu file.

The ticket exists from the first step (a caller who hangs up still leaves one), is updated as
the caller moves through the menu, and every way out of a flow — normal, hang-up, error,
shutdown — ends in a known state: the channel variables say which queue to join, and the
dialplan has preset the line's queue in case even that fails.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path

from ivr.errors import CallerHungUp, PbxSilent
from ivr.menu import LineFlow, Menu, MenuFile, RecordStep
from ivr.ports import Caller, SpeechRecognizer
from ivr.recorder import IntakeRecorder
from runtime.logcontext import ticket_code
from runtime.metrics import Metrics
from tickets.codes import HOTLINE_TZ
from tickets.events import EventKind
from tickets.intake import CallIntake
from tickets.model import CallDisposition, Category, Line
from tickets.recordings import spool_relative
from tickets.service import Clock, utc_now

logger = logging.getLogger(__name__)

# Asterisk ends a RECORD FILE after s= seconds of silence: anything shorter than that plus this
# is silence only, and a grammar without [unk] would force it onto some menu word.
MIN_SPEECH_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What Asterisk tells us about the call when it connects."""

    uniqueid: str
    linkedid: str
    line: Line
    caller_raw: str
    channel: str


class IvrService:
    def __init__(
        self,
        menu: MenuFile,
        recorder: IntakeRecorder,
        recordings_dir: Path,
        speech: SpeechRecognizer | None = None,
        *,
        transcribe: bool = True,
        simulated: bool = False,
        metrics: Metrics | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._menu = menu
        self._recorder = recorder
        self._recordings = recordings_dir
        self._speech = speech  # None ⇒ menus are DTMF-only
        self._transcribe = transcribe  # False ⇒ no speech model: recordings without transcripts
        self._simulated = simulated  # the calls are ``hotline simulate``'s
        self._metrics = metrics or Metrics()
        for line in menu.lines:  # every series from 0, so that increase() sees the first call
            self._metrics.ivr_calls.labels(line.value)
            for outcome in CallDisposition:
                self._metrics.calls.labels(line.value, outcome.value)
        self._clock = clock  # ``hotline replay``'s simulated time; the wall clock otherwise

    async def handle(self, caller: Caller, info: CallInfo) -> None:
        flow = self._menu.lines[info.line]
        call = _Call(
            CallIntake(
                uniqueid=info.uniqueid,
                linkedid=info.linkedid,
                line=info.line,
                caller_raw=info.caller_raw,
                channel=info.channel,
                started_at=self._clock(),
                category=flow.category,
                queue=flow.queue,
                transcribe=self._transcribe,
                simulated=self._simulated,
            ).step(
                EventKind.CALL_STARTED,
                {"caller": info.caller_raw, "line": info.line.value},
                at=self._clock(),
            ),
            self._recorder,
            self._clock,
        )
        in_ivr = self._metrics.ivr_calls.labels(info.line.value)
        in_ivr.inc()
        try:
            await self._flow(caller, flow, call)
        finally:
            in_ivr.dec()
            self._metrics.calls.labels(info.line.value, call.intake.disposition.value).inc()

    async def _flow(self, caller: Caller, flow: LineFlow, call: _Call) -> None:
        """The call's flow, and every way out of it (hang-up, silence, shutdown, error)."""
        try:
            await self._run(caller, flow, call)
        except CallerHungUp:
            logger.info("caller hung up in the IVR after %s", call.intake.events[-1].kind)
            await call.save(
                EventKind.CALLER_HUNG_UP,
                disposition=CallDisposition.ABANDONED_IN_IVR,
                ended_at=self._clock(),
            )
        except PbxSilent as err:
            logger.error(
                "Asterisk stopped answering after %s (%s); session closed, ticket left as saved",
                call.intake.events[-1].kind,
                err,
            )
        except asyncio.CancelledError:
            logger.warning("service stopping: call leaves the IVR for queue %s", flow.queue)
            call.intake = call.intake.step(
                EventKind.SERVICE_STOPPED,
                at=self._clock(),
                disposition=CallDisposition.FALLBACK,
                ended_at=self._clock(),
            )
            await self._recorder.spool(call.intake)
            raise
        except Exception as err:
            logger.exception("IVR flow failed; caller goes to the fallback queue %s", flow.queue)
            await call.save(
                EventKind.FALLBACK,
                {"error": type(err).__name__},
                disposition=CallDisposition.FALLBACK,
                queue=flow.queue,
                ended_at=self._clock(),
            )
            await _fallback(caller, flow.queue, self._menu.apology)

    async def _run(self, caller: Caller, flow: LineFlow, call: _Call) -> None:
        code = await call.save_first()
        await caller.set_variable("HOTLINE_QUEUE", flow.queue)
        await caller.set_variable("HOTLINE_CATEGORY", call.intake.category.value)
        if code is not None:
            await caller.set_variable("HOTLINE_TICKET", code)
        await caller.answer()
        mixmonitor = await caller.get_variable("MIXMONITOR_FILENAME")
        if mixmonitor:
            stored = spool_relative(mixmonitor, self._recordings)
            call.intake = call.intake.step(
                EventKind.CALL_RECORDING, at=self._clock(), call_recording=stored
            )
        await caller.play(flow.greeting)

        category = flow.category
        record = flow.record
        if flow.menu is not None:
            category, record = await self._menu_choice(caller, flow, call)
        if category is not flow.category:
            await caller.set_variable("HOTLINE_CATEGORY", category.value)
        if record is not None:
            await self._record(caller, record, call)
        await caller.play(flow.connecting)
        code = await call.save(
            EventKind.TO_QUEUE,
            {"queue": flow.queue},
            disposition=CallDisposition.QUEUED,
            ended_at=self._clock(),
        )
        if code is not None and call.announced_code is None:
            await caller.set_variable("HOTLINE_TICKET", code)
        logger.info(
            "call %s → queue %s, ticket %s, category %s",
            call.intake.uniqueid,
            flow.queue,
            code or "(spooled)",
            category.value,
        )

    async def _menu_choice(
        self, caller: Caller, flow: LineFlow, call: _Call
    ) -> tuple[Category, RecordStep | None]:
        menu = flow.menu
        assert menu is not None
        for attempt in range(1, menu.max_attempts + 1):
            digit = await caller.ask(menu.prompt, timeout_ms=menu.timeout_ms)
            spoken: str | None = None
            if digit is None and self._speech is not None and menu.spoken_phrases():
                digit, spoken = await self._listen(caller, menu, call, attempt)
            if digit is None:
                await call.save(EventKind.NO_INPUT, {"attempt": attempt})
                break
            option = menu.option(digit)
            if option is not None:
                choice: dict[str, object] = {"digit": digit, "category": option.category.value}
                if spoken is not None:
                    choice["spoken"] = spoken
                await call.save(EventKind.MENU_CHOICE, choice, category=option.category)
                if option.category is Category.UNCLASSIFIED:
                    await caller.play(menu.operator)
                return option.category, option.record
            await call.save(EventKind.INVALID_CHOICE, {"digit": digit, "attempt": attempt})
            if attempt < menu.max_attempts:
                await caller.play(menu.invalid)
        await call.save(EventKind.TO_OPERATOR, {}, category=Category.UNCLASSIFIED)
        await caller.play(menu.operator)
        return Category.UNCLASSIFIED, None

    async def _listen(
        self, caller: Caller, menu: Menu, call: _Call, attempt: int
    ) -> tuple[str | None, str | None]:
        """No key came: record a short utterance (a key still ends it and counts) and match it
        against the menu's phrases. Bounded by the recording's length and the recognizer's
        timeout; anything else than one known phrase is ``(None, None)``: no input."""
        assert self._speech is not None
        day = call.intake.started_at.astimezone(HOTLINE_TZ).strftime("%Y%m%d")
        target = self._recordings / day / f"{call.intake.file_stem}-menu{attempt}"
        recording = await caller.record(
            target,
            max_seconds=menu.listen_seconds,
            silence_seconds=menu.listen_silence_seconds,
            beep=menu.listen_beep,
            escape_digits="".join(o.digit for o in menu.options),
        )
        if recording is None:
            return None, None
        try:
            if recording.ended_by == "hangup":
                raise CallerHungUp("caller hung up while choosing")
            if recording.digit is not None:
                return recording.digit, None
            if recording.seconds < menu.listen_silence_seconds + MIN_SPEECH_SECONDS:
                return None, None  # ended by silence at once: nothing was said
            try:
                phrase = await self._speech.recognise(recording.path, menu.spoken_phrases())
            except Exception:
                logger.exception("spoken menu choice failed; treated as no input")
                return None, None
        finally:
            recording.path.unlink(missing_ok=True)  # only the choice is kept, in the IVR path
        option = menu.spoken_option(phrase) if phrase is not None else None
        return (option.digit, phrase) if option is not None else (None, None)

    async def _record(self, caller: Caller, step: RecordStep, call: _Call) -> None:
        await caller.play(step.prompt)
        day = call.intake.started_at.astimezone(HOTLINE_TZ).strftime("%Y%m%d")
        target = self._recordings / day / f"{call.intake.file_stem}-{step.purpose}"
        recording = await caller.record(
            target,
            max_seconds=step.max_seconds,
            silence_seconds=step.silence_seconds,
            beep=self._menu.recording.beep,
        )
        if recording is None:
            await call.save(EventKind.RECORDING_FAILED, {"purpose": step.purpose})
            return
        field = f"{step.purpose}_recording"
        stored = spool_relative(recording.path, self._recordings)
        await call.save(
            EventKind.RECORDED,
            {
                "purpose": step.purpose,
                "file": stored,
                "seconds": round(recording.seconds, 2),
                "ended_by": recording.ended_by,
            },
            **{field: stored},
        )
        if recording.ended_by == "hangup":
            raise CallerHungUp("caller hung up while recording")
        if step.thanks:
            await caller.play(step.thanks)


class _Call:
    """The snapshot of one call and how to save it."""

    __slots__ = ("_clock", "_recorder", "announced_code", "intake")

    def __init__(self, intake: CallIntake, recorder: IntakeRecorder, clock: Clock) -> None:
        self.intake = intake
        self._recorder = recorder
        self._clock = clock
        self.announced_code: str | None = None

    async def save_first(self) -> str | None:
        self.announced_code = await self._saved(self.intake)
        return self.announced_code

    async def save(
        self, kind: EventKind, data: dict[str, object] | None = None, **changes: object
    ) -> str | None:
        self.intake = self.intake.step(kind, dict(data or {}), at=self._clock(), **changes)
        return await self._saved(self.intake)

    async def _saved(self, intake: CallIntake) -> str | None:
        code = await self._recorder.save(intake)
        if code is not None:
            ticket_code.set(code)  # the call's later log lines name its ticket
        return code


async def _fallback(caller: Caller, queue: str, apology: str) -> None:
    """Best effort: the dialplan has preset the queue, so a failure here still queues the call."""
    try:
        await caller.set_variable("HOTLINE_QUEUE", queue)
        await caller.set_variable("HOTLINE_FALLBACK", "1")
        await caller.play(apology)
    except Exception as err:
        logger.warning("could not set the fallback variables: %s", err)
