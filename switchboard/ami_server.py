"""The AMI server: Asterisk 20's banner, replies, list actions and event stream (reference §3).

One ``AmiSession`` per TCP connection. Everything a session sends — a reply, a whole list, an
event — is one complete message written in one piece, so events never interleave inside a
reply; events caused by an action are published after its reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from switchboard.ami_wire import Action, Fields, FrameReader, banner, encode
from switchboard.clock import Clock
from switchboard.devices import DEVICE_STATE_NAMES
from switchboard.dialplan import OriginateRequest
from switchboard.events import EVENT_CLASSES, AmiEvent, EventBus

if TYPE_CHECKING:
    from switchboard.board import Switchboard

logger = logging.getLogger(__name__)

AUTH_TIMEOUT = 30.0
TRUE_WORDS = ("yes", "true", "y", "t", "1", "on")
FALSE_WORDS = ("no", "false", "n", "f", "0", "off")

# Write classes an action needs (any of them); empty = none needed (manager.c / app_queue.c).
ACTION_CLASSES: dict[str, frozenset[str]] = {
    "login": frozenset(),
    "challenge": frozenset(),
    "logoff": frozenset(),
    "ping": frozenset(),
    "events": frozenset(),
    "listcommands": frozenset(),
    "command": frozenset({"command"}),
    "queuestatus": frozenset(),
    "queuesummary": frozenset(),
    "queueadd": frozenset({"agent"}),
    "queueremove": frozenset({"agent"}),
    "queuepause": frozenset({"agent"}),
    "queuepenalty": frozenset({"agent"}),
    "queuereset": frozenset(),
    "queuelog": frozenset({"agent"}),
    "originate": frozenset({"originate"}),
    "redirect": frozenset({"call"}),
    "hangup": frozenset({"system", "call"}),
    "getvar": frozenset({"call", "reporting"}),
    "setvar": frozenset({"call"}),
    "coreshowchannels": frozenset({"system", "reporting"}),
    "devicestatelist": frozenset({"call", "reporting"}),
}
# Originate of these applications, or with these functions in its Data, needs "system" on top
# of "originate" (manager.c originate_app_permissions, is_originate_app_permitted): the first
# entry that matches decides. Applications match case-insensitively anywhere in the name,
# functions case-sensitively anywhere in the data; Queue only with its AGI argument (the 6th).
ORIGINATE_SYSTEM_APPS = (
    "agi",
    "dbdeltree",
    "exec",
    "externalivr",
    "mixmonitor",
    "originate",
    "reload",
    "system",
)
ORIGINATE_SYSTEM_FUNCTIONS = ("CURL", "DB", "EVAL", "FILE", "ODBC", "REALTIME", "SHELL")


def originate_app_permitted(application: str, data: str, user: AmiUser) -> bool:
    app = application.lower()
    if any(word in app for word in ORIGINATE_SYSTEM_APPS):
        return user.can_write(frozenset({"system"}))
    arguments = data.split(",")
    if "queue" in app and len(arguments) > 5 and arguments[5]:
        return user.can_write(frozenset({"agi", "system"}))
    if any(function in data for function in ORIGINATE_SYSTEM_FUNCTIONS):
        return user.can_write(frozenset({"system"}))
    return True


SYNOPSES = {
    "login": "Login Manager.",
    "challenge": "Generate Challenge for MD5 Auth.",
    "logoff": "Logoff Manager.",
    "ping": "Keepalive command.",
    "events": "Control Event Flow.",
    "listcommands": "List available manager commands.",
    "command": "Execute Asterisk CLI Command.",
    "queuestatus": "Show queue status.",
    "queuesummary": "Show queue summary.",
    "queueadd": "Add interface to queue.",
    "queueremove": "Remove interface from queue.",
    "queuepause": "Makes a queue member temporarily unavailable.",
    "queuepenalty": "Set the penalty for a queue member.",
    "queuereset": "Reset queue statistics.",
    "queuelog": "Adds custom entry in queue_log.",
    "originate": "Originate a call.",
    "redirect": "Redirect (transfer) a call.",
    "hangup": "Hangup channel.",
    "getvar": "Gets a channel variable or function value.",
    "setvar": "Sets a channel variable or function value.",
    "coreshowchannels": "List currently active channels.",
    "devicestatelist": "List the current known device states.",
}
ACTION_NAMES = {
    "login": "Login",
    "challenge": "Challenge",
    "logoff": "Logoff",
    "ping": "Ping",
    "events": "Events",
    "listcommands": "ListCommands",
    "command": "Command",
    "queuestatus": "QueueStatus",
    "queuesummary": "QueueSummary",
    "queueadd": "QueueAdd",
    "queueremove": "QueueRemove",
    "queuepause": "QueuePause",
    "queuepenalty": "QueuePenalty",
    "queuereset": "QueueReset",
    "queuelog": "QueueLog",
    "originate": "Originate",
    "redirect": "Redirect",
    "hangup": "Hangup",
    "getvar": "Getvar",
    "setvar": "Setvar",
    "coreshowchannels": "CoreShowChannels",
    "devicestatelist": "DeviceStateList",
}


@dataclass(frozen=True)
class AmiUser:
    secret: str
    read: frozenset[str]
    write: frozenset[str]

    def can_write(self, needed: frozenset[str]) -> bool:
        return not needed or "all" in self.write or bool(self.write & needed)

    def readable(self) -> frozenset[str]:
        return frozenset(EVENT_CLASSES) if "all" in self.read else self.read


def event_mask(value: str | None, user: AmiUser) -> frozenset[str]:
    """set_eventmask: on/off, or a list of classes, always limited to the user's read."""
    readable = user.readable()
    if value is None:
        return readable
    text = value.strip().lower()
    if text in TRUE_WORDS:
        return readable
    if text in FALSE_WORDS or not text:
        return frozenset()
    wanted = {part.strip() for part in text.split(",")}
    if "all" in wanted:
        return readable
    return readable & frozenset(wanted)


