"""The live model of queues, operators and calls, built only from AMI events (and rebuilt from
QueueStatus + CoreShowChannels after every reconnection, so it never keeps a ghost).

``LiveModel.apply`` takes one event and returns what happened in domain terms (``Outcome``s)
for the service to publish (what is stored comes from queue_log). Pure: no I/O, no clock of
its own (times come from the events)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from agents.events import AmiEvent

logger = logging.getLogger(__name__)

# Fields without which an event cannot be applied (a malformed frame is logged and ignored).
_CALLER = ("Queue", "Uniqueid")
_AGENT = ("Queue", "Uniqueid", "Interface")
REQUIRED = {
    "QueueCallerJoin": _CALLER,
    "QueueCallerLeave": _CALLER,
    "QueueCallerAbandon": _CALLER,
    "AgentCalled": _AGENT,
    "AgentRingNoAnswer": _AGENT,
    "AgentConnect": _AGENT,
    "AgentComplete": _AGENT,
    "QueueMemberAdded": ("Queue", "Interface"),
    "QueueMemberStatus": ("Queue", "Interface"),
    "QueueMemberPause": ("Queue", "Interface"),
    "QueueMemberPenalty": ("Queue", "Interface"),
    "QueueMemberRemoved": ("Queue", "Interface"),
    "Hangup": ("Uniqueid",),
}

# Device states (enum ast_device_state): the Status: field of queue member events.
NOT_INUSE, INUSE, BUSY, INVALID, UNAVAILABLE, RINGING, RINGINUSE, ONHOLD = 1, 2, 3, 4, 5, 6, 7, 8


class OperatorState(StrEnum):
    AVAILABLE = "available"
    RINGING = "ringing"
    ON_CALL = "on_call"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"
    UNAVAILABLE = "unavailable"


@dataclass
class WaitingCaller:
    uniqueid: str
    queue: str
    caller: str
    position: int
    joined_at: datetime
    ringing: set[str] = field(default_factory=set)
    channel: str = ""  # the caller's channel, e.g. PJSIP/telco-0000002a (for a Redirect)
    pbx: str = ""  # the PBX the caller waits on


@dataclass
class LiveCall:
    """A caller talking to an operator (AgentConnect until AgentComplete or a hang-up)."""

    uniqueid: str
    queue: str
    channel: str  # the caller's channel
    interface: str  # the operator's, e.g. PJSIP/op101
    agent_channel: str  # the operator's leg, e.g. PJSIP/op101-0000002b
    answered_at: datetime
    hold_seconds: int = 0
    pbx: str = ""  # the PBX both legs are on


@dataclass
class Membership:
    paused: bool = False
    reason: str = ""
    penalty: int = 0
    calls_taken: int = 0


@dataclass
class Operator:
    interface: str
    name: str
    queues: dict[str, Membership] = field(default_factory=dict)
    device: int = NOT_INUSE
    current_call: str | None = None
    calls_handled: int = 0
    wrapup_override: int = 0  # the member's own Wrapuptime (QueueAdd); 0: the queue's applies
    wrapup_seconds: int = 0  # the wrap-up after the last call: the override or its queue's
    last_call_end: datetime | None = None
    since: datetime | None = None
    state: OperatorState = OperatorState.AVAILABLE
    pbx: str = ""  # the PBX whose queues the softphone is a member of

    @property
    def paused(self) -> bool:
        return bool(self.queues) and all(m.paused for m in self.queues.values())

    @property
    def pause_reason(self) -> str:
        return next((m.reason for m in self.queues.values() if m.paused and m.reason), "")

    def derive_state(self, now: datetime) -> OperatorState:
        if self.current_call is not None or self.device in (INUSE, BUSY, ONHOLD, RINGINUSE):
            return OperatorState.ON_CALL
        if self.device == RINGING:
            return OperatorState.RINGING
        if self.device in (UNAVAILABLE, INVALID):
            return OperatorState.UNAVAILABLE
        if self.paused:
            return OperatorState.PAUSED
        if self.last_call_end and now - self.last_call_end < timedelta(seconds=self.wrapup_seconds):
            return OperatorState.WRAP_UP
        return OperatorState.AVAILABLE

    def began(self, state: OperatorState, now: datetime) -> datetime:
        """When ``state``, derived at ``now`` from ``self.state``, began: an operator whose
        wrap-up ran out before anything looked has been available since it ran out."""
        wrapped_up = state is OperatorState.AVAILABLE and self.state is OperatorState.WRAP_UP
        if wrapped_up and self.last_call_end is not None:
            return min(now, self.last_call_end + timedelta(seconds=self.wrapup_seconds))
        return now


@dataclass
class QueueView:
    name: str
    waiting: dict[str, WaitingCaller] = field(default_factory=dict)

    def longest_wait(self, now: datetime) -> float:
        return max(((now - c.joined_at).total_seconds() for c in self.waiting.values()), default=0)


# What happened, for the service to publish (the live view, screen pops).
@dataclass(frozen=True)
class CallerJoined:
    uniqueid: str
    queue: str
    caller: str
    position: int
    at: datetime


@dataclass(frozen=True)
class CallAnswered:
    uniqueid: str
    queue: str
    interface: str
    operator_name: str
    hold_seconds: int
    ring_seconds: int
    at: datetime


@dataclass(frozen=True)
class CallAbandoned:
    """A caller whose channel went away unanswered, in the last queue they left.

    Asterisk's QueueCallerAbandon is not that: ``record_abandoned`` also runs when the
    ``Queue()`` timeout expires (the dialplan queues the caller again), on leavewhenempty and
    when a Redirect (our transfer between the lines) takes a waiting caller out of the queue
    (app_queue.c queue_exec, Asterisk 20). So the model keeps the abandon aside and decides at
    the caller's Hangup: still out of every queue and never answered since ⇒ abandoned."""

    uniqueid: str
    queue: str
    caller: str
    hold_seconds: int
    position: int
    at: datetime
    pbx: str = ""


