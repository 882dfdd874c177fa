"""AMI events into the live model, and from an AMI event to the consoles' WebSocket.

A small AMI server on loopback sends Asterisk 20-shaped events of complete queue calls (about 22
events a call: channel, dialplan, queue, bridge, member-status events). Measured in one run:

1. baseline: panoramisk 1.4's ``Manager`` alone, a callback that only counts (the ceiling any
   panoramisk-based client has on this machine);
2. the service: the same bytes through our AMI adapter into the live model, the database
   (queue outcomes, 15-minute statistics, tickets for unknown calls) and the event bus —
   events/s at full speed, and the ratio to the baseline;
3. latency: at a paced rate (default 1,000 events/s), from writing ``QueueCallerJoin`` to a
   console receiving the ``calls`` event for that caller over ``/api/v1/events``: p50/p99.

Run: ``.venv/bin/python -m bench.ami_events`` (``HOTLINE_DATABASE_URL`` to use a server,
otherwise an embedded PostgreSQL in a temporary folder; a fresh database is made and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from panoramisk import Manager

from bench.machine import scratch_database
from db.users import PostgresUserRepository
from hotline.app import POOL, build_app
from hotline.auth import AuthService
from hotline.keys import AGENTS
from hotline.settings import Settings
from tickets.model import Role

QUEUE = "hotline-1022"
PASSWORD = "bench-password-long"


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
    for channel in (caller, agent):
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
    yield None, frame("Hangup", "call", [*agent, ("Cause", "16"), ("Cause-txt", "Normal Clearing")])
    yield None, frame("QueueMemberStatus", "agent", status(1))


class Blaster:
    """An AMI server that logs anyone in and then sends the prepared events."""

    def __init__(self, frames: list[tuple[str | None, bytes]], rate: float | None) -> None:
        self.frames = frames
        self.rate = rate
        self.sent_at: dict[str, float] = {}
        self.done = asyncio.Event()
        self.started = asyncio.Event()
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
                elif action in ("queuestatus", "coreshowchannels"):
                    name = (
                        "QueueStatusComplete"
                        if action == "queuestatus"
                        else "CoreShowChannelsComplete"
                    )
                    writer.write(
                        (
                            "\r\n".join([*reply, "EventList: start", "Message: will follow"])
                            + "\r\n\r\n"
                        ).encode()
                    )
                    done = [f"Event: {name}", f"ActionID: {fields.get('ActionID', '')}"]
                    done += ["EventList: Complete", "ListItems: 0"]
                    writer.write(("\r\n".join(done) + "\r\n\r\n").encode())
                    if action == "coreshowchannels":
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
        start = time.perf_counter()
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
        self.done.set()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def baseline(frames: list[tuple[str | None, bytes]]) -> float:
    blaster = Blaster(frames, None)
    port = await blaster.start()
    count = 0
    finished = asyncio.Event()

    def counted(_manager: Any, _message: Any) -> None:
        nonlocal count
        count += 1
        if count == len(frames):
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
    manager.connect()
    await asyncio.sleep(0.2)
    await manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
    started = time.perf_counter()
    await asyncio.wait_for(finished.wait(), 600)
    elapsed = time.perf_counter() - started
    manager.close()
    await blaster.close()
    return count / elapsed


async def through_service(
    frames: list[tuple[str | None, bytes]], rate: float | None, dsn: str, data_dir: Path
) -> tuple[float, list[float], int, float]:
    """Events/s applied, latencies join → WebSocket (s), events applied, seconds until every
    outcome was in the database."""
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
    latencies: list[float] = []
    expected = sum(1 for key, _ in frames if key is not None)
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(
                f"http://127.0.0.1:{http_port}/api/v1/events?topics=calls&token={token}"
            ) as ws,
        ):
            seen: set[str] = set()
            started = time.perf_counter()

            async def collect() -> None:
                async for message in ws:  # a frame: a list of events
                    for event in message.json():
                        uniqueid = event.get("data", {}).get("uniqueid")
                        if uniqueid in blaster.sent_at and uniqueid not in seen:
                            seen.add(uniqueid)
                            latencies.append(time.perf_counter() - blaster.sent_at[uniqueid])
                            if len(seen) == expected:
                                return

            service = app[AGENTS]
            await asyncio.wait_for(collect(), 900)
            while service.applied < len(frames):
                await asyncio.sleep(0.005)
            elapsed = time.perf_counter() - started
            while service.backlog:
                await asyncio.sleep(0.005)
            persisted = time.perf_counter() - started
            applied = service.applied
    finally:
        await runner.cleanup()
        await blaster.close()
    return applied / elapsed, latencies, applied, persisted


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1500, help="calls whose events are sent")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced events/s for latency")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    frames = [f for n in range(args.calls) for f in call_events(n)]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(f"machine: {os.cpu_count()} CPUs, {cpu}; Python {sys.version.split()[0]}")
    each = len(frames) // args.calls
    print(f"events:  {len(frames)} ({args.calls} answered queue calls, {each} events each)")

    base = await baseline(frames)
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as scratch:
        async with scratch_database(Path(scratch)) as database:
            dsn = database.url
            with tempfile.TemporaryDirectory() as folder:
                full, _, applied_full, stored = await through_service(
                    frames, None, dsn, Path(folder) / "a"
                )
            with tempfile.TemporaryDirectory() as folder:
                paced, latencies, applied_paced, _ = await through_service(
                    frames, args.rate, dsn, Path(folder) / "b"
                )
    print()
    print(f"{'measure':<52}{'value':>14}")
    print(f"{'panoramisk alone, events/s (baseline)':<52}{base:>14,.0f}")
    print(f"{'service: AMI → live model + DB + bus, events/s':<52}{full:>14,.0f}")
    print(f"{'ratio service / baseline':<52}{full / base:>14.2f}")
    outcomes = 3 * args.calls
    print(f"{'all outcomes stored after, s (join/answer/complete)':<52}{stored:>14.2f}")
    print(f"{'outcomes stored/s':<52}{outcomes / stored:>14,.0f}")
    print(f"{'events applied (full speed / paced)':<52}{applied_full:>7}/{applied_paced:<6}")
    print(f"{f'paced at {args.rate:,.0f} events/s: achieved events/s':<52}{paced:>14,.0f}")
    if latencies:
        ms = [x * 1000 for x in latencies]
        print(f"{'QueueCallerJoin → WebSocket, p50 ms':<52}{statistics.median(ms):>14.2f}")
        print(f"{'QueueCallerJoin → WebSocket, p99 ms':<52}{percentile(ms, 0.99):>14.2f}")
        print(f"{'QueueCallerJoin → WebSocket, max ms':<52}{max(ms):>14.2f}")
        print(f"{'callers seen on the WebSocket':<52}{len(ms):>14}")


if __name__ == "__main__":
    asyncio.run(main())
