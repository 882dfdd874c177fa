"""Channels and bridges as Asterisk publishes them: the 14-field snapshot block, Uniqueid
``<epoch>.<counter>``, Linkedid, ``PJSIP/<endpoint>-%08x`` names, and the channel / bridge
events (Newchannel, Newstate, Newexten, VarSet, Hangup, Bridge*) in the order of reference §3.5.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from switchboard.ami_wire import Fields
from switchboard.clock import Clock
from switchboard.events import EventBus

logger = logging.getLogger(__name__)

STATE_DOWN, STATE_RING, STATE_RINGING, STATE_UP = 0, 4, 5, 6
STATE_NAMES = (
    "Down",
    "Rsrvd",
    "OffHook",
    "Dialing",
    "Ring",
    "Ringing",
    "Up",
    "Busy",
    "Dialing Offhook",
    "Pre-ring",
)
CAUSES = {
    0: "Unknown",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    31: "Normal, unspecified",
    127: "Interworking, unspecified",
}
UNKNOWN = "<unknown>"


class ChannelHungUp(Exception):
    """The channel was hung up while an application ran on it."""


class Redirected(Exception):
    """AMI Redirect moved the channel to another place in the dialplan."""

    def __init__(self, context: str, exten: str, priority: str) -> None:
        super().__init__(f"{context},{exten},{priority}")
        self.context, self.exten, self.priority = context, exten, priority


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    state: int
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "en"
    accountcode: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    created: float = 0.0
    variables: dict[str, str] = field(default_factory=dict)
    application: str = ""
    app_data: str = ""
    bridge: Bridge | None = None
    # set when someone (the simulated person, AMI Hangup, the queue) ends the channel
    hangup_cause: int | None = None
    hangup_by: str = ""  # "caller" | "operator" | "ami" | "system"
    redirect_to: tuple[str, str, str] | None = None
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False
    # the simulated person on this channel hangs up at this simulated moment while waiting
    gives_up_at: float | None = None
    # told when a hang-up is requested (e.g. the AGI session sends HANGUP to the backend)
    on_hangup_request: Callable[[], None] | None = None
    # run just before the Hangup event (e.g. MixMonitor closing its file)
    finalizers: list[Callable[[], None]] = field(default_factory=list)
    # set by a Redirect of a bridged channel that runs no dialplan: called by the application
    # that bridged it once the channel has left the bridge, to start its dialplan
    taken_over: Callable[[], None] | None = None
    # stasis subscribers of the channel's hang-up request (app_queue's handle_hangup of a call
    # whose bridge a Redirect ended); run once, at the first request or at the end of the
    # channel's dialplan (its ast_softhangup(APPUNLOAD)), before the Hangup event
    hangup_watchers: list[Callable[[], None]] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return self.name.rsplit("-", 1)[0]

    def snapshot(self, prefix: str = "") -> Fields:
        return [
            (f"{prefix}Channel", self.name),
            (f"{prefix}ChannelState", str(self.state)),
            (f"{prefix}ChannelStateDesc", STATE_NAMES[self.state]),
            (f"{prefix}CallerIDNum", self.caller_num or UNKNOWN),
            (f"{prefix}CallerIDName", self.caller_name or UNKNOWN),
            (f"{prefix}ConnectedLineNum", self.connected_num or UNKNOWN),
            (f"{prefix}ConnectedLineName", self.connected_name or UNKNOWN),
            (f"{prefix}Language", self.language),
            (f"{prefix}AccountCode", self.accountcode),
            (f"{prefix}Context", self.context),
            (f"{prefix}Exten", self.exten),
            (f"{prefix}Priority", str(self.priority)),
            (f"{prefix}Uniqueid", self.uniqueid),
            (f"{prefix}Linkedid", self.linkedid),
        ]

    @property
    def hangup_requested(self) -> bool:
        return self.hangup_cause is not None

    def check(self) -> None:
        """Raise if the running application must stop (hang-up or redirect)."""
        if self.hangup_cause is not None:
            raise ChannelHungUp(self.name)
        if self.redirect_to is not None:
            target, self.redirect_to = self.redirect_to, None
            self.wakeup.clear()
            raise Redirected(*target)


@dataclass(eq=False)
class Bridge:
    uniqueid: str
    channels: list[Channel] = field(default_factory=list)
    technology: str = "simple_bridge"

    def block(self) -> Fields:
        return [
            ("BridgeUniqueid", self.uniqueid),
            ("BridgeType", "basic"),
            ("BridgeTechnology", self.technology),
            ("BridgeCreator", UNKNOWN),
            ("BridgeName", UNKNOWN),
            ("BridgeNumChannels", str(len(self.channels))),
            ("BridgeVideoSourceMode", "none"),
        ]


class Channels:
    """All live channels; creates them with Asterisk's names and publishes their events."""

    def __init__(self, bus: EventBus, clock: Clock, *, systemname: str = "") -> None:
        self._bus = bus
        self._clock = clock
        # asterisk.conf ``systemname``: ``__ast_channel_alloc_ap`` makes every uniqueid
        # ``{systemname}-{time}.{n}`` (main/channel_internal_api.c), so two PBXs never share one.
        self._prefix = f"{systemname}-" if systemname else ""
        self._unique = itertools.count(1)
        self._index = itertools.count(1)
        self._live: dict[str, Channel] = {}
        self.bridges: dict[str, Bridge] = {}

    def __iter__(self) -> Iterator[Channel]:
        return iter(list(self._live.values()))

    def find(self, name: str) -> Channel | None:
        return self._live.get(name)

    def by_uniqueid(self, uniqueid: str) -> Channel | None:
        return next((c for c in self._live.values() if c.uniqueid == uniqueid), None)

    def create(
        self,
        endpoint: str,
        *,
        state: int,
        caller_num: str = "",
        caller_name: str = "",
        connected_num: str = "",
        connected_name: str = "",
        language: str = "en",
        context: str = "default",
        exten: str = "s",
        linked_to: Channel | None = None,
    ) -> Channel:
        now = self._clock.now()
        uniqueid = f"{self._prefix}{int(now)}.{next(self._unique)}"
        channel = Channel(
            name=f"PJSIP/{endpoint}-{next(self._index):08x}",
            uniqueid=uniqueid,
            linkedid=linked_to.linkedid if linked_to else uniqueid,
            state=state,
            caller_num=caller_num,
            caller_name=caller_name,
            connected_num=connected_num,
            connected_name=connected_name,
            language=language,
            context=context,
            exten=exten,
            created=now,
        )
        self._live[channel.name] = channel
        self._bus.publish("Newchannel", "call", channel.snapshot())
        return channel

    def set_state(self, channel: Channel, state: int) -> None:
        if channel.state != state:
            channel.state = state
            self._bus.publish("Newstate", "call", channel.snapshot())

    def newexten(self, channel: Channel, priority: int, app: str, data: str) -> None:
        channel.priority = priority
        channel.application, channel.app_data = app, data
        self._bus.publish(
            "Newexten",
            "dialplan",
            [
                *channel.snapshot(),
                ("Extension", channel.exten),
                ("Application", app),
                ("AppData", data),
            ],
        )

    def set_var(self, channel: Channel, name: str, value: str) -> None:
        channel.variables[name] = value
        self.publish_varset(channel, name, value)

    def publish_varset(self, channel: Channel, name: str, value: str) -> None:
        self._bus.publish(
            "VarSet", "dialplan", [*channel.snapshot(), ("Variable", name), ("Value", value)]
        )

    def request_hangup(self, channel: Channel, cause: int = 16, *, by: str, soft: bool) -> None:
        """The far end (``soft=False``: HangupRequest) or Asterisk (``soft=True``:
        SoftHangupRequest, e.g. AMI Hangup) ends the channel; its application stops."""
        if channel.hangup_cause is not None or channel.gone:
            return
        channel.hangup_cause, channel.hangup_by = cause, by
        body = channel.snapshot()
        if soft:
            self._bus.publish("SoftHangupRequest", "call", [*body, ("Cause", str(cause))])
        else:
            self._bus.publish("HangupRequest", "call", body)
        self._hangup_requested(channel)
        if channel.on_hangup_request is not None:
            channel.on_hangup_request()
        self.poke(channel)

    @staticmethod
    def _hangup_requested(channel: Channel) -> None:
        watchers, channel.hangup_watchers = channel.hangup_watchers, []
        for watch in watchers:
            watch()

    def poke(self, channel: Channel) -> None:
        """Wake every application waiting on a channel of this call to re-check its state."""
        channel.wakeup.set()
        for other in self._live.values():
            if other.linkedid == channel.linkedid:
                other.wakeup.set()

    async def wait(self, channel: Channel, seconds: float | None) -> bool:
        """Wait up to ``seconds`` simulated seconds on ``channel``. True if woken early (the
        caller re-checks its state); raises ChannelHungUp / Redirected. The person on the
        channel hangs up when their patience (``gives_up_at``) runs out."""
        channel.check()
        now = self._clock.now()
        limit = None if seconds is None else now + seconds
        patience = channel.gives_up_at
        by_patience = patience is not None and (limit is None or patience <= limit)
        if by_patience:
            limit = patience
        woke = await self._clock.wait(channel.wakeup, None if limit is None else limit - now)
        if woke:
            channel.wakeup.clear()
            channel.check()
            return True
        if by_patience:
            self.request_hangup(channel, 16, by="caller", soft=False)
            channel.check()
        return False

    def give_up_if_due(self, channel: Channel, rival: float | None = None) -> None:
        """The person on ``channel`` hangs up if their patience (``gives_up_at``) has run out,
        unless ``rival`` (the simulated moment something else happens to them: an answer, a
        timeout) came before it; raises ChannelHungUp. On a fast clock the waiting task may
        look only after both moments passed: the earlier one is what happened (on a tie, the
        hang-up)."""
        patience = channel.gives_up_at
        if patience is None or patience > self._clock.now():
            return
        if rival is not None and rival < patience:
            return
        self.request_hangup(channel, 16, by="caller", soft=False)
        channel.check()

    def redirect(self, channel: Channel, context: str, exten: str, priority: str) -> None:
        channel.redirect_to = (context, exten, priority)
        self.poke(channel)

    def hangup(self, channel: Channel, cause: int | None = None) -> None:
        if channel.gone:
            return
        self._hangup_requested(channel)
        channel.gone = True
        for finalize in channel.finalizers:
            try:
                finalize()
            except Exception:
                logger.exception("finalizer of %s failed", channel.name)
        self._live.pop(channel.name, None)
        final = cause if cause is not None else channel.hangup_cause
        final = 16 if final is None else final
        self._bus.publish(
            "Hangup",
            "call",
            [*channel.snapshot(), ("Cause", str(final)), ("Cause-txt", CAUSES.get(final, ""))],
        )

    # bridges -------------------------------------------------------------------------------

    def bridge_create(self) -> Bridge:
        bridge = Bridge(str(uuid.uuid4()))
        self.bridges[bridge.uniqueid] = bridge
        self._bus.publish("BridgeCreate", "call", bridge.block())
        return bridge

    def bridge_enter(self, bridge: Bridge, channel: Channel) -> None:
        bridge.channels.append(channel)
        channel.bridge = bridge
        self._bus.publish("BridgeEnter", "call", [*bridge.block(), *channel.snapshot()])

    def bridge_leave(self, bridge: Bridge, channel: Channel) -> None:
        if channel in bridge.channels:
            bridge.channels.remove(channel)
            channel.bridge = None
            self._bus.publish("BridgeLeave", "call", [*bridge.block(), *channel.snapshot()])

    def bridge_destroy(self, bridge: Bridge) -> None:
        if self.bridges.pop(bridge.uniqueid, None) is not None:
            self._bus.publish("BridgeDestroy", "call", bridge.block())

    # dialing -------------------------------------------------------------------------------

    def dial_begin(self, caller: Channel | None, dest: Channel, dialstring: str) -> None:
        body = caller.snapshot() if caller else []
        self._bus.publish(
            "DialBegin", "call", [*body, *dest.snapshot("Dest"), ("DialString", dialstring)]
        )

    def dial_state(self, caller: Channel | None, dest: Channel, status: str) -> None:
        body = caller.snapshot() if caller else []
        self._bus.publish(
            "DialState", "call", [*body, *dest.snapshot("Dest"), ("DialStatus", status)]
        )

    def dial_end(self, caller: Channel | None, dest: Channel, status: str) -> None:
        body = caller.snapshot() if caller else []
        self._bus.publish(
            "DialEnd", "call", [*body, *dest.snapshot("Dest"), ("DialStatus", status)]
        )

    def moh_start(self, channel: Channel, klass: str = "default") -> None:
        self._bus.publish("MusicOnHoldStart", "call", [*channel.snapshot(), ("Class", klass)])

    def moh_stop(self, channel: Channel) -> None:
        self._bus.publish("MusicOnHoldStop", "call", channel.snapshot())

    def publish(self, name: str, cls: str, body: Fields) -> None:
        self._bus.publish(name, cls, body)
