"""FastAGI capacity: calls held in the IVR at once, against a thread-per-call baseline.

Two servers, each in its own process, run the same 1022 call flow over the same menu file:

* **ours**: ``ivr.server.FastAgiServer`` + ``ivr.service.IvrService`` + ``ivr.recorder``
  ``IntakeRecorder`` (the service's real IVR code on one event loop, uvloop's as in the
  service), and
* **baseline**: ``bench.thread_agi.ThreadAgiServer``, a standard-library
  ``socketserver.ThreadingTCPServer`` (one OS thread per call) that sends the same commands.

**Both exclude the database.** Ours saves every call snapshot through ``IntakeRecorder`` into
``MemoryIntakeRepository`` (a dict, written here); the baseline takes a ticket code from a
counter and keeps nothing. The figures are the IVR protocol work and the memory a held call
costs, not the PostgreSQL writes (``bench.agi_turns`` measures those).

``--durable`` saves every step in PostgreSQL instead (a throw-away database, as
``bench.agi_turns`` makes one): the same asyncio server with the service's group-commit writer
(``ivr.writer`` over ``db.intake``, pool of 20 as the service's) against the same server with
the one-transaction-per-step baseline (``bench.intake_baseline``); ``spooled`` counts the
calls whose snapshot went to the server's spool. Its default level is 2,000 callers thinking 3 s.

Callers (``switchboard.fastagi.SimulatedChannel``, Asterisk's exact bytes) run in a third
process. Each of N callers places one call after another: it answers every command at once
except GET DATA (the menu), which it answers after ``--hold`` seconds of thinking; so about N
calls are held in the IVR at every moment and about N / hold new calls arrive per second. The
callers start spread over one hold period; turns are measured for the calls that start in the
following ``--window`` seconds, and calls keep arriving until those have ended, so the load is
the same throughout. A *turn* is a reply written → the server's next command received (the
caller's thinking is not in it); ``(connect)`` → first command and last reply → ``(close)`` are
not counted. RSS (``VmRSS`` of the server's process) is the highest sampled during the window.

The call mix is 1022 only (keys 1/2/3/0 weighted as in one province, DESIGN.md): the hold is
the caller thinking at the menu, and the 115 line has no menu. Key 2 records a 0.2 s
description (the callers' process writes it).

This is never part of the test suite: it prints figures and asserts nothing about timing.

    .venv/bin/python -m bench.agi_capacity [--levels 100,500,1000,2000,5000] [--hold 20]
        [--window 15] [--seed 1]
    .venv/bin/python -m bench.agi_capacity --durable [--levels 2000] [--hold 3] [--window 15]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import multiprocessing
import os
import platform
import random
import resource
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from pathlib import Path

import asyncpg

from bench.agi_turns import (
    CLOSE,
    CONNECT,
    Figure,
    TimedChannel,
    command_name,
    percentile,
    watch_spool,
)
from bench.intake_baseline import PerStepIntakeRepository
from bench.machine import cpu_model, nproc, pbx_recordings, scratch_database
from bench.thread_agi import ThreadAgiServer
from db.intake import PostgresIntakeRepository
from db.migrations import migrate
from db.pool import create_pool
from hotline.settings import DEFAULT_MENU
from ivr.agi import hotline_route
from ivr.menu import load_menu
from ivr.recorder import IntakeRecorder
from ivr.server import FastAgiServer
from ivr.service import IvrService
from ivr.spool import IntakeSpool
from ivr.writer import GroupCommitWriter
from runtime import heap
from runtime.loop import run_loop
from switchboard.fastagi import CallerScript, SimulatedChannel
from tickets.codes import format_code
from tickets.errors import SnapshotRefused
from tickets.intake import CallIntake, IntakeRepository, SaveAction, StoredCall, save_action

OURS = "ours"
BASELINE = "baseline"
GROUP = "group"  # --durable: the service's group-commit writer
PER_STEP = "per-step"  # --durable: one transaction per step (bench.intake_baseline)
P99_TARGET = 0.005
P99_TARGET_DURABLE = 0.020
# 1022 as in one province's first 7 months: 479 administrative procedures, 1,025 field
# reports, 1,553 information/feedback (about one in six of those asks for an operator: 0).
KEY_MIX: tuple[tuple[str, int], ...] = (("1", 479), ("2", 1025), ("3", 1300), ("0", 253))
RECORD_SECONDS = 0.2


def raise_nofile() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit; returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# ---------------------------------------------------------------------------------------------
# The servers, each in its own process.


class MemoryIntakeRepository:
    """``tickets.intake.IntakeRepository`` in a dict: what is stored of each call and its
    ticket code, replaced as ``save_action`` says (as the real one does)."""

    def __init__(self) -> None:
        self._calls: dict[str, tuple[StoredCall, str]] = {}
        self._numbers = itertools.count(1)

    async def save(self, intake: CallIntake) -> str:
        known = self._calls.get(intake.uniqueid)
        action = save_action(None if known is None else known[0], intake)
        if action is SaveAction.REFUSE:
            raise SnapshotRefused(f"call {intake.uniqueid}: another session")
        if known is None:
            code = format_code(intake.line, intake.started_at.year, next(self._numbers))
        else:
            code = known[1]
        if action is not SaveAction.KEEP:
            self._calls[intake.uniqueid] = (StoredCall.of(intake), code)
        return code

    def forget_ended(self, keep: int) -> None:
        """Bounded memory over a long run: drop the oldest calls beyond ``keep``."""
        extra = len(self._calls) - keep
        for uniqueid in list(itertools.islice(self._calls, max(0, extra))):
            del self._calls[uniqueid]


async def _serve_ours(
    control: Connection, scratch: Path, recordings: Path, database_url: str | None
) -> None:
    menu = load_menu(DEFAULT_MENU)
    async with contextlib.AsyncExitStack() as stack:
        memory = None
        repository: IntakeRepository
        if database_url is None:
            repository = memory = MemoryIntakeRepository()
        else:
            pool = await create_pool(database_url)
            stack.push_async_callback(pool.close)
            if scratch.name == GROUP:
                store = PostgresIntakeRepository(pool)
                repository = await stack.enter_async_context(GroupCommitWriter(store))
            else:
                repository = PerStepIntakeRepository(pool)
        recorder = IntakeRecorder(
            repository, IntakeSpool(scratch / "spool"), timeout=2.0, retry_interval=5.0
        )
        stack.push_async_callback(recorder.close)
        service = IvrService(menu, recorder, recordings)
        server = FastAgiServer(
            {"hotline": hotline_route(service, menu)}, header_timeout=5.0, reply_timeout=60.0
        )
        await server.start("127.0.0.1", 0)
        heap.settle()  # as hotline serve does once started (runtime/heap.py)
        control.send(server.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        # The control pipe is read in a thread so the event loop only serves calls.
        waiter = threading.Thread(
            target=lambda: (control.recv(), loop.call_soon_threadsafe(stop.set)), daemon=True
        )
        waiter.start()
        while not stop.is_set():
            if memory is not None:
                memory.forget_ended(keep=50_000)
            else:
                await recorder.replay()  # what was spooled, stored once the level is over
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5.0)
        await server.stop(grace=1.0)


def serve(
    kind: str, control: Connection, scratch: str, recordings: str, database_url: str | None
) -> None:
    """Entry point of a server process: sends its port on ``control``, stops on a message.
    ``recordings`` is where the callers write what the IVR records (``pbx_recordings``)."""
    raise_nofile()
    logging.basicConfig(level=logging.ERROR if database_url else logging.WARNING)
    recorded = Path(recordings) / kind
    if kind != BASELINE:
        run_loop(_serve_ours(control, Path(scratch) / kind, recorded, database_url))
        return
    recorded.mkdir(parents=True, exist_ok=True)
    server = ThreadAgiServer(("127.0.0.1", 0), load_menu(DEFAULT_MENU), recorded)
    thread = threading.Thread(target=server.serve_forever, name="accept", daemon=True)
    thread.start()
    control.send(server.server_address[1])
    control.recv()
    server.shutdown()
    server.server_close()


def proc_status(pid: int) -> tuple[int, int]:
    """(VmRSS bytes, threads) of a process."""
    rss = threads = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
            elif line.startswith("Threads:"):
                threads = int(line.split()[1])
    return rss, threads


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------------------------------------
# The callers' process.


@dataclass(frozen=True)
class LevelPlan:
    port: int
    callers: int
    hold: float
    window: float
    seed: int
    recordings: str


@dataclass(frozen=True)
class LevelResult:
    turns: tuple[float, ...]  # sorted, calls started in the window only
    measured_calls: int
    failures: dict[str, int]
    held_min: int  # calls connected, sampled each second of the window
    held_mean: float
    total_calls: int
    callers_cpu: float  # CPU seconds of the callers' process per wall second of the level
    slowest: tuple[tuple[str, float, float, int], ...]  # (step, p50, p99, count), top p99 first


class HoldingChannel(TimedChannel):
    """A timed channel whose caller thinks before answering GET DATA. ``run_agi`` sleeps
    (``sleep``) after the command line arrived and before ``_execute``: the turn ends at the
    arrival, not after the thinking."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._arrived: float | None = None
        self.sleep = self._think

    async def _think(self, seconds: float) -> None:
        self._arrived = time.perf_counter()
        await asyncio.sleep(seconds)

    def _turn(self, name: str, at: float) -> None:
        if self._arrived is not None:
            at, self._arrived = self._arrived, None
        super()._turn(name, at)