def yes(value: str | None) -> bool:
    return (value or "").strip().lower() in TRUE_WORDS


class AmiSession:
    def __init__(
        self,
        server: AmiServer,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        number: int,
    ) -> None:
        self.server = server
        self.reader = reader
        self.writer = writer
        self.number = number
        self.authenticated = False
        self.username = ""
        self.user: AmiUser | None = None
        self.mask: frozenset[str] = frozenset()
        self.challenge: str | None = None
        self.closed = False
        self._held: list[bytes] = []

    def send(self, data: bytes) -> None:
        if self.closed:
            return
        if self.writer.is_closing():  # the client went away (e.g. while frozen)
            self.closed = True
            self._held.clear()
            return
        if self.server.frozen:
            self._held.append(data)
            return
        self.writer.write(data)

    def release(self) -> None:
        held, self._held = self._held, []
        for data in held:
            self.send(data)

    def deliver(self, event: AmiEvent) -> None:
        if self.authenticated and event.cls in self.mask:
            stamp = self.server.clock.now() if self.server.timestamp_events else None
            self.send(event.encode(stamp, self.server.board.systemname))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()

    async def run(self) -> None:
        self.send(banner(self.server.version))
        frames = FrameReader()
        deadline = self.server.clock.now() + AUTH_TIMEOUT
        try:
            while not self.closed:
                await self.server.thawed.wait()
                if self.authenticated:
                    data = await self.reader.read(65536)
                else:
                    left = deadline - self.server.clock.now()
                    if left <= 0:
                        break
                    try:
                        data = await asyncio.wait_for(
                            self.reader.read(65536), self.server.clock.real(left)
                        )
                    except TimeoutError:
                        break
                if not data:
                    break
                logger.debug("AMI session %d received %r", self.number, data)
                for action in frames.feed(data):
                    await self.server.thawed.wait()
                    if self.closed:
                        break
                    await self.server.dispatch(self, action)
        except (ConnectionError, OSError):
            pass
        finally:
            self.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()