@dataclass(frozen=True)
class CallCompleted:
    uniqueid: str
    queue: str
    interface: str
    hold_seconds: int
    talk_seconds: int
    reason: str
    at: datetime


@dataclass(frozen=True)
class RingNoAnswer:
    uniqueid: str
    queue: str
    interface: str
    ring_ms: int
    at: datetime


@dataclass(frozen=True)
class Changed:
    """A queue, operator or call changed: the topic and key for live views."""

    topic: str
    key: str


Outcome = CallerJoined | CallAnswered | CallAbandoned | CallCompleted | RingNoAnswer | Changed


CLOSED_KEPT = 10_000  # calls ended by the operator's leg whose late AgentComplete is awaited


class LiveModel:
    def __init__(self, queues: Iterable[str], wrapup: Mapping[str, int] | None = None) -> None:
        """``wrapup``: queues.conf ``wrapuptime`` of each queue, in seconds. Asterisk's member
        events carry only a member's own override (``Wrapuptime``, 0 unless QueueAdd set
        one), never the queue's, so the model is told it."""
        self.queues: dict[str, QueueView] = {name: QueueView(name) for name in queues}
        self.wrapup = dict(wrapup or {})
        self.operators: dict[str, Operator] = {}
        self.calls: dict[str, LiveCall] = {}  # connected calls by the caller's Uniqueid
        # callers out of every queue after a QueueCallerAbandon, until they join one again,
        # are answered (not abandoned) or hang up (abandoned)
        self.unanswered: dict[str, CallAbandoned] = {}
        # (caller Uniqueid, interface) of calls closed when the operator's leg hung up: their
        # AgentComplete, when it comes, is not a second end of the call
        self._closed: dict[tuple[str, str], None] = {}
        # Softphones by interface → the PBX they are registered on (DeviceStateChange), for an
        # operator who is in no queue yet. Uniqueids are unique across PBXs (systemname).
        self.devices: dict[str, str] = {}
        self._handlers: dict[str, Callable[[AmiEvent], list[Outcome]]] = {
            "QueueCallerJoin": self._caller_join,
            "QueueCallerLeave": self._caller_leave,
            "QueueCallerAbandon": self._caller_abandon,
            "AgentCalled": self._agent_called,
            "AgentRingNoAnswer": self._ring_no_answer,
            "AgentConnect": self._agent_connect,
            "AgentComplete": self._agent_complete,
            "QueueMemberAdded": self._member,
            "QueueMemberStatus": self._member,
            "QueueMemberPause": self._member,
            "QueueMemberPenalty": self._member,
            "QueueMemberRemoved": self._member_removed,
            "Hangup": self._hangup,
            "DeviceStateChange": self._device,
        }

    @property
    def handled_events(self) -> frozenset[str]:
        return frozenset(self._handlers)

    def apply(self, event: AmiEvent) -> list[Outcome]:
        handler = self._handlers.get(event.name)
        if handler is None:
            return []
        missing = [k for k in REQUIRED.get(event.name, ()) if not event.get(k)]
        if missing:
            logger.warning("AMI %s without %s ignored", event.name, ", ".join(missing))
            return []
        return handler(event)

    # -- callers ---------------------------------------------------------------------------

    def _queue(self, name: str) -> QueueView:
        return self.queues.setdefault(name, QueueView(name))

    def _caller_join(self, e: AmiEvent) -> list[Outcome]:
        queue = self._queue(e.get("Queue"))
        uniqueid = e.get("Uniqueid")
        caller = e.get("CallerIDNum")
        queue.waiting[uniqueid] = WaitingCaller(
            uniqueid,
            queue.name,
            caller,
            e.int("Position"),
            e.at,
            channel=e.get("Channel"),
            pbx=e.pbx,
        )
        self.unanswered.pop(uniqueid, None)  # queued again or transferred: not abandoned
        return [
            CallerJoined(uniqueid, queue.name, caller, e.int("Position"), e.at),
            Changed("queues", queue.name),
            Changed("calls", uniqueid),
        ]

    def _caller_leave(self, e: AmiEvent) -> list[Outcome]:
        queue = self.queues.get(e.get("Queue"))  # a lookup never creates a queue
        left = queue.waiting.pop(e.get("Uniqueid"), None) if queue is not None else None
        if queue is None or left is None:
            return []
        self._renumber(queue)
        return [Changed("queues", queue.name)]

    def _caller_abandon(self, e: AmiEvent) -> list[Outcome]:
        """Kept aside until the caller's Hangup (see CallAbandoned)."""
        queue = self.queues.get(e.get("Queue"))
        waiting = queue.waiting.get(e.get("Uniqueid")) if queue is not None else None
        caller = waiting.caller if waiting else e.get("CallerIDNum")
        self.unanswered[e.get("Uniqueid")] = CallAbandoned(
            e.get("Uniqueid"),
            e.get("Queue"),
            caller,
            e.int("HoldTime"),
            e.int("OriginalPosition") or e.int("Position"),
            e.at,
            e.pbx,
        )
        return [Changed("calls", e.get("Uniqueid"))]

    def _waiting(self, e: AmiEvent) -> WaitingCaller | None:
        queue = self.queues.get(e.get("Queue"))
        return queue.waiting.get(e.get("Uniqueid")) if queue is not None else None

    def _renumber(self, queue: QueueView) -> None:
        ordered = sorted(queue.waiting.values(), key=lambda c: c.position)
        for position, caller in enumerate(ordered, start=1):
            caller.position = position

    # -- operators -------------------------------------------------------------------------

    def _operator(self, interface: str, name: str = "", pbx: str = "") -> Operator:
        operator = self.operators.get(interface)
        if operator is None:
            operator = self.operators[interface] = Operator(interface, name or interface)
        elif name:
            operator.name = name
        operator.pbx = pbx
        return operator

    def _touch(self, operator: Operator, at: datetime) -> list[Outcome]:
        state = operator.derive_state(at)
        if state is not operator.state or operator.since is None:
            operator.state, operator.since = state, operator.began(state, at)
        return [Changed("operators", operator.interface)]

    def _agent_called(self, e: AmiEvent) -> list[Outcome]:
        interface = e.get("Interface")
        waiting = self._waiting(e)
        if waiting is not None:
            waiting.ringing.add(interface)
        return [Changed("calls", e.get("Uniqueid"))]

    def _ring_no_answer(self, e: AmiEvent) -> list[Outcome]:
        interface = e.get("Interface")
        waiting = self._waiting(e)
        if waiting is not None:
            waiting.ringing.discard(interface)
        return [RingNoAnswer(e.get("Uniqueid"), e.get("Queue"), interface, e.int("RingTime"), e.at)]

    def _agent_connect(self, e: AmiEvent) -> list[Outcome]:
        operator = self._operator(e.get("Interface"), e.get("MemberName"), e.pbx)
        operator.current_call = e.get("Uniqueid")
        self.unanswered.pop(e.get("Uniqueid"), None)
        self.calls[e.get("Uniqueid")] = LiveCall(
            e.get("Uniqueid"),
            e.get("Queue"),
            e.get("Channel"),
            operator.interface,
            e.get("DestChannel"),
            e.at,
            e.int("HoldTime"),
            e.pbx,
        )
        answered = CallAnswered(
            e.get("Uniqueid"),
            e.get("Queue"),
            operator.interface,
            operator.name,
            e.int("HoldTime"),
            e.int("RingTime"),
            e.at,
        )
        return [answered, Changed("calls", e.get("Uniqueid")), *self._touch(operator, e.at)]

    def _agent_complete(self, e: AmiEvent) -> list[Outcome]:
        key = (e.get("Uniqueid"), e.get("Interface"))
        if key in self._closed:  # this conversation ended at the operator's hang-up
            del self._closed[key]
            return [Changed("calls", e.get("Uniqueid"))]
        operator = self._operator(e.get("Interface"), e.get("MemberName"), e.pbx)
        if operator.current_call == e.get("Uniqueid"):
            operator.current_call = None
        live = self.calls.get(e.get("Uniqueid"))
        if live is not None and live.interface == operator.interface:
            del self.calls[live.uniqueid]
        operator.calls_handled += 1
        operator.last_call_end = e.at
        operator.wrapup_seconds = self._wrapup_after(operator, e.get("Queue"))
        completed = CallCompleted(
            e.get("Uniqueid"),
            e.get("Queue"),
            operator.interface,
            e.int("HoldTime"),
            e.int("TalkTime"),
            e.get("Reason"),
            e.at,
        )
        return [completed, Changed("calls", e.get("Uniqueid")), *self._touch(operator, e.at)]

    def _wrapup_after(self, operator: Operator, queue: str) -> int:
        """get_wrapuptime: the member's own wrap-up if set, else the queue's."""
        return operator.wrapup_override or self.wrapup.get(queue, 0)

    def _close_call(self, live: LiveCall, at: datetime) -> list[Outcome]:
        """The operator's leg of a connected call is gone before any AgentComplete: the
        caller was redirected (our transfer). Asterisk 20 sends no AgentComplete then — its
        AgentComplete comes when the caller's channel ends, ``Reason: caller``, with a
        TalkTime covering everything after (app_queue.c handle_hangup). This operator's
        conversation ends here (their leg's Hangup, QueueMemberStatus ``InCall: 0``)."""
        del self.calls[live.uniqueid]
        self._closed[(live.uniqueid, live.interface)] = None
        while len(self._closed) > CLOSED_KEPT:
            del self._closed[next(iter(self._closed))]
        outcomes: list[Outcome] = [
            CallCompleted(
                live.uniqueid,
                live.queue,
                live.interface,
                live.hold_seconds,
                max(0, round((at - live.answered_at).total_seconds())),
                "transfer",
                at,
            ),
            Changed("calls", live.uniqueid),
        ]
        operator = self.operators.get(live.interface)
        if operator is not None:
            if operator.current_call == live.uniqueid:
                operator.current_call = None
            operator.calls_handled += 1
            operator.last_call_end = at
            operator.wrapup_seconds = self._wrapup_after(operator, live.queue)
            outcomes += self._touch(operator, at)
        return outcomes

    def _member(self, e: AmiEvent) -> list[Outcome]:
        operator = self._operator(e.get("Interface"), e.get("MemberName"), e.pbx)
        membership = operator.queues.setdefault(e.get("Queue"), Membership())
        membership.paused = e.get("Paused") == "1"
        membership.reason = e.get("PausedReason") if membership.paused else ""
        membership.penalty = e.int("Penalty")
        membership.calls_taken = e.int("CallsTaken")
        operator.device = e.int("Status", NOT_INUSE)
        operator.wrapup_override = e.int("Wrapuptime", operator.wrapup_override)
        outcomes: list[Outcome] = []
        if e.get("InCall") == "0" and operator.device in (NOT_INUSE, UNAVAILABLE, INVALID):
            live = self.calls.get(operator.current_call or "")
            if live is not None and live.interface == operator.interface:
                outcomes += self._close_call(live, e.at)
            operator.current_call = None
        return outcomes + self._touch(operator, e.at)

    def _member_removed(self, e: AmiEvent) -> list[Outcome]:
        operator = self.operators.get(e.get("Interface"))
        if operator is None:
            return []
        operator.queues.pop(e.get("Queue"), None)
        if not operator.queues:
            del self.operators[operator.interface]
        return [Changed("operators", e.get("Interface"))]

    def _device(self, e: AmiEvent) -> list[Outcome]:
        """Where a softphone is registered: the PBX that reports it in a usable state."""
        if e.get("State") in ("UNAVAILABLE", "INVALID", "UNKNOWN"):
            if self.devices.get(e.get("Device")) == e.pbx:
                del self.devices[e.get("Device")]
        else:
            self.devices[e.get("Device")] = e.pbx
        return []

    def _hangup(self, e: AmiEvent) -> list[Outcome]:
        """A channel is gone. An operator's leg of a connected call: that conversation ends
        (see ``_close_call``). A caller's: it waits in no queue any more (Asterisk says so
        first, with QueueCallerLeave; this only guards against a missed event), and if it
        left a queue unanswered and joined none since, it is abandoned now."""
        uniqueid = e.get("Uniqueid")
        changed: list[Outcome] = []
        leg = next((c for c in self.calls.values() if c.agent_channel == e.get("Channel")), None)
        if leg is not None and e.get("Channel"):
            changed += self._close_call(leg, e.at)
        gone = self.unanswered.pop(uniqueid, None)
        if gone is not None:
            changed.append(replace(gone, at=e.at))
        self.calls.pop(uniqueid, None)
        for queue in self.queues.values():
            if queue.waiting.pop(uniqueid, None) is not None:
                self._renumber(queue)
                changed.append(Changed("queues", queue.name))
        for operator in self.operators.values():
            if operator.current_call == uniqueid:
                operator.current_call = None
                changed += self._touch(operator, e.at)
        return changed

    # -- resynchronisation -----------------------------------------------------------------

    def resync(self, items: Sequence[AmiEvent], now: datetime, pbx: str = "") -> list[Outcome]:
        """Replace the state of ``pbx`` with its QueueStatus (+ CoreShowChannels,
        DeviceStateList) listing; what the other PBXs reported stays."""
        previous = {name: dict(q.waiting) for name, q in self.queues.items()}
        self.queues = {
            name: QueueView(name, {u: c for u, c in q.waiting.items() if c.pbx != pbx})
            for name, q in self.queues.items()
        }
        operators = self.operators
        self.operators = {i: op for i, op in operators.items() if op.pbx != pbx}
        for item in items:
            if item.name == "QueueParams":
                self._queue(item.get("Queue"))
            elif item.name == "QueueMember":
                operator = self._operator(
                    item.get("Location") or item.get("Interface"), item.get("Name"), pbx
                )
                old = operators.get(operator.interface)
                if old is not None:
                    operator.calls_handled = old.calls_handled
                    operator.last_call_end = old.last_call_end
                    operator.current_call = old.current_call
                    operator.state, operator.since = old.state, old.since
                operator.queues[item.get("Queue")] = Membership(
                    paused=item.get("Paused") == "1",
                    reason=item.get("PausedReason") if item.get("Paused") == "1" else "",
                    penalty=item.int("Penalty"),
                    calls_taken=item.int("CallsTaken"),
                )
                operator.device = item.int("Status", NOT_INUSE)
                operator.wrapup_override = item.int("Wrapuptime", operator.wrapup_override)
                if old is not None:
                    operator.wrapup_seconds = old.wrapup_seconds
                if item.get("InCall") == "0":
                    operator.current_call = None
            elif item.name == "QueueEntry":
                queue = self._queue(item.get("Queue"))
                uniqueid = item.get("Uniqueid")
                self.unanswered.pop(uniqueid, None)  # queued again while the link was down
                known = previous.get(queue.name, {}).get(uniqueid)
                joined = known.joined_at if known else now - timedelta(seconds=item.int("Wait"))
                queue.waiting[uniqueid] = WaitingCaller(
                    uniqueid,
                    queue.name,
                    item.get("CallerIDNum"),
                    item.int("Position"),
                    joined,
                    channel=item.get("Channel"),
                    pbx=pbx,
                )
        if any(item.name == "DeviceStateListComplete" for item in items):
            self.devices = {d: p for d, p in self.devices.items() if p != pbx}
            for item in items:
                if item.name == "DeviceStateChange":
                    self._device(item)
        # The channel listing, when the items carry it, is the whole truth: no channel listed
        # (CoreShowChannelsComplete with none before it) means no call is left.
        if any(item.name == "CoreShowChannelsComplete" for item in items):
            live = {item.get("Uniqueid") for item in items if item.name == "CoreShowChannel"}
            self.calls = {u: c for u, c in self.calls.items() if c.pbx != pbx or u in live}
            for operator in self.operators.values():
                if operator.pbx == pbx and operator.current_call not in (None, *live):
                    operator.current_call = None
        outcomes: list[Outcome] = [Changed("queues", name) for name in self.queues]
        if any(item.name == "CoreShowChannelsComplete" for item in items):
            left = [u for u, c in self.unanswered.items() if c.pbx == pbx and u not in live]
            for uniqueid in left:
                outcomes.append(replace(self.unanswered.pop(uniqueid), at=now))
        for operator in self.operators.values():
            if operator.pbx == pbx:
                outcomes += self._touch(operator, now)
        for gone in set(operators) - set(self.operators):
            outcomes.append(Changed("operators", gone))
        return outcomes

    # -- lookups ---------------------------------------------------------------------------

    def call_of(self, interface: str) -> LiveCall | None:
        """The call an operator is talking on, if any."""
        operator = self.operators.get(interface)
        if operator is None or operator.current_call is None:
            return None
        return self.calls.get(operator.current_call)

    def caller_channel(self, uniqueid: str) -> tuple[str, str, str] | None:
        """(channel, queue, PBX) of a caller who talks to an operator or waits in a queue."""
        live = self.calls.get(uniqueid)
        if live is not None and live.channel:
            return live.channel, live.queue, live.pbx
        for queue in self.queues.values():
            waiting = queue.waiting.get(uniqueid)
            if waiting is not None and waiting.channel:
                return waiting.channel, queue.name, waiting.pbx
        return None

    def pbx_of(self, interface: str) -> str | None:
        """The PBX an operator's softphone is on: the one whose queues it is a member of,
        else the one that reports it registered; None when no PBX has reported it."""
        operator = self.operators.get(interface)
        if operator is not None:
            return operator.pbx
        return self.devices.get(interface)

    # -- views -----------------------------------------------------------------------------

    def queue_view(self, name: str, now: datetime) -> dict[str, Any]:
        queue = self.queues[name]
        members = [op for op in self.operators.values() if name in op.queues]
        return {
            "name": name,
            "waiting": [
                {
                    "uniqueid": c.uniqueid,
                    "caller": c.caller,
                    "position": c.position,
                    "wait_seconds": round((now - c.joined_at).total_seconds()),
                }
                for c in sorted(queue.waiting.values(), key=lambda c: c.position)
            ],
            "longest_wait_seconds": round(queue.longest_wait(now)),
            "operators_logged_in": len(members),
            "operators_available": sum(
                1 for op in members if op.derive_state(now) is OperatorState.AVAILABLE
            ),
        }

    def operator_view(self, interface: str, now: datetime) -> dict[str, Any]:
        op = self.operators[interface]
        state = op.derive_state(now)
        if state is not op.state:
            op.state, op.since = state, op.began(state, now)
        return {
            "interface": op.interface,
            "name": op.name,
            "state": state.value,
            "since": op.since.isoformat() if op.since else None,
            "seconds_in_state": round((now - op.since).total_seconds()) if op.since else 0,
            "paused": op.paused,
            "paused_queues": sorted(name for name, m in op.queues.items() if m.paused),
            "pause_reason": op.pause_reason,
            "queues": sorted(op.queues),
            "current_call": op.current_call,
            "calls_handled": op.calls_handled,
        }