def drive_level(plan: LevelPlan) -> LevelResult:
    raise_nofile()
    return run_loop(_drive(plan))


async def _drive(plan: LevelPlan) -> LevelResult:
    rng = random.Random(plan.seed)
    keys = [k for k, _ in KEY_MIX]
    weights = [w for _, w in KEY_MIX]
    started = time.perf_counter()
    cpu_started = resource.getrusage(resource.RUSAGE_SELF)
    window_start = started + plan.hold
    window_end = window_start + plan.window
    stop_at = window_end + plan.hold  # calls of the window end under the same load
    turns: list[float] = []
    by_step: dict[str, list[float]] = {}
    failures: Counter[str] = Counter()
    measured = total = 0
    held = 0
    samples: list[int] = []
    day = datetime.now(UTC).strftime("%Y%m%d")
    sequence = itertools.count(1)
    epoch = int(time.time())

    async def caller(index: int) -> None:
        nonlocal measured, total, held
        await asyncio.sleep(plan.hold * index / plan.callers)
        while time.perf_counter() < stop_at:
            n = next(sequence)
            uniqueid = f"{epoch}.{plan.callers}{n:07d}"
            channel = HoldingChannel(
                extension="1022",
                callerid=f"09{rng.randrange(10**8):08d}",
                script=CallerScript(
                    keys=[rng.choices(keys, weights)[0]],
                    record_seconds=RECORD_SECONDS,
                    key_delay=plan.hold,
                ),
                sounds_dir=None,
                uniqueid=uniqueid,
                variables={"MIXMONITOR_FILENAME": f"{plan.recordings}/{day}/{uniqueid}-call.wav"},
            )
            begun = time.perf_counter()
            held += 1
            try:
                outcome = await channel.timed_call("127.0.0.1", plan.port)
                status = outcome.agistatus
            except Exception as err:  # a broken call is counted, the caller goes on
                status = f"error {type(err).__name__}"
            finally:
                held -= 1
            total += 1
            if window_start <= begun < window_end:
                measured += 1
                if status != "SUCCESS":
                    failures[status] += 1
                for kind, seconds in channel.turns:
                    if not kind.startswith(CONNECT) and not kind.endswith(CLOSE):
                        turns.append(seconds)
                        by_step.setdefault(kind, []).append(seconds)

    async def sample() -> None:
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        while time.perf_counter() < window_end:
            samples.append(held)
            await asyncio.sleep(1.0)

    async with asyncio.timeout(stop_at - started + plan.hold + 60.0):
        async with asyncio.TaskGroup() as group:
            group.create_task(sample(), name="held-sampler")
            for index in range(plan.callers):
                group.create_task(caller(index), name=f"caller-{index}")
    wall = time.perf_counter() - started
    cpu_ended = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_ended.ru_utime + cpu_ended.ru_stime) - (cpu_started.ru_utime + cpu_started.ru_stime)
    turns.sort()
    steps = []
    for kind, values in by_step.items():
        values.sort()
        steps.append((kind, percentile(values, 0.5), percentile(values, 0.99), len(values)))
    steps.sort(key=lambda step: -step[2])
    return LevelResult(
        turns=tuple(turns),
        measured_calls=measured,
        failures=dict(failures),
        held_min=min(samples, default=0),
        held_mean=sum(samples) / len(samples) if samples else math.nan,
        total_calls=total,
        callers_cpu=cpu / wall,
        slowest=tuple(steps[:3]),
    )


