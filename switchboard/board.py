"""The switchboard: one emulated Asterisk (AMI server, dialplan, app_queue, phones and callers)
built from its parts, with the hooks tests need and a view of its truth."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from switchboard.ami_server import AmiServer, AmiUser
from switchboard.channels import (
    STATE_DOWN,
    STATE_RING,
    STATE_RINGING,
    STATE_UP,
    Channel,
    ChannelHungUp,
    Channels,
    Redirected,
)
from switchboard.chanspy import ChanSpy, SpySession
from switchboard.clock import Clock
from switchboard.devices import DEVICE_STATE_NAMES, DEVICE_STATE_TEXT, Devices
from switchboard.dialplan import CallState, Dialplan, OriginateRequest
from switchboard.events import AmiEvent, EventBus
from switchboard.fastagi import CallerScript
from switchboard.people import CalledParty, Softphone, draw
from switchboard.queue_log import QueueLog, QueueLogConfig
from switchboard.queues import AppQueue, QueueConfig, default_queues, sets_timing_vars
from switchboard.traffic import TrafficProfile, run_traffic

logger = logging.getLogger(__name__)

ASTERISK_VERSION = "20.19.0"  # the default; Switchboard(asterisk_version=...) for another
QUEUE_LOG_FLUSH = 5.0  # real seconds stop() waits for queue_log rows still to be inserted
UserSpec = tuple[str, Mapping[str, Any]]


@dataclass(frozen=True)
class CallOutcome:
    uniqueid: str
    channel: str
    extension: str
    agistatus: str | None
    queue: str | None  # the last queue the caller joined
    queue_status: str | None  # QUEUESTATUS of the last Queue() that returned unanswered
    answered_by: str | None  # interface of the operator, e.g. PJSIP/op101
    abandoned: bool
    hold_time: float | None
    talk_time: float | None
    hung_up_by: str  # caller | operator | ami | system
    fallback: bool
    variables: dict[str, str]
    recording: Path | None
    played: list[str]


@dataclass
class CallHandle:
    uniqueid: str
    channel: str
    finished: asyncio.Future[CallOutcome]
    _board: Switchboard

    async def wait(self) -> CallOutcome:
        return await asyncio.shield(self.finished)

    def hangup(self) -> None:
        """The caller hangs up now."""
        channel = self._board.channels.find(self.channel)
        if channel is not None:
            self._board.channels.request_hangup(channel, 16, by="caller", soft=False)


@dataclass(frozen=True)
class CallerView:
    queue: str
    position: int
    channel: str
    uniqueid: str
    callerid: str
    wait: float
    priority: int
    ringing: bool


@dataclass(frozen=True)
class MemberView:
    queue: str
    interface: str
    name: str
    membership: str
    penalty: int
    paused: bool
    paused_reason: str
    status: int
    in_call: bool
    calls_taken: int
    last_call: int
    in_wrapup: bool


@dataclass(frozen=True)
class QueueView:
    name: str
    strategy: str
    callers: tuple[CallerView, ...]
    members: tuple[MemberView, ...]
    holdtime: int
    talktime: int
    completed: int
    abandoned: int
    service_level_perf: float


@dataclass(frozen=True)
class ChannelView:
    name: str
    uniqueid: str
    linkedid: str
    state: int
    caller_num: str
    context: str
    exten: str
    application: str
    bridge: str | None


@dataclass(frozen=True)
class Truth:
    queues: dict[str, QueueView]
    channels: tuple[ChannelView, ...]
    device_states: dict[str, int] = field(default_factory=dict)


def _user(spec: UserSpec) -> AmiUser:
    secret, perms = spec
    read = frozenset(c.strip().lower() for c in perms.get("read", ()))
    write = frozenset(c.strip().lower() for c in perms.get("write", ()))
    return AmiUser(secret, read, write)


class Switchboard:
    def __init__(
        self,
        *,
        agi_host: str = "127.0.0.1",
        agi_port: int = 4573,
        recordings_dir: Path,
        sounds_dir: Path | None = None,
        ami_users: Mapping[str, UserSpec] | None = None,
        queues: list[QueueConfig] | None = None,
        clock: Clock | None = None,
        seed: int = 0,
        ami_version: str = "9.0.0",
        timestamp_events: bool = False,
        shared_lastcall: bool = True,
        called_party: CalledParty | None = None,
        fully_booted: bool = True,
        systemname: str = "",
        queue_log: QueueLogConfig | None = None,
        asterisk_version: str = ASTERISK_VERSION,
        longest_recording: float | None = None,
    ) -> None:
        """``asterisk_version`` decides what differs between releases: Queue() sets
        ANSWEREDTIME ("0" when nobody answered) from 20.19.0 / 22.9.0 on, never in 21."""
        # False: Asterisk is still loading its modules (AMI is up, app_queue is not; no
        # FullyBooted yet) until finish_boot().
        self.fully_booted = fully_booted
        self.asterisk_version = asterisk_version
        self.clock = clock or Clock()
        self.seed = seed
        self.rng = random.Random(seed)
        self.bus = EventBus()
        self.devices = Devices()
        self.devices.listen(self._device_state_event)
        self.systemname = systemname
        self.channels = Channels(self.bus, self.clock, systemname=systemname)
        self.queue_log = QueueLog(queue_log or QueueLogConfig(), self.clock)
        self.recordings_dir = recordings_dir
        self.app_queue = AppQueue(
            queues if queues is not None else default_queues(),
            channels=self.channels,
            devices=self.devices,
            bus=self.bus,
            clock=self.clock,
            rng=random.Random(f"{seed}/queues"),
            shared_lastcall=shared_lastcall,
            queue_log=self.queue_log,
            timing_vars=sets_timing_vars(asterisk_version),
        )
        self.globals: dict[str, str] = {
            "HOTLINE_BACKEND": agi_host,
            "HOTLINE_RECDIR": str(recordings_dir),
            "HOTLINE_OUTBOUND_CID": "",
        }
        self.dialplan = Dialplan(
            channels=self.channels,
            queues=self.app_queue,
            devices=self.devices,
            bus=self.bus,
            clock=self.clock,
            agi_host=agi_host,
            agi_port=agi_port,
            recordings_dir=recordings_dir,
            sounds_dir=sounds_dir,
            called_party=called_party or CalledParty(),
            globals_=self.globals,
            longest_recording=longest_recording,
        )
        self.dialplan.called_party.rng = random.Random(f"{seed}/called/None")
        users = {name: _user(spec) for name, spec in (ami_users or {}).items()}
        self.ami = AmiServer(
            self,
            bus=self.bus,
            clock=self.clock,
            users=users,
            version=ami_version,
            timestamp_events=timestamp_events,
            rng=random.Random(f"{seed}/ami"),
        )
        self.spies: list[SpySession] = []  # every ChanSpy session, in order (test hook)
        self._chanspy = ChanSpy(self.channels, self.clock, self.spies)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._running: dict[str, Channel] = {}  # channels running a dialplan
        self._started = False
        self._traffic: asyncio.Task[Any] | None = None

    # lifecycle --------------------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await self.queue_log.start()
        await self.ami.start(host, port)
        self._started = True

    def finish_boot(self) -> None:
        """Every module loaded: FullyBooted to every session reading "system" (asterisk.c,
        publish_fully_booted)."""
        self.fully_booted = True
        uptime = str(int(self.clock.now() - self.ami.started))
        self.bus.publish(
            "FullyBooted",
            "system",
            [("Status", "Fully Booted"), ("Uptime", uptime), ("LastReload", uptime)],
        )

    @property
    def ami_port(self) -> int:
        return self.ami.port

    async def stop(self) -> None:
        """Cancel and await every task the board owns, then close AMI."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.ami.stop()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.queue_log.flushed(), QUEUE_LOG_FLUSH)
        await self.queue_log.stop()
        self._started = False

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("task %s failed", task.get_name(), exc_info=task.exception())

    # people -----------------------------------------------------------------------------------

    def add_softphone(self, phone: Softphone) -> Softphone:
        """Register an operator's phone ``PJSIP/<endpoint>`` (its draws come from its own
        stream, seeded from the board's seed and the endpoint)."""
        phone.rng = random.Random(f"{self.seed}/{phone.endpoint}")
        self.devices.add(phone)
        return phone

    def softphone(self, endpoint: str) -> Softphone | None:
        return self.devices.phone(f"PJSIP/{endpoint}")

    def set_registered(self, endpoint: str, registered: bool) -> None:
        self.devices.set_registered(f"PJSIP/{endpoint}", registered)

    def set_called_party(self, number: str | None, party: CalledParty) -> None:
        """Who answers an Originate through the trunk: one number, or everyone (None)."""
        party.rng = random.Random(f"{self.seed}/called/{number}")
        if number is None:
            self.dialplan.called_party = party
        else:
            self.dialplan.called_parties[number] = party

    def _device_state_event(self, interface: str, state: int) -> None:
        self.bus.publish(
            "DeviceStateChange",
            "call",
            [("Device", interface), ("State", DEVICE_STATE_NAMES[state])],
        )

    async def place_call(
        self,
        extension: str = "1022",
        callerid: str = "0901234567",
        *,
        script: CallerScript | None = None,
        patience: float | None = None,
        callerid_name: str = "",
    ) -> CallHandle:
        """A citizen calls the hotline through the telco trunk; the call runs in a task owned
        by the board. ``patience``: simulated seconds the caller waits in queues (from the first
        join) before hanging up; None waits forever."""
        channel = self.channels.create(
            "telco",
            state=STATE_RING,
            caller_num=callerid,
            caller_name=callerid_name,
            language="vi",
            context="from-trunk",
            exten=extension or "s",
        )
        state = CallState(script=script or CallerScript(), patience=patience)
        finished: asyncio.Future[CallOutcome] = asyncio.get_running_loop().create_future()
        self._spawn(self._run_call(channel, state, finished), f"call-{channel.uniqueid}")
        return CallHandle(channel.uniqueid, channel.name, finished, self)

    async def _run_call(
        self, channel: Channel, state: CallState, finished: asyncio.Future[CallOutcome]
    ) -> None:
        self._running[channel.name] = channel
        try:
            await self.dialplan.run(channel, "from-trunk", channel.exten, state)
        except asyncio.CancelledError:
            finished.cancel()
            raise
        finally:
            self._running.pop(channel.name, None)
        variables = {k: v for k, v in channel.variables.items() if "(" not in k}
        outcome = CallOutcome(
            uniqueid=channel.uniqueid,
            channel=channel.name,
            extension=channel.exten,
            agistatus=state.agistatus,
            queue=state.queue,
            queue_status=state.queue_status,
            answered_by=state.answered_by,
            abandoned=state.abandoned,
            hold_time=state.hold_time,
            talk_time=state.talk_time,
            hung_up_by=state.hung_up_by,
            fallback=variables.get("HOTLINE_FALLBACK") == "1",
            variables=variables,
            recording=state.recording,
            played=state.played,
        )
        if not finished.done():
            finished.set_result(outcome)

    def start_traffic(self, profile: TrafficProfile | None = None) -> None:
        """Simulated citizens call at random until ``stop_traffic`` (or ``stop``)."""
        self.stop_traffic()

        async def place(
            line: str, number: str, script: CallerScript, patience: float | None
        ) -> CallHandle:
            return await self.place_call(line, number, script=script, patience=patience)

        traffic = run_traffic(
            profile or TrafficProfile(), clock=self.clock, rng=self.rng, place_call=place
        )
        self._traffic = asyncio.create_task(traffic, name="switchboard-traffic")
        self._tasks.add(self._traffic)
        self._traffic.add_done_callback(self._finished)

    def stop_traffic(self) -> None:
        if self._traffic is not None:
            self._traffic.cancel()  # awaited by stop() with the other owned tasks
            self._traffic = None

    def runs_dialplan(self, channel: Channel) -> bool:
        return channel.name in self._running

    def take_over(self, channel: Channel, context: str, exten: str, priority: str) -> None:
        """main/pbx.c ast_async_goto of a channel that runs no dialplan. A bridged one (an
        operator's leg app_queue bridged) gets AST_SOFTHANGUP_ASYNCGOTO, leaves the bridge and
        runs the dialplan from the target afterwards (ast_bridge_run_after_goto); any other is
        yanked (ast_channel_yank) and gets a PBX there (ast_pbx_start)."""
        self._running[channel.name] = channel

        def start() -> None:
            channel.redirect_to = None
            self._spawn(
                self._run_taken_over(channel, context, exten, priority),
                f"taken-over-{channel.uniqueid}",
            )

        if channel.bridge is None:
            start()
            return
        channel.taken_over = start
        channel.redirect_to = (context, exten, priority)
        self.channels.poke(channel)

    async def _run_taken_over(
        self, channel: Channel, context: str, exten: str, priority: str
    ) -> None:
        try:
            await self.dialplan.run(channel, context, exten, CallState(), priority)
        finally:
            self._running.pop(channel.name, None)

    # Originate --------------------------------------------------------------------------------

    def start_originate(self, request: OriginateRequest, *, publish: bool) -> asyncio.Future[bool]:
        """Ring the originating channel; once it answers, run it from Context/Exten. The
        returned future resolves when the first leg is answered (True) or failed."""
        answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._spawn(self._originate(request, answered, publish), f"originate-{request.channel}")
        return answered

    async def _originate(
        self, request: OriginateRequest, answered: asyncio.Future[bool], publish: bool
    ) -> None:
        tech, _, resource = request.channel.partition("/")
        endpoint = resource.split("@", 1)[0]
        phone = self.devices.phone(f"PJSIP/{endpoint}") if tech.upper() == "PJSIP" else None
        name, num = _parse_callerid(request.callerid)
        if phone is None or not phone.registered:
            self._originate_response(request, None, False, 0, publish)
            answered.set_result(False)
            return
        channel = self.channels.create(
            endpoint,
            state=STATE_DOWN,
            caller_num=num,
            caller_name=name,
            language=phone.language,
            context=request.context,
            exten=request.exten or "s",
        )
        for key, value in request.variables.items():
            self.channels.set_var(channel, key, value)
        self.channels.set_state(channel, STATE_RINGING)
        self.devices.ring(phone.interface, +1)
        ringing = True
        delay = draw(phone.rng, phone.ring_delay) if phone.answers else None
        start = self.clock.now()
        give_up = start + request.timeout
        answer_at = None if delay is None else start + delay
        try:
            try:
                while answer_at is None or answer_at > min(self.clock.now(), give_up):
                    now = self.clock.now()
                    if now >= give_up:
                        self._originate_failed(request, channel, 3, answered, publish, 19)
                        return
                    target = give_up if answer_at is None else min(answer_at, give_up)
                    await self.channels.wait(channel, target - now)
            except ChannelHungUp:
                self._originate_failed(request, channel, 1, answered, publish, None)
                return
            ringing = False
            self.channels.set_state(channel, STATE_UP)
            self.devices.transition(phone.interface, ring=-1, use=+1)
            self._originate_response(request, channel, True, 4, publish)
            answered.set_result(True)
            self._running[channel.name] = channel
            if request.application:
                await self._run_application(channel, request.application, request.data)
            else:
                await self.dialplan.run(channel, request.context, request.exten, CallState())
        finally:
            self._running.pop(channel.name, None)
            if ringing:
                self.devices.ring(phone.interface, -1)
            if not channel.gone:
                self.channels.hangup(channel)
            if channel.state == STATE_UP:
                self.devices.use(phone.interface, -1)
            if not answered.done():
                answered.cancel()

    def _originate_failed(
        self,
        request: OriginateRequest,
        channel: Channel,
        reason: int,
        answered: asyncio.Future[bool],
        publish: bool,
        cause: int | None,
    ) -> None:
        """The originating phone did not answer (3) or hung up (1) while ringing."""
        self.channels.hangup(channel, cause)
        self._originate_response(request, channel, False, reason, publish)
        answered.set_result(False)

    async def _run_application(self, channel: Channel, application: str, data: str) -> None:
        self.channels.newexten(channel, 1, application, data)
        phone = self.devices.phone(channel.endpoint)
        talk = draw(phone.rng, phone.talk_time) if phone else 30.0
        deadline = self.clock.now() + talk
        if application.lower() == "chanspy":
            await self._chanspy.run(channel, data, deadline)
            return
        try:
            while self.clock.now() < deadline:
                await self.channels.wait(channel, deadline - self.clock.now())
        except (ChannelHungUp, Redirected):  # either ends the application
            return

    def _originate_response(
        self,
        request: OriginateRequest,
        channel: Channel | None,
        success: bool,
        reason: int,
        publish: bool,
    ) -> None:
        if not publish:
            return
        body: list[tuple[str, str]] = []
        if request.action_id is not None:
            body.append(("ActionID", request.action_id))
        body += [
            ("Response", "Success" if success else "Failure"),
            ("Channel", channel.name if channel else request.channel),
        ]
        if request.application:
            body += [("Application", request.application), ("Data", request.data)]
        else:
            body += [("Context", request.context), ("Exten", request.exten)]
        name, num = _parse_callerid(request.callerid)
        body += [
            ("Reason", str(reason)),
            ("Uniqueid", channel.uniqueid if channel else "<null>"),
            ("CallerIDNum", num or "<unknown>"),
            ("CallerIDName", name or "<unknown>"),
        ]
        self.bus.publish("OriginateResponse", "call", body)

    # AMI helpers ------------------------------------------------------------------------------

    def channel_value(self, channel: Channel, variable: str) -> str | None:
        functions = {
            "CALLERID(num)": channel.caller_num,
            "CALLERID(name)": channel.caller_name,
            "CHANNEL(language)": channel.language,
            "CHANNEL(linkedid)": channel.linkedid,
            "CHANNEL(uniqueid)": channel.uniqueid,
            "UNIQUEID": channel.uniqueid,
            "EXTEN": channel.exten,
            "CONTEXT": channel.context,
        }
        if variable in functions:
            return functions[variable]
        return channel.variables.get(variable, self.globals.get(variable))

    def cli(self, command: str) -> tuple[bool, list[str]]:
        words = command.split()
        lowered = [w.lower() for w in words]
        if lowered == ["core", "show", "version"]:
            return True, [
                f"Asterisk {self.asterisk_version} built by switchboard @ emulator on a x86_64"
                " running Linux on 2026-11-26 00:00:00 UTC"
            ]
        if lowered[:2] == ["queue", "show"]:
            names = words[2:3]
            if names and names[0] not in self.app_queue.queues:
                return True, [f"No such queue: {names[0]}."]
            lines: list[str] = []
            for queue_name in names or list(self.app_queue.queues):
                lines += self._queue_show(queue_name)
            return True, lines
        if lowered == ["core", "show", "channels"]:
            lines = ["Channel              Location             State   Application(Data)"]
            count = 0
            for channel in self.channels:
                location = f"{channel.exten}@{channel.context}:{channel.priority}"
                lines.append(
                    f"{channel.name:<20} {location:<20} {channel.state:<7} "
                    f"{channel.application}({channel.app_data})"
                )
                count += 1
            lines.append(f"{count} active channel{'s' if count != 1 else ''}")
            return True, lines
        return False, [
            f"No such command '{command}' (type 'core show help {command}' for other possible"
            " commands)"
        ]

    def _queue_show(self, name: str) -> list[str]:
        queue = self.app_queue.queues[name]
        config = queue.config
        now = self.clock.now()
        perf, perf2 = queue.service_level_perf()
        maximum = "unlimited" if not config.maxlen else str(config.maxlen)
        lines = [
            f"{name} has {len(queue.entries)} calls (max {maximum}) in '{config.strategy}'"
            f" strategy ({queue.holdtime}s holdtime, {queue.talktime}s talktime),"
            f" W:{config.weight}, C:{queue.completed}, A:{queue.abandoned},"
            f" SL:{perf:2.1f}%, SL2:{perf2:2.1f}% within {config.servicelevel}s"
        ]
        if queue.members:
            lines.append("   Members: ")
            for member in queue.members.values():
                parts = [f"      {member.name} ({member.interface}"]
                if member.state_interface != member.interface:
                    parts.append(f" from {member.state_interface}")
                parts.append(")")
                parts.append(
                    " (ringinuse enabled)" if member.ringinuse else " (ringinuse disabled)"
                )
                parts.append(f" ({member.membership})")
                if member.paused:
                    since = int(now - member.last_pause)
                    reason = f":{member.paused_reason}" if member.paused_reason else ""
                    parts.append(f" (paused{reason} was {since} secs ago)")
                if member.in_call:
                    parts.append(" (in call)")
                parts.append(f" ({DEVICE_STATE_TEXT[member.status]})")
                if member.calls:
                    since = int(now - member.last_call)
                    parts.append(f" has taken {member.calls} calls (last was {since} secs ago)")
                else:
                    parts.append(" has taken no calls yet")
                parts.append(f" (login was {int(now - member.login_time)} secs ago)")
                lines.append("".join(parts))
        else:
            lines.append("   No Members")
        if queue.entries:
            lines.append("   Callers: ")
            for position, entry in enumerate(queue.entries, start=1):
                wait = int(now - entry.start)
                lines.append(
                    f"      {position}. {entry.channel.name} (wait: {wait // 60}:{wait % 60:02d},"
                    f" prio: {entry.prio})"
                )
        else:
            lines.append("   No Callers")
        lines.append("")
        return lines

    # test hooks -------------------------------------------------------------------------------

    def freeze_ami(self) -> None:
        """AMI stops answering: sockets stay open, nothing is read or sent (events are held)."""
        self.ami.freeze()

    def thaw_ami(self) -> None:
        self.ami.thaw()

    async def kill_ami_sessions(self) -> None:
        """Close every AMI connection; the listener keeps accepting."""
        await self.ami.close_sessions()

    async def restart_ami(self, down_for: float = 0.0) -> None:
        """Close every session and the listener, stay down ``down_for`` simulated seconds,
        then listen again on the same port (new connections get a new banner)."""
        host, port = self.ami.host, self.ami.port
        await self.ami.stop()
        if down_for > 0:
            await self.clock.sleep(down_for)
        await self.ami.start(host, port)

    def inject_ami(self, data: bytes) -> None:
        """Write raw bytes to every AMI session (malformed frames, unknown events …)."""
        self.ami.inject(data)

    @property
    def events(self) -> list[AmiEvent]:
        """Every event published so far (bounded history), in order."""
        return list(self.bus.history)

    def truth(self) -> Truth:
        now = self.clock.now()
        queues: dict[str, QueueView] = {}
        for name, queue in self.app_queue.queues.items():
            callers = tuple(
                CallerView(
                    queue=name,
                    position=position,
                    channel=entry.channel.name,
                    uniqueid=entry.channel.uniqueid,
                    callerid=entry.channel.caller_num,
                    wait=now - entry.start,
                    priority=entry.prio,
                    ringing=entry.pending,
                )
                for position, entry in enumerate(queue.entries, start=1)
            )
            members = tuple(
                MemberView(
                    queue=name,
                    interface=m.interface,
                    name=m.name,
                    membership=m.membership,
                    penalty=m.penalty,
                    paused=m.paused,
                    paused_reason=m.paused_reason,
                    status=m.status,
                    in_call=m.in_call,
                    calls_taken=m.calls,
                    last_call=int(m.last_call),
                    in_wrapup=self.app_queue.in_wrapup(queue, m),
                )
                for m in queue.members.values()
            )
            perf, _ = queue.service_level_perf()
            queues[name] = QueueView(
                name=name,
                strategy=queue.config.strategy,
                callers=callers,
                members=members,
                holdtime=queue.holdtime,
                talktime=queue.talktime,
                completed=queue.completed,
                abandoned=queue.abandoned,
                service_level_perf=perf,
            )
        channels = tuple(
            ChannelView(
                name=c.name,
                uniqueid=c.uniqueid,
                linkedid=c.linkedid,
                state=c.state,
                caller_num=c.caller_num,
                context=c.context,
                exten=c.exten,
                application=c.application,
                bridge=c.bridge.uniqueid if c.bridge else None,
            )
            for c in self.channels
        )
        devices = {
            p.interface: self.devices.state(p.interface) for p in self.devices.phones.values()
        }
        return Truth(queues, channels, devices)


def _parse_callerid(text: str) -> tuple[str, str]:
    """``"Name" <num>`` / ``Name <num>`` / ``num`` → (name, num)."""
    text = text.strip()
    if "<" in text and text.endswith(">"):
        name, _, num = text[:-1].partition("<")
        return name.strip().strip('"'), num.strip()
    return "", text


__all__ = [
    "CallHandle",
    "CallOutcome",
    "CallerView",
    "ChannelView",
    "MemberView",
    "OriginateRequest",
    "QueueView",
    "Switchboard",
    "Truth",
]