Handler = Callable[[AmiSession, Action], Awaitable[None]]


class AmiServer:
    def __init__(
        self,
        board: Switchboard,
        *,
        bus: EventBus,
        clock: Clock,
        users: dict[str, AmiUser],
        version: str,
        timestamp_events: bool,
        rng: random.Random,
    ) -> None:
        self.board = board
        self.clock = clock
        self.users = users
        self.version = version
        self.timestamp_events = timestamp_events
        self.rng = rng
        self.sessions: dict[AmiSession, asyncio.Task[None]] = {}
        self.thawed = asyncio.Event()
        self.thawed.set()
        self.frozen = False
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.Server | None = None
        self._numbers = itertools.count(1)
        self.started = clock.now()
        self._handlers: dict[str, Handler] = {
            "login": self._login,
            "challenge": self._challenge,
            "logoff": self._logoff,
            "ping": self._ping,
            "events": self._events,
            "listcommands": self._listcommands,
            "command": self._command,
            "queuestatus": self._queuestatus,
            "queuesummary": self._queuesummary,
            "queueadd": self._queueadd,
            "queueremove": self._queueremove,
            "queuepause": self._queuepause,
            "queuepenalty": self._queuepenalty,
            "queuereset": self._queuereset,
            "queuelog": self._queuelog,
            "originate": self._originate,
            "redirect": self._redirect,
            "hangup": self._hangup,
            "getvar": self._getvar,
            "setvar": self._setvar,
            "coreshowchannels": self._coreshowchannels,
            "devicestatelist": self._devicestatelist,
        }
        bus.subscribe(self._broadcast)

    # lifecycle --------------------------------------------------------------------------------

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.start_server(self._accept, host, port, reuse_address=True)
        self.host = host
        self.port = self._server.sockets[0].getsockname()[1]
        logger.info("AMI listening on %s:%d", host, self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        session = AmiSession(self, reader, writer, next(self._numbers))
        task.set_name(f"ami-session-{session.number}")
        self.sessions[session] = task
        try:
            await session.run()
        except asyncio.CancelledError:
            # The server ends its own sessions; asyncio's stream callback cannot take a
            # cancelled task (it calls task.exception()), so the handler ends normally.
            logger.debug("AMI session %d cancelled", session.number)
        finally:
            self.sessions.pop(session, None)

    async def close_sessions(self) -> None:
        """Close every connection and wait for its task; cancel what does not end in 1 s."""
        sessions = list(self.sessions.items())
        for session, _ in sessions:
            session.close()
        tasks = [task for _, task in sessions]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=1.0)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.thaw()
        await self.close_sessions()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    def freeze(self) -> None:
        self.frozen = True
        self.thawed.clear()

    def thaw(self) -> None:
        self.frozen = False
        self.thawed.set()
        for session in list(self.sessions):
            session.release()

    def inject(self, data: bytes) -> None:
        for session in list(self.sessions):
            session.send(data)

    def _broadcast(self, event: AmiEvent) -> None:
        for session in list(self.sessions):
            session.deliver(event)

    # dispatch ---------------------------------------------------------------------------------

    @staticmethod
    def reply(
        session: AmiSession,
        action: Action,
        response: str = "Success",
        message: str | None = None,
        extra: Fields | None = None,
        *,
        list_start: bool = False,
    ) -> None:
        session.send(encode(AmiServer.reply_fields(action, response, message, extra, list_start)))

    @staticmethod
    def reply_fields(
        action: Action,
        response: str,
        message: str | None,
        extra: Fields | None = None,
        list_start: bool = False,
    ) -> Fields:
        fields: Fields = [("Response", response)]
        if action.action_id is not None:
            fields.append(("ActionID", action.action_id))
        if list_start:
            fields.append(("EventList", "start"))
        if message is not None:
            fields.append(("Message", message))
        return fields + (extra or [])

    def error(self, session: AmiSession, action: Action, message: str) -> None:
        self.reply(session, action, "Error", message)

    async def dispatch(self, session: AmiSession, action: Action) -> None:
        if action.too_long:
            self.error(session, action, "Failed to parse message: line too long")
            return
        name = action.name
        if not name:
            self.error(session, action, "Missing action in request")
            return
        key = name.lower()
        if not session.authenticated and key not in ("login", "challenge", "logoff"):
            self.error(session, action, "Permission denied")
            return
        handler = self._handlers.get(key)
        if key.startswith("queue") and not self.board.fully_booted:
            handler = None  # app_queue registers its actions when it loads, during the boot
        if handler is None:
            self.error(
                session,
                action,
                f"Invalid/unknown command: {name}. Use Action: ListCommands to show available"
                " commands.",
            )
            return
        user = session.user
        if user is not None and not user.can_write(ACTION_CLASSES[key]):
            self.error(session, action, "Permission denied")
            return
        try:
            await handler(session, action)
        except (ConnectionError, OSError):
            raise
        except Exception:
            logger.exception("AMI action %s failed", name)
            self.error(session, action, f"Internal error while running {name}")

    # session actions --------------------------------------------------------------------------

    async def _login(self, session: AmiSession, action: Action) -> None:
        if session.authenticated:
            self.reply(session, action, "Success", "Already authenticated")
            return
        username = action.text("Username")
        user = self.users.get(username)
        accepted = False
        if user is not None:
            if action.text("AuthType").lower() == "md5":
                if session.challenge is not None:
                    expected = hashlib.md5(  # noqa: S324 - Asterisk's challenge is MD5
                        (session.challenge + user.secret).encode()
                    ).hexdigest()
                    accepted = action.text("Key").lower() == expected
            else:
                accepted = action.get("Secret") == user.secret
        if not accepted or user is None:
            logger.info("AMI login failed for %r", username)
            await self.clock.sleep(1.0)
            self.error(session, action, "Authentication failed")
            session.close()
            return
        session.authenticated = True
        session.username = username
        session.user = user
        session.mask = event_mask(action.get("Events"), user)
        self.reply(session, action, "Success", "Authentication accepted")
        if "system" in session.mask and self.board.fully_booted:
            uptime = str(int(self.clock.now() - self.started))
            session.send(
                encode(
                    [
                        ("Event", "FullyBooted"),
                        ("Privilege", "system,all"),
                        ("Uptime", uptime),
                        ("LastReload", uptime),
                        ("Status", "Fully Booted"),
                    ]
                )
            )

    async def _challenge(self, session: AmiSession, action: Action) -> None:
        if action.text("AuthType").lower() != "md5":
            self.error(session, action, "Must specify AuthType")
            return
        if session.challenge is None:
            session.challenge = str(self.rng.randrange(1, 2**31))
        self.reply(session, action, "Success", None, [("Challenge", session.challenge)])

    async def _logoff(self, session: AmiSession, action: Action) -> None:
        self.reply(session, action, "Goodbye", "Thanks for all the fish.")
        session.close()

    async def _ping(self, session: AmiSession, action: Action) -> None:
        stamp = f"{self.clock.now():.6f}"
        self.reply(session, action, "Success", None, [("Ping", "Pong"), ("Timestamp", stamp)])

    async def _events(self, session: AmiSession, action: Action) -> None:
        assert session.user is not None
        session.mask = event_mask(action.get("EventMask") or "off", session.user)
        state = "On" if session.mask else "Off"
        self.reply(session, action, "Success", None, [("Events", state)])

    async def _listcommands(self, session: AmiSession, action: Action) -> None:
        extra: Fields = []
        for key, synopsis in SYNOPSES.items():
            needed = ",".join(sorted(ACTION_CLASSES[key])) or "<none>"
            extra.append((ACTION_NAMES[key], f"{synopsis}  (Priv: {needed})"))
        self.reply(session, action, "Success", None, extra)

    async def _command(self, session: AmiSession, action: Action) -> None:
        command = action.text("Command").strip()
        if not command:
            self.error(session, action, "No command provided")
            return
        ok, lines = self.board.cli(command)
        output: Fields = [("Output", line) for line in lines]
        self.reply(session, action, "Success" if ok else "Error", "Command output follows", output)

    # queue actions ----------------------------------------------------------------------------

    def _item(self, name: str, fields: Fields, action: Action) -> Fields:
        item: Fields = [("Event", name), *fields]
        if action.action_id is not None:
            item.append(("ActionID", action.action_id))
        return item

    def _complete(self, name: str, count: int, action: Action) -> bytes:
        fields: Fields = [("Event", name)]
        if action.action_id is not None:
            fields.append(("ActionID", action.action_id))
        fields += [("EventList", "Complete"), ("ListItems", str(count))]
        return encode(fields)

    async def _queuestatus(self, session: AmiSession, action: Action) -> None:
        wanted_queue = action.text("Queue")
        wanted_member = action.text("Member")
        app = self.board.app_queue
        now = self.clock.now()
        out = [encode(self.reply_fields(action, "Success", "Queue status will follow", [], True))]
        count = 0
        for queue in app.queues.values():
            if wanted_queue and queue.name != wanted_queue:
                continue
            perf, perf2 = queue.service_level_perf()
            params: Fields = [
                ("Queue", queue.name),
                ("Max", str(queue.config.maxlen)),
                ("Strategy", queue.config.strategy),
                ("Calls", str(len(queue.entries))),
                ("Holdtime", str(queue.holdtime)),
                ("TalkTime", str(queue.talktime)),
                ("Completed", str(queue.completed)),
                ("Abandoned", str(queue.abandoned)),
                ("ServiceLevel", str(queue.config.servicelevel)),
                ("ServicelevelPerf", f"{perf:2.1f}"),
                ("ServicelevelPerf2", f"{perf2:2.1f}"),
                ("Weight", str(queue.config.weight)),
            ]
            out.append(encode(self._item("QueueParams", params, action)))
            count += 1
            for member in queue.members.values():
                if wanted_member and wanted_member not in (member.interface, member.name):
                    continue
                fields = app.member_fields(queue, member)
                values = dict(fields)
                row: Fields = [
                    ("Queue", queue.name),
                    ("Name", member.name),
                    ("Location", member.interface),
                    ("StateInterface", member.state_interface),
                    ("Membership", member.membership),
                    ("Penalty", values["Penalty"]),
                    ("CallsTaken", values["CallsTaken"]),
                    ("LastCall", values["LastCall"]),
                    ("LastPause", values["LastPause"]),
                    ("LoginTime", values["LoginTime"]),
                    ("InCall", values["InCall"]),
                    ("Status", values["Status"]),
                    ("Paused", values["Paused"]),
                    ("PausedReason", values["PausedReason"]),
                    ("Wrapuptime", values["Wrapuptime"]),
                ]
                out.append(encode(self._item("QueueMember", row, action)))
                count += 1
            for position, entry in enumerate(queue.entries, start=1):
                channel = entry.channel
                row = [
                    ("Queue", queue.name),
                    ("Position", str(position)),
                    ("Channel", channel.name),
                    ("Uniqueid", channel.uniqueid),
                    ("CallerIDNum", channel.caller_num or "unknown"),
                    ("CallerIDName", channel.caller_name or "unknown"),
                    ("ConnectedLineNum", channel.connected_num or "unknown"),
                    ("ConnectedLineName", channel.connected_name or "unknown"),
                    ("Wait", str(int(now - entry.start))),
                    ("Priority", str(entry.prio)),
                ]
                out.append(encode(self._item("QueueEntry", row, action)))
                count += 1
        out.append(self._complete("QueueStatusComplete", count, action))
        session.send(b"".join(out))

    async def _queuesummary(self, session: AmiSession, action: Action) -> None:
        wanted = action.text("Queue")
        app = self.board.app_queue
        now = self.clock.now()
        out = [encode(self.reply_fields(action, "Success", "Queue summary will follow", [], True))]
        count = 0
        for queue in app.queues.values():
            if wanted and queue.name != wanted:
                continue
            logged_in = available = 0
            for member in queue.members.values():
                if member.status not in (4, 5):
                    logged_in += 1
                    if (
                        not member.paused
                        and member.status in (0, 1)
                        and not app.in_wrapup(queue, member)
                    ):
                        available += 1
            longest = max((int(now - e.start) for e in queue.entries), default=0)
            row: Fields = [
                ("Queue", queue.name),
                ("LoggedIn", str(logged_in)),
                ("Available", str(available)),
                ("Callers", str(len(queue.entries))),
                ("HoldTime", str(queue.holdtime)),
                ("TalkTime", str(queue.talktime)),
                ("LongestHoldTime", str(longest)),
            ]
            out.append(encode(self._item("QueueSummary", row, action)))
            count += 1
        out.append(self._complete("QueueSummaryComplete", count, action))
        session.send(b"".join(out))

    async def _queueadd(self, session: AmiSession, action: Action) -> None:
        queue_name, interface = action.text("Queue"), action.text("Interface")
        if not queue_name:
            self.error(session, action, "'Queue' not specified.")
            return
        if not interface:
            self.error(session, action, "'Interface' not specified.")
            return
        penalty_text = action.text("Penalty").strip() or "0"
        app = self.board.app_queue
        queue = app.queues.get(queue_name)
        if queue is None:
            self.error(session, action, "Unable to add interface to queue: No such queue")
            return
        if interface.lower() in queue.members:
            self.error(session, action, "Unable to add interface: Already there")
            return
        wrapup_text = action.text("Wrapuptime").strip()  # manager_add_queue_member: 0 if
        self.reply(session, action, "Success", "Added interface to queue")  # absent or bad
        app.add_member(
            queue_name,
            interface,
            penalty=int(penalty_text) if penalty_text.lstrip("-").isdigit() else 0,
            paused=yes(action.get("Paused")),
            name=action.text("MemberName"),
            state_interface=action.text("StateInterface"),
            reason=action.text("Reason"),
            wrapuptime=int(wrapup_text) if wrapup_text.isdigit() else 0,
        )

    async def _queueremove(self, session: AmiSession, action: Action) -> None:
        queue_name, interface = action.text("Queue"), action.text("Interface")
        if not queue_name or not interface:
            self.error(session, action, "Need 'Queue' and 'Interface' parameters.")
            return
        app = self.board.app_queue
        queue = app.queues.get(queue_name)
        if queue is None:
            self.error(session, action, "Unable to remove interface from queue: No such queue")
            return
        member = queue.members.get(interface.lower())
        if member is None:
            self.error(session, action, "Unable to remove interface: Not there")
            return
        if member.membership != "dynamic":
            self.error(session, action, "Member not dynamic")
            return
        self.reply(session, action, "Success", "Removed interface from queue")
        app.remove_member(queue_name, interface)

    async def _queuepause(self, session: AmiSession, action: Action) -> None:
        interface, paused_text = action.text("Interface"), action.get("Paused")
        if not interface or paused_text is None:
            self.error(session, action, "Need 'Interface' and 'Paused' parameters.")
            return
        queue_name = action.text("Queue")
        app = self.board.app_queue
        found = any(
            not queue_name or queue.name == queue_name for queue, _ in app.members_of(interface)
        )
        if not found:
            self.error(session, action, "Interface not found")
            return
        paused = yes(paused_text)
        text = "Interface paused successfully" if paused else "Interface unpaused successfully"
        self.reply(session, action, "Success", text)
        app.pause_member(interface, paused, queue_name=queue_name, reason=action.text("Reason"))

    async def _queuepenalty(self, session: AmiSession, action: Action) -> None:
        interface, penalty_text = action.text("Interface"), action.get("Penalty")
        if not interface or penalty_text is None:
            self.error(session, action, "Need 'Interface' and 'Penalty' parameters.")
            return
        if not penalty_text.strip().isdigit():
            self.error(session, action, "Invalid penalty")
            return
        queue_name = action.text("Queue")
        app = self.board.app_queue
        found = any(
            not queue_name or queue.name == queue_name for queue, _ in app.members_of(interface)
        )
        if not found:
            self.error(session, action, "Invalid interface, queuename or penalty")
            return
        self.reply(session, action, "Success", "Interface penalty set successfully")
        app.set_penalty(interface, int(penalty_text), queue_name=queue_name)

    async def _queuereset(self, session: AmiSession, action: Action) -> None:
        self.board.app_queue.reset_stats(action.text("Queue"))
        self.reply(session, action, "Success", "Queue stats reset successfully")

    async def _queuelog(self, session: AmiSession, action: Action) -> None:
        if not action.text("Queue") or not action.text("Event"):
            self.error(session, action, "Need 'Queue' and 'Event' parameters.")
            return
        logger.info(
            "queue_log %s|%s|%s|%s",
            action.text("Queue"),
            action.text("UniqueID") or "NONE",
            action.text("Interface") or "NONE",
            action.text("Event"),
        )
        self.reply(session, action, "Success", "Event added successfully")

    # call actions -----------------------------------------------------------------------------

    async def _originate(self, session: AmiSession, action: Action) -> None:
        channel = action.text("Channel")
        if not channel:
            self.error(session, action, "Channel not specified")
            return
        exten, context = action.text("Exten"), action.text("Context") or "default"
        application = action.text("Application")
        if not application and not exten:
            self.error(session, action, "Exten not specified")
            return
        user = session.user
        data = action.text("Data")
        if (
            application
            and user is not None
            and not originate_app_permitted(application, data, user)
        ):
            self.error(session, action, "Originate Access Forbidden: app or data blacklisted")
            return
        priority = action.text("Priority") or "1"
        timeout_text = action.text("Timeout").strip()
        timeout = int(timeout_text) / 1000 if timeout_text.isdigit() else 30.0
        variables: dict[str, str] = {}
        for item in action.get_all("Variable"):
            for pair in item.split(","):
                name, _, value = pair.partition("=")
                if name:
                    variables[name.strip()] = value
        request = OriginateRequest(
            channel=channel,
            context=context,
            exten=exten,
            priority=priority,
            application=application,
            data=data,
            timeout=timeout,
            callerid=action.text("CallerID"),
            variables=variables,
            action_id=action.action_id,
        )
        if yes(action.get("Async")):
            self.reply(session, action, "Success", "Originate successfully queued")
            _ = self.board.start_originate(request, publish=True)
            return
        ok = await self.board.start_originate(request, publish=False)
        if ok:
            self.reply(session, action, "Success", "Originate successfully queued")
        else:
            self.error(session, action, "Originate failed")

    async def _redirect(self, session: AmiSession, action: Action) -> None:
        """action_redirect (main/manager.c, Asterisk 20): Channel, Context, Exten and Priority
        are all required, a label is looked up (ast_findlabel_extension); a channel with a
        hang-up pending is refused; ast_async_goto moves a channel running dialplan and takes
        over one that runs none (Switchboard.take_over)."""
        name = action.text("Channel")
        context, exten = action.text("Context"), action.text("Exten")
        priority = action.text("Priority")
        missing = next(
            (
                text
                for value, text in (
                    (name, "Channel not specified"),
                    (context, "Context not specified"),
                    (exten, "Exten not specified"),
                    (priority, "Priority not specified"),
                )
                if not value
            ),
            None,
        )
        if missing is not None:
            self.error(session, action, missing)
            return
        channel = self.board.channels.find(name)
        if not self.board.dialplan.priority_exists(context, exten, priority):
            self.error(session, action, "Priority is invalid")
            return
        if channel is None:
            self.error(session, action, f"Channel does not exist: {name}")
            return
        if channel.hangup_requested:
            self.error(session, action, "Redirect failed, channel not up.")
            return
        self.reply(session, action, "Success", "Redirect successful")
        if self.board.runs_dialplan(channel):
            self.board.channels.redirect(channel, context, exten, priority)
        else:
            self.board.take_over(channel, context, exten, priority)

    async def _hangup(self, session: AmiSession, action: Action) -> None:
        name = action.text("Channel")
        if not name:
            self.error(session, action, "No channel specified")
            return
        channel = self.board.channels.find(name)
        if channel is None:
            self.error(session, action, "No such channel")
            return
        cause_text = action.text("Cause").strip()
        cause = int(cause_text) if cause_text.isdigit() else 16
        self.reply(session, action, "Success", "Channel Hungup")
        self.board.channels.request_hangup(channel, cause, by="ami", soft=True)

    async def _getvar(self, session: AmiSession, action: Action) -> None:
        variable = action.text("Variable")
        if not variable:
            self.error(session, action, "No variable specified")
            return
        name = action.text("Channel")
        value: str | None
        if name:
            channel = self.board.channels.find(name)
            if channel is None:
                self.error(session, action, "No such channel")
                return
            value = self.board.channel_value(channel, variable)
        else:
            value = self.board.globals.get(variable)
        self.reply(
            session, action, "Success", None, [("Variable", variable), ("Value", value or "")]
        )

    async def _setvar(self, session: AmiSession, action: Action) -> None:
        variable = action.text("Variable")
        if not variable:
            self.error(session, action, "No variable specified")
            return
        name = action.text("Channel")
        value = action.text("Value")
        if name:
            channel = self.board.channels.find(name)
            if channel is None:
                self.error(session, action, "No such channel")
                return
            self.reply(session, action, "Success", "Variable Set")
            self.board.channels.set_var(channel, variable, value)
        else:
            self.reply(session, action, "Success", "Variable Set")
            self.board.globals[variable] = value

    async def _coreshowchannels(self, session: AmiSession, action: Action) -> None:
        now = self.clock.now()
        out = [encode(self.reply_fields(action, "Success", "Channels will follow", [], True))]
        count = 0
        for channel in self.board.channels:
            fields: Fields = [("Event", "CoreShowChannel")]
            if action.action_id is not None:
                fields.append(("ActionID", action.action_id))
            seconds = int(now - channel.created)
            fields += channel.snapshot()
            fields += [
                ("Application", channel.application),
                ("ApplicationData", channel.app_data),
                ("Duration", f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"),
                ("BridgeId", channel.bridge.uniqueid if channel.bridge else ""),
            ]
            out.append(encode(fields))
            count += 1
        out.append(self._complete("CoreShowChannelsComplete", count, action))
        session.send(b"".join(out))

    async def _devicestatelist(self, session: AmiSession, action: Action) -> None:
        """res_manager_devicestate.c ``action_devicestatelist``: one DeviceStateChange per
        device in the state cache, then DeviceStateListComplete."""
        out = [
            encode(
                self.reply_fields(action, "Success", "Device State Changes will follow", [], True)
            )
        ]
        devices = self.board.devices
        for phone in devices.phones.values():
            state = DEVICE_STATE_NAMES[devices.state(phone.interface)]
            fields: Fields = [("Device", phone.interface), ("State", state)]
            out.append(encode(self._item("DeviceStateChange", fields, action)))
        out.append(self._complete("DeviceStateListComplete", len(devices.phones), action))
        session.send(b"".join(out))