# ---------------------------------------------------------------------------------------------
# The run.


@dataclass(frozen=True)
class Row:
    server: str
    callers: int
    result: LevelResult
    rss: int
    threads: int
    server_cpu: float  # CPU seconds of the server per wall second of the window
    window: float
    spooled: int  # calls whose snapshot went to the server's spool during the level
    idle_rss: int  # VmRSS of the server's process before its first call

    @property
    def kib_per_call(self) -> float:
        return (self.rss - self.idle_rss) / 1024 / max(1, self.result.held_min)

    @property
    def p99(self) -> float:
        return percentile(self.result.turns, 0.99)

    @property
    def calls_per_second(self) -> float:
        return self.result.measured_calls / self.window


@dataclass(frozen=True)
class Options:
    levels: list[int]
    hold: float
    window: float
    seed: int
    durable: bool


class ServerProcess:
    def __init__(self, kind: str, scratch: str, recordings: str, database_url: str | None) -> None:
        context = multiprocessing.get_context("spawn")
        self.kind = kind
        self.spool = Path(scratch) / kind / "spool"
        self._control, child = context.Pipe()
        self.process = context.Process(
            target=serve,
            args=(kind, child, scratch, recordings, database_url),
            name=f"agi-{kind}",
            daemon=True,
        )
        self.process.start()
        if not self._control.poll(60.0):
            raise RuntimeError(f"the {kind} server did not start")
        self.port: int = self._control.recv()

    @property
    def pid(self) -> int:
        assert self.process.pid is not None
        return self.process.pid

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._control.send("stop")
        self.process.join(30.0)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(5.0)


