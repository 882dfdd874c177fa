"""AMI events into the live model, and from an AMI event to the consoles' WebSocket.

A small AMI server on loopback sends Asterisk 20-shaped events of complete queue calls (24
events a call: channel, dialplan, queue, bridge, member-status events). Measured in one run:

1. baseline: panoramisk 1.4's ``Manager`` alone, a callback that only counts (the ceiling any
   panoramisk-based client has on this machine): events/s at full speed, and at a paced rate
   (default 1,000 events/s) the delay from writing ``QueueCallerJoin`` to the callback;
2. the live path: the same bytes through our AMI adapter into the live model and the event bus
   to ``--consoles`` WebSockets on ``/api/v1/events`` (queues, operators, calls, as a wallboard)
   — events/s applied at full speed, frames and events each console received;
3. latency: at the paced rate, from writing ``QueueCallerJoin`` to a console receiving the
   ``calls`` event for that caller: p50/p99, against the baseline's delay.

Nothing is written to the database per AMI event (statistics come from queue_log,
``agents/applier.py``); an answered call's screen pop reads who is logged in at that softphone.
Ends with a JSON line of the headline figures.

Run: ``.venv/bin/python -m bench.ami_events`` (``HOTLINE_DATABASE_URL`` to use a server,
otherwise an embedded PostgreSQL in a temporary folder; a fresh database is made and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from panoramisk import Manager

from bench.agi_turns import Figure
from bench.machine import cpu_model, nproc, scratch_database
from db.users import PostgresUserRepository
from hotline.app import POOL, build_app
from hotline.auth import AuthService
from hotline.keys import AGENTS
from hotline.settings import Settings
from runtime.loop import run_loop
from tickets.model import Role

QUEUE = "hotline-1022"
PASSWORD = "bench-password-long"
# the listings of the service's resync (agents/ami.py snapshot), answered empty
LISTINGS = {
    "queuestatus": "QueueStatusComplete",
    "coreshowchannels": "CoreShowChannelsComplete",
    "devicestatelist": "DeviceStateListComplete",
}


def call_events(n: int) -> Iterator[tuple[str | None, bytes]]:
    """The events of one answered queue call, Asterisk 20 field order (reference §3.5)."""
    uid = f"1795800000.{n}"
    member_uid = f"1795800000.{n}9"
    op = f"PJSIP/op{100 + n % 20}"

    def snap(uniqueid: str, channel: str, state: int, prefix: str = "") -> list[tuple[str, str]]:
        return [
            (f"{prefix}Channel", channel),
            (f"{prefix}ChannelState", str(state)),
            (f"{prefix}ChannelStateDesc", "Up" if state == 6 else "Ring"),
            (f"{prefix}CallerIDNum", "0901234567"),
            (f"{prefix}CallerIDName", "<unknown>"),
            (f"{prefix}ConnectedLineNum", "<unknown>"),
            (f"{prefix}ConnectedLineName", "<unknown>"),
            (f"{prefix}Language", "vi"),
            (f"{prefix}AccountCode", ""),
            (f"{prefix}Context", "hotline-queue"),
            (f"{prefix}Exten", "1022"),
            (f"{prefix}Priority", "1"),
            (f"{prefix}Uniqueid", uniqueid),
            (f"{prefix}Linkedid", uid),
        ]

    caller = snap(uid, f"PJSIP/telco-{n:08x}", 6)
    agent = snap(member_uid, f"{op}-{n:08x}", 6, "Dest")
    agent_leg = snap(member_uid, f"{op}-{n:08x}", 6)  # its own events name it unprefixed
    member = [
        ("Queue", QUEUE),
        ("MemberName", op),
        ("Interface", op),
        ("StateInterface", op),
        ("Membership", "dynamic"),
        ("Penalty", "0"),
        ("CallsTaken", "0"),
        ("LastCall", "0"),
        ("LastPause", "0"),
        ("LoginTime", "0"),
        ("InCall", "0"),
        ("Status", "1"),
        ("Paused", "0"),
        ("PausedReason", ""),
        ("Ringinuse", "0"),
        ("Wrapuptime", "0"),
    ]

    def frame(name: str, cls: str, body: list[tuple[str, str]]) -> bytes:
        lines = [f"Event: {name}", f"Privilege: {cls},all", *(f"{k}: {v}" for k, v in body)]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def status(value: int) -> list[tuple[str, str]]:
        return [(k, str(value) if k == "Status" else v) for k, v in member]

    yield None, frame("Newchannel", "call", caller)
    for name, value in (
        ("HOTLINE_QUEUE", QUEUE),
        ("HOTLINE_CATEGORY", "information"),
        ("HOTLINE_TICKET", ""),
        ("AGISTATUS", "SUCCESS"),
        ("QUEUE_PRIO", "0"),
    ):
        yield None, frame("VarSet", "dialplan", [*caller, ("Variable", name), ("Value", value)])
    for app in ("Answer", "MixMonitor", "AGI", "Queue"):
        yield (
            None,
            frame(
                "Newexten",
                "dialplan",
                [*caller, ("Extension", "1022"), ("Application", app), ("AppData", "")],
            ),
        )
    yield (
        uid,
        frame(
            "QueueCallerJoin",
            "agent",
            [*caller, ("Queue", QUEUE), ("Position", "1"), ("Count", "1")],
        ),
    )
    yield (
        None,
        frame(
            "AgentCalled",
            "agent",
            [*caller, *agent, ("Queue", QUEUE), ("Interface", op), ("MemberName", op)],
        ),
    )
    yield None, frame("DialBegin", "call", [*caller, *agent, ("DialString", op[6:])])
    yield None, frame("QueueMemberStatus", "agent", status(6))
    yield None, frame("DialEnd", "call", [*caller, *agent, ("DialStatus", "ANSWER")])
    yield (
        None,
        frame(
            "QueueCallerLeave",
            "agent",
            [*caller, ("Queue", QUEUE), ("Position", "1"), ("Count", "0")],
        ),
    )
    yield (
        None,
        frame(
            "AgentConnect",
            "agent",
            [
                *caller,
                *agent,
                ("Queue", QUEUE),
                ("Interface", op),
                ("MemberName", op),
                ("HoldTime", str(n % 30)),
                ("RingTime", "3"),
            ],
        ),
    )
    for channel in (caller, agent_leg):
        yield (
            None,
            frame(
                "BridgeEnter",
                "call",
                [("BridgeUniqueid", f"b-{n}"), ("BridgeType", "basic"), *channel],
            ),
        )
    yield None, frame("QueueMemberStatus", "agent", status(2))
    yield (
        None,
        frame(
            "AgentComplete",
            "agent",
            [
                *caller,
                *agent,
                ("Queue", QUEUE),
                ("Interface", op),
                ("MemberName", op),
                ("HoldTime", str(n % 30)),
                ("TalkTime", "95"),
                ("Reason", "caller"),
            ],
        ),
    )
    yield (
        None,
        frame("Hangup", "call", [*caller, ("Cause", "16"), ("Cause-txt", "Normal Clearing")]),
    )
    yield (
        None,
        frame("Hangup", "call", [*agent_leg, ("Cause", "16"), ("Cause-txt", "Normal Clearing")]),
    )
    yield None, frame("QueueMemberStatus", "agent", status(1))


class Blaster:
    """An AMI server that logs anyone in, says it is booted, answers the resync's listings with
    nothing and then sends the prepared events (at ``rate`` events/s, or at once)."""

    def __init__(self, frames: list[tuple[str | None, bytes]], rate: float | None) -> None:
        self.frames = frames
        self.rate = rate
        self.sent_at: dict[str, float] = {}
        self.began = 0.0  # perf_counter when the first event was written
        self.started = asyncio.Event()
        self.go = asyncio.Event()  # set once whoever measures is ready
        self.server: asyncio.Server | None = None
        self._blaster: asyncio.Task[None] | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def close(self) -> None:
        if self._blaster is not None:
            self._blaster.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._blaster
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                block = (await reader.readuntil(b"\r\n\r\n")).decode()
                fields = dict(
                    line.split(": ", 1) for line in block.strip().split("\r\n") if ": " in line
                )
                reply = ["Response: Success"]
                if "ActionID" in fields:
                    reply.append(f"ActionID: {fields['ActionID']}")
                action = fields.get("Action", "").lower()
                if action == "login":
                    reply.append("Message: Authentication accepted")
                    writer.write(("\r\n".join(reply) + "\r\n\r\n").encode())
                    booted = ["Event: FullyBooted", "Privilege: system,all", "Status: Fully Booted"]
                    writer.write(("\r\n".join(booted) + "\r\n\r\n").encode())
                elif action in LISTINGS:
                    name = LISTINGS[action]
                    writer.write(
                        (
                            "\r\n".join([*reply, "EventList: start", "Message: will follow"])
                            + "\r\n\r\n"
                        ).encode()
                    )
                    done = [f"Event: {name}", f"ActionID: {fields.get('ActionID', '')}"]
                    done += ["EventList: Complete", "ListItems: 0"]
                    writer.write(("\r\n".join(done) + "\r\n\r\n").encode())
                    if action == "devicestatelist":  # the resync's last listing
                        self.started.set()
                else:
                    writer.write(("\r\n".join([*reply, "Ping: Pong"]) + "\r\n\r\n").encode())
                await writer.drain()
                if self.started.is_set() and self._blaster is None:
                    # a task of its own, so Pings keep being answered during the blast
                    self._blaster = asyncio.create_task(self._blast(writer), name="blast")
        except (asyncio.IncompleteReadError, ConnectionError):
            pass

    async def _blast(self, writer: asyncio.StreamWriter) -> None:
        await self.go.wait()
        start = self.began = time.perf_counter()
        batch = 50
        for index in range(0, len(self.frames), batch):
            chunk = self.frames[index : index + batch]
            now = time.perf_counter()
            for key, _ in chunk:
                if key is not None:
                    self.sent_at[key] = now
            writer.write(b"".join(frame for _, frame in chunk))
            await writer.drain()
            if self.rate:
                due = start + (index + batch) / self.rate
                await asyncio.sleep(max(0.0, due - time.perf_counter()))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Run:
    rate: float  # events/s from the first event written to the last applied
    latencies: list[float]  # s, QueueCallerJoin written → seen (callback or console)
    frames: int = 0  # WebSocket frames one console received
    events: int = 0  # events in them


async def baseline(frames: list[tuple[str | None, bytes]], rate: float | None) -> Run:
    blaster = Blaster(frames, rate)
    port = await blaster.start()
    count = 0
    latencies: list[float] = []
    finished = asyncio.Event()
    last = 0.0

    def counted(_manager: Any, message: Any) -> None:
        nonlocal count, last
        count += 1
        if message.get("Event") == "QueueCallerJoin":
            latencies.append(time.perf_counter() - blaster.sent_at[message["Uniqueid"]])
        if count == len(frames):
            last = time.perf_counter()
            finished.set()

    manager = Manager(
        host="127.0.0.1",
        port=port,
        username="bench",
        secret="x",
        ping_delay=10**9,
        ping_interval=10**9,
        loop=asyncio.get_running_loop(),
    )
    manager.register_event("*", counted)
    blaster.go.set()
    manager.connect()
    await asyncio.sleep(0.2)
    await manager.send_action({"Action": "DeviceStateList"}, as_list=True)
    await asyncio.wait_for(finished.wait(), 600)
    manager.close()
    await blaster.close()
    return Run(count / (last - blaster.began), latencies)


async def through_service(
    frames: list[tuple[str | None, bytes]],
    rate: float | None,
    dsn: str,
    data_dir: Path,
    consoles: int,
) -> Run:
    blaster = Blaster(frames, rate)
    port = await blaster.start()
    settings = Settings.model_validate(
        {
            "database_url": dsn,
            "data_dir": data_dir,
            "agi_bind": "127.0.0.1:0",
            "http_bind": "127.0.0.1:0",
            "ami_url": f"ami://bench:x@127.0.0.1:{port}",
            "log_level": "WARNING",
        }
    )
    app = build_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    http_port = runner.addresses[0][1]
    auth = AuthService(PostgresUserRepository(app[POOL]), token_ttl=timedelta(hours=1))
    with contextlib.suppress(Exception):
        await auth.add_user("bench", PASSWORD, Role.SUPERVISOR)
    token = (await auth.login("bench", PASSWORD)).token
    url = f"http://127.0.0.1:{http_port}/api/v1/events?topics=queues,operators,calls&token={token}"
    latencies: list[float] = []
    expected = sum(1 for key, _ in frames if key is not None)
    received = [0] * consoles  # frames
    carried = [0] * consoles  # events
    service = app[AGENTS]
    try:
        async with aiohttp.ClientSession() as http:
            sockets = [await http.ws_connect(url) for _ in range(consoles)]
            blaster.go.set()

            async def console(index: int, ws: aiohttp.ClientWebSocketResponse) -> None:
                seen: set[str] = set()
                async for message in ws:  # a frame: a list of events
                    received[index] += 1
                    if index:  # the others only take their frames (decoding is the bench's cost)
                        continue
                    now = time.perf_counter()
                    events = message.json()
                    carried[index] += len(events)
                    for event in events:
                        uniqueid = event["data"].get("uniqueid")
                        if uniqueid in blaster.sent_at and uniqueid not in seen:
                            seen.add(uniqueid)
                            latencies.append(now - blaster.sent_at[uniqueid])

            readers = [
                asyncio.create_task(console(i, ws), name=f"console-{i}")
                for i, ws in enumerate(sockets)
            ]
            while service.applied < len(frames):
                await asyncio.sleep(0.002)
            applied = service.applied / (time.perf_counter() - blaster.began)
            async with asyncio.timeout(60):
                while len(latencies) < expected:
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)  # the last tick's frames
            for ws in sockets:
                await ws.close()
            await asyncio.gather(*readers)
    finally:
        await runner.cleanup()
        await blaster.close()
    return Run(applied, latencies, received[0], carried[0])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls whose events are sent")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced events/s for latency")
    parser.add_argument("--consoles", type=int, default=5, help="WebSockets on the live events")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    frames = [f for n in range(args.calls) for f in call_events(n)]
    print(f"machine: {nproc()} CPUs, {cpu_model()}; Python {sys.version.split()[0]}")
    print(f"load:    {Path('/proc/loadavg').read_text().split()[:3]} (1, 5, 15 min)")
    each = len(frames) // args.calls
    print(f"events:  {len(frames)} ({args.calls} answered queue calls, {each} events each)")

    base = await baseline(frames, None)
    base_paced = await baseline(frames, args.rate)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as scratch:
        async with scratch_database(Path(scratch)) as database:
            full = await through_service(
                frames, None, database.url, Path(scratch) / "a", args.consoles
            )
            paced = await through_service(
                frames, args.rate, database.url, Path(scratch) / "b", args.consoles
            )
    ms = [x * 1000 for x in paced.latencies]
    base_ms = [x * 1000 for x in base_paced.latencies]
    p50, p99 = statistics.median(ms), percentile(ms, 0.99)
    base_p50, base_p99 = statistics.median(base_ms), percentile(base_ms, 0.99)
    paced_label = f"paced at {args.rate:,.0f} events/s: achieved events/s"
    print()
    print(f"{'measure':<58}{'value':>12}{'baseline':>12}")
    for label, value, against in (
        ("events/s applied (baseline: panoramisk alone)", f"{full.rate:,.0f}", f"{base.rate:,.0f}"),
        ("  ratio", f"{full.rate / base.rate:.2f}", ""),
        ("full speed: frames / events to one console", f"{full.frames:,}", f"{full.events:,}"),
        ("  events per frame", f"{full.events / max(full.frames, 1):.1f}", ""),
        (paced_label, f"{paced.rate:,.0f}", f"{base_paced.rate:,.0f}"),
        ("  frames / events to one console", f"{paced.frames:,}", f"{paced.events:,}"),
        (
            "QueueCallerJoin → WebSocket p50 ms (baseline: callback)",
            f"{p50:.2f}",
            f"{base_p50:.2f}",
        ),
        (
            "QueueCallerJoin → WebSocket p99 ms (baseline: callback)",
            f"{p99:.2f}",
            f"{base_p99:.2f}",
        ),
        ("QueueCallerJoin → WebSocket max ms", f"{max(ms):.2f}", f"{max(base_ms):.2f}"),
        ("callers seen", f"{len(ms)}", f"{len(base_ms)}"),
    ):
        print(f"{label:<58}{value:>12}{against:>12}")
    figures = [
        Figure("events_applied", full.rate, "events/s", base.rate),
        Figure("join_to_websocket_p99", p99, "ms", base_p99),
        Figure("join_to_websocket_p50", p50, "ms", base_p50),
        Figure("frames_per_console", full.frames, "frames", full.events),
    ]
    print(json.dumps({"bench": "ami_events", "figures": [f.as_json() for f in figures]}))


if __name__ == "__main__":
    run_loop(main())
