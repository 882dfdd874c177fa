"""app_queue: queues, members, callers and the ``Queue()`` application (reference §5).

Strategies and metrics of §5.1, the availability rule of §5.2 (paused, ringinuse, wrap-up,
device state, weight), the ``timeout``/``retry`` cycle, the absolute ``Queue()`` timeout,
autopause (``Auto-Pause``), joinempty/leavewhenempty factor sets, autofill, maxlen, caller
priority (``QUEUE_PRIO``), penalties, and the per-queue counters. Events are published in the
causal order of §3.6; the queue's own blobs keep the field order of §3.5.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from switchboard.ami_wire import Fields
from switchboard.channels import (
    STATE_DOWN,
    STATE_RINGING,
    STATE_UP,
    Bridge,
    Channel,
    ChannelHungUp,
    Channels,
    Redirected,
)
from switchboard.clock import Clock
from switchboard.devices import (
    BUSY,
    INUSE,
    INVALID,
    NOT_INUSE,
    ONHOLD,
    RINGING,
    RINGINUSE,
    UNAVAILABLE,
    UNKNOWN,
    Devices,
)
from switchboard.events import EventBus
from switchboard.people import draw
from switchboard.queue_log import QueueLog, QueueLogConfig

logger = logging.getLogger(__name__)

STRATEGIES = (
    "ringall",
    "leastrecent",
    "fewestcalls",
    "random",
    "rrmemory",
    "linear",
    "wrandom",
    "rrordered",
)
RECHECK = 1.0  # app_queue re-evaluates a waiting caller's turn every second
EMPTY_FACTORS = {
    "": frozenset(),
    "yes": frozenset(),
    "no": frozenset({"penalty", "paused", "invalid"}),
    "strict": frozenset({"penalty", "paused", "invalid", "unavailable"}),
    "loose": frozenset({"penalty", "invalid"}),
}
LEAVE_FACTORS = {
    **EMPTY_FACTORS,
    "yes": frozenset({"penalty", "paused", "invalid"}),
    "no": frozenset(),
}
AUTOPAUSE_REASON = "Auto-Pause"
# Queue() sets Dial()'s timing variables (ANSWEREDTIME, DIALEDTIME, QUEUEWAIT and their _MS)
# from these releases on: commit "app_queue: Queue Timing Parity with Dial() and Accurate Wait
# Metrics" (20.19.0, 22.9.0, 23.3.0, master). Branch 21 never got it; 18 and older neither.
TIMING_VARS_SINCE = {20: (20, 19), 22: (22, 9), 23: (23, 3)}
TIMING_VARS = ("ANSWEREDTIME", "DIALEDTIME", "QUEUEWAIT")


def sets_timing_vars(version: str) -> bool:
    """True if Queue() of this Asterisk version clears ANSWEREDTIME on entry and leaves "0"
    there when nobody answered (queue_exec, 20.19.0+); False if it never touches it."""
    parts = [int(p) for p in re.findall(r"\d+", version)[:2]] + [0, 0]
    major, minor = parts[0], parts[1]
    if major > max(TIMING_VARS_SINCE):
        return True
    since = TIMING_VARS_SINCE.get(major)
    return since is not None and (major, minor) >= since


def parse_factors(value: str, table: dict[str, frozenset[str]]) -> frozenset[str]:
    key = value.strip().lower()
    if key in table:
        return table[key]
    return frozenset(part.strip() for part in key.split(",") if part.strip())


@dataclass(frozen=True)
class StaticMember:
    """A ``member => interface,penalty,membername,state_interface,ringinuse,wrapuptime,paused``
    line of queues.conf."""

    interface: str
    penalty: int = 0
    name: str = ""
    state_interface: str = ""
    ringinuse: bool | None = None
    wrapuptime: int = 0
    paused: bool = False


@dataclass
class QueueConfig:
    """One queue of queues.conf; defaults are app_queue's (branch 20), not the hotline's."""

    name: str
    strategy: str = "ringall"
    timeout: int = 15
    retry: int = 5
    timeoutpriority: str = "app"
    wrapuptime: int = 0
    maxlen: int = 0
    weight: int = 0
    servicelevel: int = 0
    ringinuse: bool = True
    autofill: bool = False
    autopause: str = "no"  # no | yes | all
    autopausedelay: int = 0
    joinempty: str = ""
    leavewhenempty: str = ""
    musicclass: str = "default"
    penaltymemberslimit: int = 0
    members: tuple[StaticMember, ...] = ()

    def __post_init__(self) -> None:
        if self.strategy == "roundrobin":
            self.strategy = "rrmemory"
        if self.strategy not in STRATEGIES:
            raise ValueError(f"unknown strategy {self.strategy!r}")
        if self.autopause not in ("no", "yes", "all"):
            raise ValueError(f"autopause must be no, yes or all, not {self.autopause!r}")


def default_queues() -> list[QueueConfig]:
    """``asterisk_conf/queues.conf``: [general] autofill = yes, the [hotline-common] template
    (timeout 20, retry 3, ringinuse no, wrapuptime 15, maxlen 0, joinempty yes,
    leavewhenempty no) and the two queues."""

    def common(name: str, strategy: str) -> QueueConfig:
        return QueueConfig(
            name=name,
            strategy=strategy,
            timeout=20,
            retry=3,
            timeoutpriority="app",
            ringinuse=False,
            wrapuptime=15,
            maxlen=0,
            joinempty="yes",
            leavewhenempty="no",
            musicclass="default",
            autofill=True,
        )

    citizen = common("hotline-1022", "leastrecent")
    citizen.weight, citizen.servicelevel = 0, 30
    citizen.autopause, citizen.autopausedelay = "yes", 60
    emergency = common("emergency-115", "ringall")
    emergency.weight, emergency.servicelevel = 10, 10
    emergency.timeout, emergency.wrapuptime, emergency.autopause = 15, 5, "no"
    return [citizen, emergency]


@dataclass(eq=False)
class Member:
    interface: str
    name: str
    state_interface: str
    membership: str  # dynamic | static
    penalty: int
    ringinuse: bool
    wrapuptime: int
    paused: bool = False
    paused_reason: str = ""
    last_pause: int = 0
    login_time: int = 0
    calls: int = 0
    last_call: float = 0.0
    last_wrapup: int | None = None  # wrap-up of the queue of the last call (shared_lastcall)
    in_call: bool = False
    status: int = INVALID


@dataclass(eq=False)
class Entry:
    channel: Channel
    prio: int
    start: float
    original_position: int
    pending: bool = False
    linpos: int = 0


@dataclass
class QueueState:
    config: QueueConfig
    members: dict[str, Member] = field(default_factory=dict)  # by lower-case interface
    entries: list[Entry] = field(default_factory=list)
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    rrpos: int = 0

    @property
    def name(self) -> str:
        return self.config.name

    def position(self, entry: Entry) -> int:
        return self.entries.index(entry) + 1

    def service_level_perf(self) -> tuple[float, float]:
        perf = 100.0 * self.completed_in_sl / self.completed if self.completed else 0.0
        total = self.completed + self.abandoned
        perf2 = 100.0 * (self.completed_in_sl + self.abandoned_in_sl) / total if total else 0.0
        return perf, perf2


@dataclass
class QueueResult:
    """What ``Queue()`` leaves behind: QUEUESTATUS ("" after an answered call)."""

    status: str
    queue: str
    answered_by: str | None = None
    hold_time: float | None = None
    talk_time: float | None = None
    hung_up_by: str = ""


@dataclass(eq=False)
class _Leg:
    member: Member
    channel: Channel
    answer_at: float | None
    ring_start: float


class AppQueue:
    def __init__(
        self,
        configs: list[QueueConfig],
        *,
        channels: Channels,
        devices: Devices,
        bus: EventBus,
        clock: Clock,
        rng: random.Random,
        shared_lastcall: bool = True,
        queue_log: QueueLog | None = None,
        timing_vars: bool = True,
    ) -> None:
        self.channels = channels
        self.queue_log = queue_log or QueueLog(QueueLogConfig(), clock)
        self.timing_vars = timing_vars
        self.devices = devices
        self.bus = bus
        self.clock = clock
        self.rng = rng
        self.shared_lastcall = shared_lastcall
        self.queues: dict[str, QueueState] = {}
        for config in configs:
            state = QueueState(config)
            self.queues[config.name] = state
            for static in config.members:
                member = self._new_member(
                    state,
                    static.interface,
                    membership="static",
                    penalty=static.penalty,
                    name=static.name,
                    state_interface=static.state_interface,
                    paused=static.paused,
                    reason="",
                )
                if static.ringinuse is not None:
                    member.ringinuse = static.ringinuse
                member.wrapuptime = static.wrapuptime
                state.members[static.interface.lower()] = member
        devices.listen(self._device_changed)

    # members ---------------------------------------------------------------------------------

    def _new_member(
        self,
        queue: QueueState,
        interface: str,
        *,
        membership: str,
        penalty: int,
        name: str,
        state_interface: str,
        paused: bool,
        reason: str,
    ) -> Member:
        now = int(self.clock.now())
        state_iface = state_interface or interface
        member = Member(
            interface=interface,
            name=name or interface,
            state_interface=state_iface,
            membership=membership,
            penalty=penalty,
            ringinuse=queue.config.ringinuse,
            wrapuptime=0,
            paused=paused,
            paused_reason=reason if paused else "",
            last_pause=now if paused else 0,
            login_time=now,
            status=self.devices.state(state_iface),
        )
        twin = self._twin(interface, queue)
        if twin is not None and self.shared_lastcall:
            member.last_call, member.last_wrapup = twin.last_call, twin.last_wrapup
        return member

    def _twin(self, interface: str, exclude: QueueState) -> Member | None:
        for queue in self.queues.values():
            if queue is not exclude and interface.lower() in queue.members:
                return queue.members[interface.lower()]
        return None

    def members_of(self, interface: str) -> Iterator[tuple[QueueState, Member]]:
        for queue in self.queues.values():
            member = queue.members.get(interface.lower())
            if member is not None:
                yield queue, member

    def add_member(
        self,
        queue_name: str,
        interface: str,
        *,
        penalty: int = 0,
        paused: bool = False,
        name: str = "",
        state_interface: str = "",
        reason: str = "",
        wrapuptime: int = 0,
    ) -> str:
        """``ok``, ``exists`` or ``noqueue``; publishes QueueMemberAdded. ``wrapuptime``: the
        member's own override (0: the queue's applies)."""
        queue = self.queues.get(queue_name)
        if queue is None:
            return "noqueue"
        if interface.lower() in queue.members:
            return "exists"
        member = self._new_member(
            queue,
            interface,
            membership="dynamic",
            penalty=penalty,
            name=name,
            state_interface=state_interface,
            paused=paused,
            reason=reason,
        )
        member.wrapuptime = wrapuptime
        queue.members[interface.lower()] = member
        self._publish_member("QueueMemberAdded", queue, member)
        self.queue_log.log(
            queue.name, "MANAGER", interface, "ADDMEMBER", "PAUSED" if paused else ""
        )
        self._kick(queue)
        return "ok"

    def remove_member(self, queue_name: str, interface: str) -> str:
        """``ok``, ``notthere``, ``notdynamic`` or ``noqueue``; publishes QueueMemberRemoved."""
        queue = self.queues.get(queue_name)
        if queue is None:
            return "noqueue"
        member = queue.members.get(interface.lower())
        if member is None:
            return "notthere"
        if member.membership != "dynamic":
            return "notdynamic"
        del queue.members[interface.lower()]
        self._publish_member("QueueMemberRemoved", queue, member)
        self.queue_log.log(queue.name, "MANAGER", interface, "REMOVEMEMBER", "")
        self._kick(queue)
        return "ok"

    def pause_member(
        self, interface: str, paused: bool, *, queue_name: str = "", reason: str = ""
    ) -> bool:
        """Pause or unpause in one queue or all; False if the interface is in none of them."""
        found = False
        for queue, member in list(self.members_of(interface)):
            if queue_name and queue.name != queue_name:
                continue
            if not found and not queue_name:  # set_member_paused: once, before the first
                self.queue_log.log(
                    "NONE", "NONE", member.name, f"{'' if paused else 'UN'}PAUSEALL", reason
                )
            found = True
            member.paused = paused
            member.paused_reason = reason if paused else ""
            if paused:
                member.last_pause = int(self.clock.now())
            self._publish_member("QueueMemberPause", queue, member)
            self.queue_log.log(
                queue.name, "NONE", member.name, "PAUSE" if paused else "UNPAUSE", reason
            )
            self._kick(queue)
        return found

    def set_penalty(self, interface: str, penalty: int, *, queue_name: str = "") -> bool:
        found = False
        for queue, member in list(self.members_of(interface)):
            if queue_name and queue.name != queue_name:
                continue
            found = True
            member.penalty = penalty
            self._publish_member("QueueMemberPenalty", queue, member)
            self._kick(queue)
        return found

    def reset_stats(self, queue_name: str = "") -> None:
        """QueueReset: counters and averages of one queue (or all) back to zero."""
        for queue in self.queues.values():
            if not queue_name or queue.name == queue_name:
                queue.holdtime = queue.talktime = 0
                queue.completed = queue.abandoned = 0
                queue.completed_in_sl = queue.abandoned_in_sl = 0

    def member_fields(self, queue: QueueState, member: Member) -> Fields:
        return [
            ("Queue", queue.name),
            ("MemberName", member.name),
            ("Interface", member.interface),
            ("StateInterface", member.state_interface),
            ("Membership", member.membership),
            ("Penalty", str(member.penalty)),
            ("CallsTaken", str(member.calls)),
            ("LastCall", str(int(member.last_call))),
            ("LastPause", str(member.last_pause)),
            ("LoginTime", str(member.login_time)),
            ("InCall", "1" if member.in_call else "0"),
            ("Status", str(member.status)),
            ("Paused", "1" if member.paused else "0"),
            ("PausedReason", member.paused_reason),
            ("Ringinuse", "1" if member.ringinuse else "0"),
            ("Wrapuptime", str(member.wrapuptime)),  # the member's own override, 0 if none
        ]

    def _publish_member(self, name: str, queue: QueueState, member: Member) -> None:
        self.bus.publish(name, "agent", self.member_fields(queue, member))

    def _device_changed(self, interface: str, state: int) -> None:
        for queue in self.queues.values():
            for member in queue.members.values():
                if member.state_interface.lower() == interface.lower() and member.status != state:
                    member.status = state
                    self._publish_member("QueueMemberStatus", queue, member)
            self._kick(queue)

    def _kick(self, queue: QueueState) -> None:
        for entry in queue.entries:
            entry.channel.wakeup.set()

    # availability ----------------------------------------------------------------------------

    def _wrapup_of(self, queue: QueueState, member: Member) -> int:
        if member.wrapuptime:
            return member.wrapuptime
        if self.shared_lastcall and member.last_wrapup is not None:
            return member.last_wrapup
        return queue.config.wrapuptime

    def in_wrapup(self, queue: QueueState, member: Member) -> bool:
        if not member.last_call:
            return False
        return self.clock.now() - member.last_call < self._wrapup_of(queue, member)

    @staticmethod
    def _status_available(member: Member) -> bool:
        if member.status in (NOT_INUSE, UNKNOWN):
            return True
        return member.ringinuse and member.status in (INUSE, BUSY, RINGING, RINGINUSE, ONHOLD)

    def _penalty_ok(self, member: Member, caller: Channel) -> bool:
        top = caller.variables.get("QUEUE_MAX_PENALTY", "")
        low = caller.variables.get("QUEUE_MIN_PENALTY", "")
        if top.isdigit() and member.penalty > int(top):
            return False
        return not (low.isdigit() and member.penalty < int(low))

    def _is_empty(self, queue: QueueState, factors: frozenset[str], caller: Channel) -> bool:
        """get_member_status: True if no member is usable under these factors."""
        if not queue.members:
            return True
        for member in queue.members.values():
            if "penalty" in factors and not self._penalty_ok(member, caller):
                continue
            if "paused" in factors and member.paused:
                continue
            status = member.status
            if status == INVALID and "invalid" in factors:
                continue
            if status == UNAVAILABLE and "unavailable" in factors:
                continue
            if status == INUSE and "inuse" in factors:
                continue
            if status == RINGING and "ringing" in factors:
                continue
            if status == UNKNOWN and "unknown" in factors:
                continue
            if "wrapup" in factors and self.in_wrapup(queue, member):
                continue
            return False
        return True

    def _num_available(self, queue: QueueState) -> int:
        available = 0
        for member in queue.members.values():
            if member.status in (INVALID, UNAVAILABLE):
                continue
            if not self._status_available(member):
                continue
            if not member.paused:
                available += 1
            if (available and queue.config.strategy == "ringall") or not queue.config.autofill:
                break
        return available

    def _our_turn(self, queue: QueueState, entry: Entry) -> bool:
        if not queue.config.autofill:
            return bool(queue.entries) and queue.entries[0] is entry
        ahead = 0
        for other in queue.entries:
            if other is entry:
                break
            if not other.pending:
                ahead += 1
        return ahead < self._num_available(queue)

    def _weight_blocks(self, queue: QueueState, member: Member) -> bool:
        for other in self.queues.values():
            if (
                other is not queue
                and other.config.weight > queue.config.weight
                and other.entries
                and member.interface.lower() in other.members
            ):
                return True
        return False

    def _can_ring(self, queue: QueueState, member: Member, caller: Channel) -> bool:
        if member.paused or not self._penalty_ok(member, caller):
            return False
        if member.status in (INVALID, UNAVAILABLE):
            return False
        phone = self.devices.phone(member.interface)
        if phone is None or not phone.registered:
            return False
        if not member.ringinuse and member.status not in (NOT_INUSE, UNKNOWN):
            return False
        if self.in_wrapup(queue, member):
            return False
        return not self._weight_blocks(queue, member)

    def _metric(self, queue: QueueState, member: Member, pos: int, entry: Entry) -> float:
        strategy = queue.config.strategy
        if strategy == "ringall":
            metric = 0.0
        elif strategy == "leastrecent":
            metric = (
                0.0 if not member.last_call else 1_000_000 - (self.clock.now() - member.last_call)
            )
        elif strategy == "fewestcalls":
            metric = float(member.calls)
        elif strategy in ("rrmemory", "rrordered"):
            metric = float(1000 + pos if pos < queue.rrpos else pos)
        elif strategy == "linear":
            metric = float(1000 + pos if pos < entry.linpos else pos)
        elif strategy == "wrandom":
            metric = float(self.rng.randrange(1000 * (member.penalty + 1)))
        else:
            metric = float(self.rng.randrange(1000))
        limit = queue.config.penaltymemberslimit
        if strategy != "wrandom" and (not limit or len(queue.members) > limit):
            metric += member.penalty * 1_000_000
        return metric

    # the Queue() application -----------------------------------------------------------------

    async def run(
        self, caller: Channel, queue_name: str, *, options: str = "", max_wait: float = 0
    ) -> QueueResult:
        """Run ``Queue(queue_name,options,,,timeout)`` for ``caller`` as ``queue_exec`` does.
        Raises ChannelHungUp or Redirected (after QueueCallerAbandon and QueueCallerLeave when
        nobody had answered: the soft hang-up of a Redirect ends ``queue_exec`` with
        ``!qe.handled`` like a hang-up); returns when the call ended or the caller left the
        queue unanswered — a timeout or leavewhenempty exit is ``record_abandoned`` too, then
        QueueCallerLeave, and the channel stays up in the dialplan."""
        if self.timing_vars:  # queue_exec: "Reset variables to avoid stale data"
            for name in TIMING_VARS:
                self.channels.set_var(caller, name, "")
                self.channels.set_var(caller, f"{name}_MS", "")
        queue = self.queues.get(queue_name)
        if queue is None:
            return QueueResult("UNKNOWN", queue_name)
        config = queue.config
        prio_text = caller.variables.get("QUEUE_PRIO", "0").strip()
        prio = int(prio_text) if prio_text.lstrip("-").isdigit() else 0
        joinempty = parse_factors(config.joinempty, EMPTY_FACTORS)
        if joinempty and self._is_empty(queue, joinempty, caller):
            return QueueResult("JOINEMPTY", queue_name)
        if config.maxlen and len(queue.entries) >= config.maxlen:
            return QueueResult("FULL", queue_name)
        now = self.clock.now()
        index = next((i for i, e in enumerate(queue.entries) if prio > e.prio), None)
        if index is None:
            index = len(queue.entries)
        entry = Entry(caller, prio, now, index + 1)
        queue.entries.insert(index, entry)
        self.bus.publish(
            "QueueCallerJoin",
            "agent",
            [
                *caller.snapshot(),
                ("Queue", queue.name),
                ("Position", str(index + 1)),
                ("Count", str(len(queue.entries))),
            ],
        )
        self.queue_log.log(
            queue.name, caller.uniqueid, "NONE", "ENTERQUEUE", "", caller.caller_num, index + 1
        )
        self.channels.moh_start(caller, config.musicclass)
        expire = now + max_wait if max_wait > 0 else None
        leave = parse_factors(config.leavewhenempty, LEAVE_FACTORS)
        try:
            while True:
                caller.check()
                if self._expired(caller, expire):
                    return self._give_up(queue, entry, "TIMEOUT", "EXITWITHTIMEOUT")
                if leave and self._is_empty(queue, leave, caller):
                    return self._give_up(queue, entry, "LEAVEEMPTY", "EXITEMPTY")
                if not self._our_turn(queue, entry):
                    await self.channels.wait(caller, RECHECK)
                    continue
                result = await self._try_calling(queue, entry, expire, options)
                if result is not None:
                    return result
                if self._expired(caller, expire):
                    return self._give_up(queue, entry, "TIMEOUT", "EXITWITHTIMEOUT")
                await self._wait_a_bit(caller, config.retry)
        except (ChannelHungUp, Redirected):
            if entry in queue.entries:  # stop: res < 0 and !qe.handled
                self._stop_vars(entry)
                self._abandon(queue, self._exit(queue, entry, "ABANDON"))
            raise
        finally:
            if entry in queue.entries:  # cancelled (board stopping)
                queue.entries.remove(entry)

    def _expired(self, caller: Channel, expire: float | None) -> bool:
        """The absolute ``Queue()`` timeout has passed — unless the caller's patience ran out
        before it: then they hang up (ChannelHungUp), also if the timeout is still ahead."""
        self.channels.give_up_if_due(caller, expire)
        return expire is not None and self.clock.now() >= expire

    def _exit(self, queue: QueueState, entry: Entry, event: str) -> Entry:
        """queue_exec's ``EXITWITHTIMEOUT``, ``EXITEMPTY`` and ``ABANDON`` (a hang-up, or a
        Redirect: a soft hang-up that leaves ``qe.handled`` 0): ``pos|opos|waited``."""
        waited = int(self.clock.now() - entry.start)
        position = queue.position(entry)
        self.queue_log.log(
            queue.name,
            entry.channel.uniqueid,
            "NONE",
            event,
            position,
            entry.original_position,
            waited,
        )
        return entry

    async def _wait_a_bit(self, caller: Channel, seconds: float) -> None:
        deadline = self.clock.now() + seconds
        while self.clock.now() < deadline:
            await self.channels.wait(caller, deadline - self.clock.now())

    def _duration_var(self, channel: Channel, name: str, seconds: float) -> None:
        """set_duration_var: ``name`` in whole seconds and ``name_MS`` in milliseconds."""
        millis = int(seconds * 1000)
        self.channels.set_var(channel, name, str(millis // 1000))
        self.channels.set_var(channel, f"{name}_MS", str(millis))

    def _stop_vars(self, entry: Entry) -> None:
        """The ``stop:`` block of queue_exec (20.19.0+): QUEUEWAIT and DIALEDTIME if still
        empty, and ANSWEREDTIME "0" when no bridge set it — so an unanswered caller leaves
        Queue() with ANSWEREDTIME=0, not empty."""
        if not self.timing_vars:
            return
        caller = entry.channel
        now = self.clock.now()
        if not caller.variables.get("QUEUEWAIT"):
            self._duration_var(caller, "QUEUEWAIT", now - entry.start)
        if not caller.variables.get("DIALEDTIME"):
            self._duration_var(caller, "DIALEDTIME", now - caller.created)
        if not caller.variables.get("ANSWEREDTIME"):
            self._duration_var(caller, "ANSWEREDTIME", 0)

    def _leave_event(self, queue: QueueState, entry: Entry) -> None:
        position = queue.position(entry)
        queue.entries.remove(entry)
        self.bus.publish(
            "QueueCallerLeave",
            "agent",
            [
                *entry.channel.snapshot(),
                ("Queue", queue.name),
                ("Position", str(position)),
                ("Count", str(len(queue.entries))),
            ],
        )
        self._kick(queue)

    def _give_up(self, queue: QueueState, entry: Entry, status: str, event: str) -> QueueResult:
        """A TIMEOUT (the absolute ``Queue()`` timeout, wait_our_turn / the head-caller loop)
        or LEAVEEMPTY exit: ``record_abandoned``, the queue_log ``event``, then the ``stop:``
        block, hold music off, ``leave_queue`` (QueueCallerLeave); the caller goes on in the
        dialplan."""
        self._record_abandoned(queue, entry)
        self._exit(queue, entry, event)
        self._stop_vars(entry)
        self.channels.moh_stop(entry.channel)
        self._leave_event(queue, entry)
        return QueueResult(status, queue.name)

    def _record_abandoned(self, queue: QueueState, entry: Entry) -> None:
        """record_abandoned: ABANDONED=TRUE, QueueCallerAbandon, the abandoned counters."""
        hold = self.clock.now() - entry.start
        self.channels.set_var(entry.channel, "ABANDONED", "TRUE")
        self.bus.publish(
            "QueueCallerAbandon",
            "agent",
            [
                *entry.channel.snapshot(),
                ("Queue", queue.name),
                ("Position", str(queue.position(entry))),
                ("OriginalPosition", str(entry.original_position)),
                ("HoldTime", str(int(hold))),
            ],
        )
        queue.abandoned += 1
        if hold <= queue.config.servicelevel:
            queue.abandoned_in_sl += 1

    def _abandon(self, queue: QueueState, entry: Entry) -> None:
        self._record_abandoned(queue, entry)
        self._leave_event(queue, entry)

    def _choose(self, queue: QueueState, entry: Entry) -> list[Member]:
        ranked: list[tuple[float, int, Member]] = []
        for pos, member in enumerate(queue.members.values()):
            if self._can_ring(queue, member, entry.channel):
                ranked.append((self._metric(queue, member, pos, entry), pos, member))
        if not ranked:
            return []
        ranked.sort(key=lambda item: (item[0], item[1]))
        best_metric, best_pos, _ = ranked[0]
        strategy = queue.config.strategy
        if strategy == "ringall":
            return [member for metric, _, member in ranked if metric == best_metric]
        if strategy in ("rrmemory", "rrordered"):
            queue.rrpos = best_pos + 1 if best_pos + 1 < len(queue.members) else 0
        elif strategy == "linear":
            entry.linpos = best_pos + 1 if best_pos + 1 < len(queue.members) else 0
        return [ranked[0][2]]

    def _ring(self, queue: QueueState, entry: Entry, member: Member, now: float) -> _Leg:
        """Ring ``member`` from the simulated moment ``now`` (the ring timeout counts from it
        too, however long ringing every phone takes the machine)."""
        caller = entry.channel
        phone = self.devices.phone(member.interface)
        endpoint = member.interface.split("/", 1)[-1]
        leg = self.channels.create(
            endpoint,
            state=STATE_DOWN,
            caller_num=endpoint,
            caller_name=phone.name if phone else "",
            connected_num=caller.caller_num,
            connected_name=caller.caller_name,
            language=phone.language if phone else "en",
            context=phone.context if phone else "default",  # the endpoint's own context;
            exten=caller.exten,  # app_queue copies the caller's extension
            linked_to=caller,
        )
        self.bus.publish(
            "AgentCalled",
            "agent",
            [
                *caller.snapshot(),
                *leg.snapshot("Dest"),
                ("Queue", queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
            ],
        )
        self.channels.dial_begin(caller, leg, member.interface)  # app_queue passes the interface
        self.channels.set_state(leg, STATE_RINGING)
        self.channels.dial_state(caller, leg, "RINGING")
        self.devices.ring(member.state_interface, +1)
        answer_at = None
        if phone is not None and phone.answers:
            answer_at = now + draw(phone.rng, phone.ring_delay)
        return _Leg(member, leg, answer_at, now)

    def _end_leg(self, leg: _Leg, status: str, cause: int, caller: Channel) -> None:
        self.channels.dial_end(caller, leg.channel, status)
        self.channels.hangup(leg.channel, cause)
        self.devices.ring(leg.member.state_interface, -1)

    async def _try_calling(
        self, queue: QueueState, entry: Entry, expire: float | None, options: str
    ) -> QueueResult | None:
        caller = entry.channel
        config = queue.config
        targets = self._choose(queue, entry)
        if not targets:
            return None
        entry.pending = True
        now = self.clock.now()
        legs = [self._ring(queue, entry, member, now) for member in targets]
        ring_for = float(config.timeout)
        if expire is not None and (
            not config.timeout or (config.timeoutpriority == "app" and expire - now <= ring_for)
        ):
            ring_for = max(0.0, expire - now)
        give_up = now + ring_for
        elsewhere = "C" in options
        try:
            while True:
                now = self.clock.now()
                for leg in list(legs):
                    if leg.channel.hangup_requested:  # e.g. AMI Hangup of the ringing phone
                        legs.remove(leg)
                        self._end_leg(leg, "CANCEL", leg.channel.hangup_cause or 16, caller)
                if not legs:
                    return None
                # the first of the answers, the ring timeout and the caller's hang-up in
                # simulated time wins, however late this task looks (wait_for_answer sees
                # them one after another as they happen)
                upcoming = [leg.answer_at for leg in legs if leg.answer_at is not None]
                moment = min([give_up, *upcoming])
                self.channels.give_up_if_due(caller, moment)
                answered = [
                    leg
                    for leg in legs
                    if leg.answer_at is not None and leg.answer_at <= min(now, give_up)
                ]
                if answered:
                    winner = min(answered, key=lambda leg: leg.answer_at or 0.0)
                    legs.remove(winner)
                    return await self._connect(queue, entry, winner, legs)
                if now >= give_up:
                    self._ring_no_answer(queue, entry, legs, 26 if elsewhere else 0)
                    return None
                await self.channels.wait(caller, moment - now)
        except (ChannelHungUp, Redirected, asyncio.CancelledError):
            for leg in legs:
                if not leg.channel.gone:
                    self._end_leg(leg, "CANCEL", 26 if elsewhere else 0, caller)
            raise
        finally:
            entry.pending = False

    def _ring_no_answer(
        self, queue: QueueState, entry: Entry, legs: list[_Leg], cause: int
    ) -> None:
        caller = entry.channel
        now = self.clock.now()
        for leg in legs:
            self.bus.publish(
                "AgentRingNoAnswer",
                "agent",
                [
                    *caller.snapshot(),
                    *leg.channel.snapshot("Dest"),
                    ("Queue", queue.name),
                    ("Interface", leg.member.interface),
                    ("MemberName", leg.member.name),
                    ("RingTime", str(int((now - leg.ring_start) * 1000))),
                ],
            )
            ring_ms = int((now - leg.ring_start) * 1000)
            self.queue_log.log(
                queue.name, caller.uniqueid, leg.member.name, "RINGNOANSWER", ring_ms
            )
        for leg in legs:
            self._end_leg(leg, "NOANSWER", cause, caller)
        config = queue.config
        if config.autopause == "no":
            return
        for leg in legs:
            member = leg.member
            delay = config.autopausedelay
            if delay > 0 and member.last_call and now - member.last_call < delay:
                continue
            only = "" if config.autopause == "all" else queue.name
            self.pause_member(member.interface, True, queue_name=only, reason=AUTOPAUSE_REASON)

    async def _connect(
        self, queue: QueueState, entry: Entry, winner: _Leg, losers: list[_Leg]
    ) -> QueueResult:
        caller, agent, member = entry.channel, winner.channel, winner.member
        self.channels.set_state(agent, STATE_UP)
        self.channels.dial_end(caller, agent, "ANSWER")
        for leg in losers:
            self._end_leg(leg, "CANCEL", 26, caller)
        self.channels.moh_stop(caller)
        now = self.clock.now()
        hold, ring = now - entry.start, now - winner.ring_start
        self._leave_event(queue, entry)
        member.in_call = True
        if self.timing_vars:
            self._duration_var(caller, "QUEUEWAIT", hold)
        self.bus.publish(
            "AgentConnect",
            "agent",
            [
                *caller.snapshot(),
                *agent.snapshot("Dest"),
                ("Queue", queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("HoldTime", str(int(hold))),
                ("RingTime", str(int(ring))),
            ],
        )
        self.queue_log.log(
            queue.name,
            caller.uniqueid,
            member.name,
            "CONNECT",
            int(hold),
            agent.uniqueid,
            int(ring),
        )
        queue.holdtime = (queue.holdtime * 3 + int(hold)) // 4
        in_sl = hold <= queue.config.servicelevel
        caller.connected_num, caller.connected_name = agent.caller_num, agent.caller_name
        caller.gives_up_at = None
        bridge = self.channels.bridge_create()
        self.channels.bridge_enter(bridge, caller)
        self.channels.bridge_enter(bridge, agent)
        self.devices.transition(member.state_interface, ring=-1, use=+1)
        phone = self.devices.phone(member.interface)
        talk = draw(phone.rng, phone.talk_time) if phone else 30.0
        operator_ends = phone is not None and phone.hangs_up == "operator"
        start = self.clock.now()
        end_at = start + talk
        reason = ""
        first, second = caller, agent
        while not reason:
            try:
                if agent.hangup_requested:
                    reason, first, second = "agent", agent, caller
                    break
                if agent.taken_over is not None:  # a Redirect of the operator's leg
                    reason, first, second = "caller", agent, caller
                    break
                caller.check()
                now = self.clock.now()
                if now >= end_at:
                    if operator_ends:
                        self.channels.request_hangup(agent, 16, by="operator", soft=False)
                    else:
                        self.channels.request_hangup(caller, 16, by="caller", soft=False)
                    continue
                await self.channels.wait(caller, end_at - now)
            except ChannelHungUp:
                reason, first, second = "caller", caller, agent
            except Redirected:
                self._redirected_in_call(queue, entry, member, agent, bridge, hold, start, in_sl)
                raise
            except asyncio.CancelledError:  # the board is stopping: leave nothing behind
                for channel in (caller, agent):
                    self.channels.bridge_leave(bridge, channel)
                self.channels.bridge_destroy(bridge)
                self.channels.hangup(agent, 16)
                member.in_call = False
                self.devices.use(member.state_interface, -1)
                raise
        talk_time = self.clock.now() - start
        self.channels.bridge_leave(bridge, first)
        self.channels.bridge_leave(bridge, second)
        moved, agent.taken_over = agent.taken_over, None
        if moved is not None:
            self._leg_taken_over(caller, agent, member)
        self._agent_complete(queue, entry, member, agent, hold, talk_time, reason)
        if self.timing_vars:  # end_bridge_callback: Dial()'s timing variables
            self._duration_var(caller, "ANSWEREDTIME", talk_time)
            self._duration_var(caller, "DIALEDTIME", self.clock.now() - caller.created)
        self.channels.bridge_destroy(bridge)
        self._complete(queue, member, talk_time, in_sl)
        if moved is not None:
            self.channels.hangup(caller, 16)
            moved()
            by = "operator"
            return QueueResult("", queue.name, member.interface, hold, talk_time, by)
        self.channels.hangup(first, 16)
        self.channels.hangup(second, 16)
        self.devices.use(member.state_interface, -1)
        by = "operator" if reason == "agent" else "caller"
        return QueueResult("", queue.name, member.interface, hold, talk_time, by)

    def _leg_taken_over(self, caller: Channel, agent: Channel, member: Member) -> None:
        """AMI Redirect of the operator's leg, which runs no dialplan (main/pbx.c
        ast_async_goto → AST_SOFTHANGUP_ASYNCGOTO on the leg): the leg leaves the bridge for
        the Redirect's target; the caller, alone, is kicked out of the bridge, ``Queue()``
        returns -1 and the caller's dialplan ends — its ``ast_softhangup(APPUNLOAD)`` publishes
        the hang-up request on which app_queue's handle_hangup sends AgentComplete (Reason
        caller, the leg's snapshot still there) and update_queue ends the member's call. The
        operator's device stays in use until the leg hangs up wherever it went."""
        self.channels.request_hangup(caller, 16, by="system", soft=True)
        agent.finalizers.append(lambda: self.devices.use(member.state_interface, -1))

    def _agent_complete(
        self,
        queue: QueueState,
        entry: Entry,
        member: Member,
        agent: Channel | None,
        hold: float,
        talk: float,
        reason: str,
    ) -> None:
        """handle_hangup: send_agent_complete and the queue_log COMPLETECALLER/COMPLETEAGENT;
        ``agent`` None when its snapshot has left the cache (no Dest* fields then)."""
        caller = entry.channel
        self.bus.publish(
            "AgentComplete",
            "agent",
            [
                *caller.snapshot(),
                *(agent.snapshot("Dest") if agent is not None else []),
                ("Queue", queue.name),
                ("Interface", member.interface),
                ("MemberName", member.name),
                ("HoldTime", str(int(hold))),
                ("TalkTime", str(int(talk))),
                ("Reason", reason),
            ],
        )
        self.queue_log.log(
            queue.name,
            caller.uniqueid,
            member.name,
            "COMPLETEAGENT" if reason == "agent" else "COMPLETECALLER",
            int(hold),
            int(talk),
            entry.original_position,
        )

    def _redirected_in_call(
        self,
        queue: QueueState,
        entry: Entry,
        member: Member,
        agent: Channel,
        bridge: Bridge,
        hold: float,
        start: float,
        in_sl: bool,
    ) -> None:
        """AMI Redirect of a caller talking to an operator (Asterisk 20, checked twice):

        - action_redirect → ast_async_goto: the caller is bridged, so ``ast_explicit_goto``
          and ``ast_softhangup_nolock(AST_SOFTHANGUP_ASYNCGOTO)`` — the *nolock* variant,
          which publishes no hang-up request (only ``ast_softhangup`` does). app_queue's
          ``handle_hangup`` listens to hang-up requests only, so **no AgentComplete now**;
          nor is this a blind or attended transfer (those come from the bridge core).
        - The caller leaves the basic bridge; the operator's leg, imparted independent, is
          alone, leaves it too and is hung up by ``ast_bridge_run_after_goto`` →
          ``ast_hangup`` — a Hangup, again without a hang-up request.
        - Its device goes NOT_INUSE: ``update_status`` → ``update_queue`` clears the
          member's ``starttime`` (QueueMemberStatus ``InCall: 0``), sets ``lastcall`` (the
          wrap-up starts) and counts the call completed. The operator's talk ends here.
        - ``ast_bridge_call`` returns 0 (ASYNCGOTO), ``queue_exec`` leaves through ``stop:``
          (ANSWEREDTIME "0" in 20.19.0+, since no end_bridge_callback ran) and the dialplan
          continues at the Redirect's target.
        - The stasis subscriptions of this call stay: the caller's *next* hang-up request
          (hanging up in the other queue, or the ``ast_softhangup(APPUNLOAD)`` at the end of
          its dialplan) runs ``handle_hangup`` → AgentComplete ``Reason: caller`` for this
          operator, ``TalkTime`` from this answer to then (covering the rest of the call), no
          Dest* fields (the leg's snapshot left the cache), and ``update_queue`` does
          nothing (``member->starttime`` is no longer this call's).
        """
        caller = entry.channel
        self.channels.bridge_leave(bridge, caller)
        self.channels.bridge_leave(bridge, agent)
        self.channels.bridge_destroy(bridge)
        self.channels.hangup(agent, 16)
        self._complete(queue, member, self.clock.now() - start, in_sl)
        self.devices.use(member.state_interface, -1)
        self._stop_vars(entry)

        def complete_later() -> None:
            talk = self.clock.now() - start
            self._agent_complete(queue, entry, member, None, hold, talk, "caller")

        caller.hangup_watchers.append(complete_later)

    def _complete(self, queue: QueueState, member: Member, talk: float, in_sl: bool) -> None:
        now = self.clock.now()
        wrapup = queue.config.wrapuptime
        targets = [m for _, m in self.members_of(member.interface)] if self.shared_lastcall else []
        for other in targets or [member]:
            other.last_call = now
            other.last_wrapup = wrapup
        member.calls += 1
        member.in_call = False
        queue.completed += 1
        if in_sl:
            queue.completed_in_sl += 1
        if queue.completed == 1:
            queue.talktime = int(talk)
        else:
            queue.talktime = (queue.talktime * 3 + int(talk)) // 4