async def measure(
    server: ServerProcess,
    callers: int,
    options: Options,
    executor: ProcessPoolExecutor,
    idle_rss: int,
) -> Row:
    plan = LevelPlan(
        port=server.port,
        callers=callers,
        hold=options.hold,
        window=options.window,
        seed=options.seed,
        recordings=str(Path(tempfile.gettempdir()) / "hotline-bench-mixmonitor"),
    )
    loop = asyncio.get_running_loop()
    spooled: set[str] = set()
    stop = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        group.create_task(watch_spool(server.spool, spooled, stop), name="spool-watch")
        future = loop.run_in_executor(executor, drive_level, plan)
        await asyncio.sleep(options.hold)  # the callers' process starts fast; ramp up
        cpu_before = proc_cpu(server.pid)
        rss = threads = 0
        for _ in range(math.ceil(options.window)):
            now_rss, now_threads = proc_status(server.pid)
            rss, threads = max(rss, now_rss), max(threads, now_threads)
            await asyncio.sleep(1.0)
        cpu = (proc_cpu(server.pid) - cpu_before) / math.ceil(options.window)
        try:
            result = await future
        finally:
            stop.set()
    return Row(
        server.kind, callers, result, rss, threads, cpu, options.window, len(spooled), idle_rss
    )


def fmt_ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


HEADER = (
    f"{'server':<8} {'callers':>7} {'held':>11} {'calls/s':>7} {'turns':>7} {'p50 ms':>7} "
    f"{'p99 ms':>8} {'max ms':>8} {'RSS MiB':>8} {'KiB/call':>8} {'calls/GB':>9} {'threads':>7} "
    f"{'srv cpu':>7} {'callers':>7} {'failed':>6} {'spooled':>7}"
)


def format_row(row: Row) -> str:
    r = row.result
    failed = sum(r.failures.values())
    return (
        f"{row.server:<8} {row.callers:>7} {f'{r.held_min}/{r.held_mean:.0f}':>11} "
        f"{row.calls_per_second:>7.1f} {len(r.turns):>7} "
        f"{fmt_ms(percentile(r.turns, 0.5)):>7} {fmt_ms(row.p99):>8} "
        f"{fmt_ms(r.turns[-1] if r.turns else math.nan):>8} {row.rss / 2**20:>8.1f} "
        f"{row.kib_per_call:>8.1f} {r.held_mean / (row.rss / 1e9):>9,.0f} {row.threads:>7} "
        f"{row.server_cpu:>7.0%} {r.callers_cpu:>7.0%} {failed:>6} {row.spooled:>7}"
    )


