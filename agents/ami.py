"""The AMI adapter: panoramisk's ``Manager`` behind a typed interface.

Owned here, because panoramisk 1.4 gets them wrong (reference/asterisk.md §1): event callbacks
never raise into panoramisk (a raising callback drops the connection) and only enqueue; QueueAdd
is sent with ``as_list=False`` (1.4 never resolves it otherwise); every action is bounded by a
timeout; panoramisk's own pinger is disabled (it never checks replies and leaks them) and a
watchdog pings instead, closing the transport when Asterisk stops answering so panoramisk's
reconnect path runs; once Asterisk says ``FullyBooted`` after a login (right after it, or at the
end of its boot: before that app_queue may not be loaded), a ``Reconnected`` marker asks for a
resync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from panoramisk import Manager

from agents.errors import AsteriskRefused, AsteriskUnavailable
from agents.events import AmiEvent
from agents.ports import Answer
from runtime.metrics import Metrics
from tickets.service import Clock, utc_now

logger = logging.getLogger(__name__)

ORIGINATE_WAIT = 45.0  # the operator's phone rings up to 30 s (Timeout) before the response
NEVER = 10**9  # seconds: disables panoramisk's unchecked pinger
BOOT_WAIT = 30.0  # seconds after a login without FullyBooted before resyncing all the same


@dataclass(frozen=True)
class AmiUrl:
    host: str
    port: int
    username: str
    secret: str

    @classmethod
    def parse(cls, url: str) -> AmiUrl:
        parts = urlsplit(url)
        if parts.scheme != "ami" or not parts.hostname or not parts.username:
            raise ValueError("expected ami://user:secret@host[:port]")
        return cls(
            parts.hostname,
            parts.port or 5038,
            unquote(parts.username),
            unquote(parts.password or ""),
        )


@dataclass(frozen=True)
class Reconnected:
    """Logged in (again) to ``pbx``: its part of the live model must be rebuilt from its own
    listing."""

    pbx: str = ""


AmiItem = AmiEvent | Reconnected


def _header_value(value: Any) -> Any:
    """AMI is lines of ``Key: value``: a CR or LF inside a value (a pause reason typed in a
    console) would end the header and start another — an action of the sender's choosing. Control
    characters become spaces; lists (several ``Variable:`` headers) are cleaned item by item."""
    if isinstance(value, list):
        return [_header_value(item) for item in value]
    if isinstance(value, str):
        return "".join(" " if ord(c) < 32 or ord(c) == 127 else c for c in value)
    return value


def _fields(message: Any) -> dict[str, str]:
    """An event's headers by lowercased name, as ``AmiEvent.of`` has them (a repeated header keeps
    its last value), read straight from panoramisk's message: 1.4's ``CaseInsensitiveDict``
    keeps lowercased name → (name, value) in ``_store``; reading it as a mapping would lower
    every name once more, for every event."""
    return {
        key: value if isinstance(value, str) else (value[-1] if value else "")
        for key, (_, value) in message._store.items()
    }


class AmiConnection:
    def __init__(
        self,
        url: AmiUrl,
        inbox: asyncio.Queue[AmiItem],
        *,
        ping_interval: float,
        action_timeout: float,
        boot_wait: float = BOOT_WAIT,
        metrics: Metrics | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self._url = url
        self._clock = clock  # stamps each event as it arrives (``hotline replay``: simulated)
        self._inbox = inbox
        self._ping_interval = ping_interval
        self._action_timeout = action_timeout
        self._manager: Any = None
        self._logged_in = False
        self._watchdog: asyncio.Task[None] | None = None
        self._boot_wait = boot_wait
        self._booted = False  # FullyBooted seen on this connection
        self._boot_overdue: asyncio.TimerHandle | None = None
        self.name = f"{url.host}:{url.port}"  # the PBX's name in the live model and /metrics
        metrics = metrics or Metrics()
        self._events = metrics.ami_events.labels(self.name)
        metrics.ami_up.labels(self.name).set_function(lambda: float(self._logged_in))

    @property
    def connected(self) -> bool:
        return self._logged_in

    async def start(self) -> None:
        self._manager = Manager(
            host=self._url.host,
            port=self._url.port,
            username=self._url.username,
            secret=self._url.secret,
            events="on",
            ping_delay=NEVER,
            ping_interval=NEVER,
            reconnect_timeout=1,
            loop=asyncio.get_running_loop(),
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
            log=logging.getLogger("panoramisk"),
        )
        self._manager.register_event("*", self._on_event)
        logger.info(
            "connecting to AMI at %s:%d as %s", self._url.host, self._url.port, self._url.username
        )
        self._manager.connect()
        self._watchdog = asyncio.create_task(self._watch(), name="ami-watchdog")

    async def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watchdog
        if self._manager is not None:
            self._manager.close()
        self._logged_in = False
        self._stop_boot_wait()

    # panoramisk calls these synchronously: they must never raise.
    # panoramisk dispatches the events of a read at once but calls on_login later: a FullyBooted
    # sent right after the login reply may come first.
    def _on_event(self, manager: Any, message: Any) -> None:
        self._events.inc()
        try:
            fields = _fields(message)
            event = AmiEvent(fields.get("event", ""), fields, self._clock(), self.name)
            self._inbox.put_nowait(event)
            if event.name == "FullyBooted":
                self._booted = True
                self._stop_boot_wait()
                if self._logged_in:  # else _on_login asks for the resync
                    self._inbox.put_nowait(Reconnected(self.name))
        except Exception:
            logger.exception("AMI event could not be queued: %r", message)

    def _on_login(self, manager: Any) -> None:
        self._logged_in = True
        logger.info("AMI logged in (Asterisk Call Manager/%s)", manager.protocol.version)
        if self._booted:
            self._inbox.put_nowait(Reconnected(self.name))
        else:
            self._stop_boot_wait()
            self._boot_overdue = asyncio.get_running_loop().call_later(
                self._boot_wait, self._resync_unbooted
            )

    def _resync_unbooted(self) -> None:
        self._boot_overdue = None
        logger.warning(
            "no FullyBooted within %.0f s of the AMI login (does the AMI user read the"
            ' "system" class?): rebuilding the live model all the same',
            self._boot_wait,
        )
        self._inbox.put_nowait(Reconnected(self.name))

    def _stop_boot_wait(self) -> None:
        if self._boot_overdue is not None:
            self._boot_overdue.cancel()
            self._boot_overdue = None

    def _on_disconnect(self, manager: Any, exc: object) -> None:
        self._logged_in = False
        self._booted = False
        self._stop_boot_wait()
        logger.warning("AMI connection lost (%s); panoramisk reconnects", exc)

    async def _watch(self) -> None:
        """Ping every interval; no answer within the interval ⇒ close, so reconnect runs."""
        while True:
            await asyncio.sleep(self._ping_interval)
            if not self._logged_in:
                continue
            try:
                await asyncio.wait_for(
                    self._manager.send_action({"Action": "Ping"}), self._ping_interval
                )
            except TimeoutError:
                logger.warning(
                    "AMI did not answer a Ping within %.1f s; closing to reconnect",
                    self._ping_interval,
                )
                self._logged_in = False
                transport = getattr(self._manager.protocol, "transport", None)
                if transport is not None:
                    transport.close()
            except Exception:
                logger.exception("AMI ping failed")

    async def _send(
        self, action: dict[str, Any], *, as_list: bool | None, wait: float | None = None
    ) -> Any:
        if not self._logged_in:
            raise AsteriskUnavailable(f"AMI is not connected; {action['Action']} not sent")
        action = {key: _header_value(value) for key, value in action.items()}
        try:
            reply = await asyncio.wait_for(
                self._manager.send_action(action, as_list=as_list), wait or self._action_timeout
            )
        except TimeoutError as err:
            raise AsteriskUnavailable(f"no AMI reply to {action['Action']}") from err
        first = reply[0] if isinstance(reply, list) else reply
        if first.get("Response") == "Error":
            raise AsteriskRefused(f"{action['Action']}: {first.get('Message')}")
        return reply

    async def queue_add(self, queue: str, interface: str, member_name: str) -> None:
        await self._send(
            {
                "Action": "QueueAdd",
                "Queue": queue,
                "Interface": interface,
                "MemberName": member_name,
                "Paused": "false",
            },
            as_list=False,
        )

    async def queue_remove(self, queue: str, interface: str) -> None:
        await self._send(
            {"Action": "QueueRemove", "Queue": queue, "Interface": interface}, as_list=False
        )

    async def queue_pause(
        self, interface: str, paused: bool, reason: str = "", queue: str | None = None
    ) -> None:
        action = {
            "Action": "QueuePause",
            "Interface": interface,
            "Paused": "true" if paused else "false",
        }
        if reason:
            action["Reason"] = reason
        if queue:
            action["Queue"] = queue
        await self._send(action, as_list=False)

    async def originate(
        self,
        channel: str,
        *,
        context: str,
        exten: str,
        callerid: str,
        variables: Mapping[str, str],
    ) -> Answer:
        return await self._originate(
            channel,
            {"Context": context, "Exten": exten, "Priority": "1"},
            callerid,
            variables,
        )

    async def originate_application(
        self,
        channel: str,
        *,
        application: str,
        data: str,
        callerid: str,
        variables: Mapping[str, str],
    ) -> Answer:
        return await self._originate(
            channel, {"Application": application, "Data": data}, callerid, variables
        )

    async def _originate(
        self,
        channel: str,
        target: dict[str, str],
        callerid: str,
        variables: Mapping[str, str],
    ) -> Answer:
        """Async Originate; the reply list ends with its OriginateResponse (Success: the
        first leg answered within the 30 s Timeout; otherwise its Reason says why not)."""
        action: dict[str, Any] = {
            "Action": "Originate",
            "Channel": channel,
            **target,
            "CallerID": callerid,
            "Async": "true",
            "Timeout": "30000",
        }
        if variables:
            action["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        reply = await self._send(action, as_list=None, wait=ORIGINATE_WAIT)
        messages = reply if isinstance(reply, list) else [reply]
        result = next((m for m in messages if m.get("Event") == "OriginateResponse"), None)
        if result is None:
            return Answer.UNAVAILABLE
        if result.get("Response") == "Success":
            return Answer.ANSWERED
        reason = str(result.get("Reason", "0"))
        return Answer.of_reason(int(reason) if reason.isdigit() else 0)

    async def redirect(self, channel: str, *, context: str, exten: str, priority: str) -> None:
        await self._send(
            {
                "Action": "Redirect",
                "Channel": channel,
                "Context": context,
                "Exten": exten,
                "Priority": priority,
            },
            as_list=False,
        )

    async def snapshot(self) -> list[AmiEvent]:
        status = await self._send({"Action": "QueueStatus"}, as_list=True)
        channels = await self._send({"Action": "CoreShowChannels"}, as_list=True)
        try:
            # The softphones this PBX knows (res_manager_devicestate): where an operator
            # who is in no queue yet is registered.
            devices = await self._send({"Action": "DeviceStateList"}, as_list=True)
        except AsteriskRefused as err:
            logger.warning("DeviceStateList refused (%s): devices are learnt from events", err)
            devices = []
        return [
            AmiEvent.of(dict(m), self._clock(), pbx=self.name)
            for m in [*status, *channels, *devices]
            if m.get("Event")
        ]