PARITY_CALLS: tuple[tuple[str, tuple[str | None, ...]], ...] = (
    ("1022", ("1",)),
    ("1022", ("2",)),
    ("1022", ("0",)),
    ("1022", ("9", None)),
    ("115", ()),
)


async def command_sequences(port: int, recordings: Path) -> list[list[str]]:
    """The command names a server sends for each of ``PARITY_CALLS`` (one call each)."""
    sequences = []
    for n, (extension, keys) in enumerate(PARITY_CALLS):
        uniqueid = f"{int(time.time())}.parity{n}"
        channel = SimulatedChannel(
            extension=extension,
            script=CallerScript(keys=keys, record_seconds=RECORD_SECONDS),
            uniqueid=uniqueid,
            variables={"MIXMONITOR_FILENAME": f"{recordings}/{uniqueid}-call.wav"},
        )
        outcome = await channel.run_agi("127.0.0.1", port)
        sequences.append([command_name(line) for line in outcome.commands])
    return sequences


async def run(options: Options) -> None:
    nofile = raise_nofile()
    print(f"machine:    {nproc()} CPUs, {cpu_model()}")
    print(f"python:     {platform.python_version()} ({sys.executable})")
    print(f"nofile:     soft limit raised to {nofile} in every process")
    kinds = (GROUP, PER_STEP) if options.durable else (OURS, BASELINE)
    target = P99_TARGET_DURABLE if options.durable else P99_TARGET
    if options.durable:
        print(
            "compare:    FastAgiServer + IvrService + IntakeRecorder (uvloop), every step saved"
            f" in PostgreSQL: {GROUP} = the group-commit writer (ivr/writer.py) vs {PER_STEP} ="
            " one transaction per step (bench/intake_baseline.py), pool of 20 each"
        )
    else:
        print(
            "compare:    ours = FastAgiServer + IvrService + IntakeRecorder (uvloop) vs"
            " baseline = socketserver.ThreadingTCPServer, one thread per call, same commands"
        )
        print(
            "database:   BOTH EXCLUDE THE DATABASE (ours saves snapshots into an in-memory"
            " IntakeRepository; the baseline keeps nothing)"
        )
    mix = ", ".join(f"key {k} {w}" for k, w in KEY_MIX)
    print(
        f"load:       N callers, one call after another, each thinking {options.hold:g} s at the"
        f" menu (GET DATA) ⇒ ≈N calls held, ≈N/{options.hold:g} new calls/s; line 1022 ({mix})"
    )
    print(
        f"window:     turns of the calls that start in {options.window:g} s after a"
        f" {options.hold:g} s ramp; held = calls connected min/mean per second of the window;"
        " RSS = highest VmRSS of the server's process in the window; KiB/call = (RSS - idle"
        " RSS) / held; srv cpu / callers = CPU per wall second (100% = one core)"
    )
    async with contextlib.AsyncExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-bench-"))
        recordings = stack.enter_context(pbx_recordings())
        database_url = None
        if options.durable:
            database = await stack.enter_async_context(scratch_database(Path(scratch)))
            print(f"postgresql: {database.describe()}")
            database_url = database.url
            conn = await asyncpg.connect(database_url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
        executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        rows: dict[tuple[str, int], Row] = {}
        sequences: dict[str, list[list[str]]] = {}
        try:
            # Start the callers' process before any figure is taken.
            await asyncio.get_running_loop().run_in_executor(executor, raise_nofile)
            for kind in kinds:
                server = ServerProcess(kind, scratch, recordings, database_url)
                try:
                    idle, _ = proc_status(server.pid)
                    sequences[kind] = await command_sequences(server.port, Path(scratch))
                    print()
                    idle_mib = idle / 2**20
                    print(f"{kind}: pid {server.pid}, port {server.port}, idle {idle_mib:.1f} MiB")
                    print(HEADER, flush=True)
                    for callers in options.levels:
                        row = await measure(server, callers, options, executor, idle)
                        rows[(kind, callers)] = row
                        print(format_row(row), flush=True)
                        slow = ", ".join(
                            f"{kind} {fmt_ms(p50)}/{fmt_ms(p99)} ({n})"
                            for kind, p50, p99, n in row.result.slowest
                        )
                        print(f"         slowest steps p50/p99 ms: {slow}")
                        if row.result.failures:
                            print(f"         failures: {row.result.failures}")
                finally:
                    server.close()
        finally:
            executor.shutdown(wait=True, cancel_futures=True)

    print()
    first, second = kinds
    same = sequences.get(first) == sequences.get(second)
    counts = ", ".join(str(len(calls)) for calls in sequences.get(first, []))
    print(
        f"same commands: {'yes' if same else 'NO'} (one call each of 1022 keys 1, 2, 0,"
        f" invalid-then-none and 115: {counts} commands)"
    )
    if not same:
        for kind, calls in sequences.items():
            print(f"  {kind}: {calls}")
    print()
    print(f"at equal load, {first} / {second}:")
    print(f"{'callers':>7} {'p99 ratio':>9} {'RSS ratio':>9} {'calls/GB ratio':>14}")
    figures: list[Figure] = []
    for callers in options.levels:
        ours, base = rows.get((first, callers)), rows.get((second, callers))
        if ours is None or base is None:
            continue
        per_gb = (ours.result.held_mean / ours.rss) / (base.result.held_mean / base.rss)
        print(
            f"{callers:>7} {ours.p99 / base.p99:>9.2f} {ours.rss / base.rss:>9.2f} {per_gb:>14.2f}"
        )
        figures += [
            Figure(f"n{callers}_p99_turn", ours.p99 * 1000, "ms", base.p99 * 1000),
            Figure(f"n{callers}_spooled", ours.spooled, "calls", base.spooled),
            Figure(
                f"n{callers}_new_calls_per_s",
                ours.calls_per_second,
                "calls/s",
                base.calls_per_second,
            ),
            Figure(
                f"n{callers}_rss_per_held_call",
                ours.kib_per_call,
                "KiB",
                base.kib_per_call,
            ),
        ]
    for kind in kinds:
        good = [
            row
            for (k, _), row in rows.items()
            if k == kind and row.p99 < target and not row.result.failures and not row.spooled
        ]
        if good:
            best = max(good, key=lambda r: r.callers)
            print(
                f"{kind}: largest level with p99 < {target * 1000:g} ms, no failed nor spooled"
                f" call: {best.callers} callers ({best.result.held_mean:.0f} held), "
                f"{best.calls_per_second:.1f} new calls/s, p99 {fmt_ms(best.p99)} ms"
            )
        else:
            print(f"{kind}: no level had p99 < {target * 1000:g} ms without failed calls")
    name = "agi_capacity_durable" if options.durable else "agi_capacity"
    print(json.dumps({"bench": name, "figures": [f.as_json() for f in figures]}))


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected e.g. 100,500,1000, got {text!r}") from err
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("levels must be positive integers")
    return levels


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--levels",
        type=parse_levels,
        default=None,
        help="comma-separated numbers of callers (≈ calls held) (default 100,500,1000,2000,5000)",
    )
    parser.add_argument(
        "--hold", type=float, default=None, help="seconds a caller thinks (default 20)"
    )
    parser.add_argument("--window", type=float, default=15.0, help="seconds of measured calls")
    parser.add_argument("--seed", type=int, default=1, help="seed of the key mix")
    parser.add_argument(
        "--durable",
        action="store_true",
        help="save every step in PostgreSQL: group commit against one transaction per step"
        " (default levels 2000, hold 3 s)",
    )
    args = parser.parse_args(argv)
    if args.durable:
        args.levels = args.levels or parse_levels("2000")
        args.hold = args.hold or 3.0
    args.levels = args.levels or parse_levels("100,500,1000,2000,5000")
    args.hold = args.hold or 20.0
    if args.hold <= 0 or args.window < 1:
        parser.error("--hold must be positive and --window at least 1")
    run_loop(run(Options(args.levels, args.hold, args.window, args.seed, args.durable)))


if __name__ == "__main__":
    main()
