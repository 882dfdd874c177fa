"""FastAGI turn benchmark: concurrent simulated calls against the real service over loopback.

Starts the whole service (``hotline.app.build_app``: database pool + migrations, FastAGI server
on an ephemeral port) on a fresh, throw-away database, then for each concurrency level places
``--calls`` calls from ``switchboard.fastagi.SimulatedChannel``s (Asterisk's exact FastAGI
bytes) with at most that many in flight, and prints calls/s and the latency of one AGI turn.

Every level runs twice, with every step durably saved: through the service's group-commit
writer (``ivr.writer``) and through the **baseline**, the one-transaction-per-step store it
replaced (``bench.intake_baseline``), served by a second FastAGI server in the same process
built as ``hotline.app`` builds the IVR, on the same pool and database. Each figure is printed
as a ratio against the baseline, and the run ends with one JSON line of the headline figures.

A *turn* is the time from the channel writing its reply to a command until the backend's next
command arrives: the backend's processing time for that step, including any database write it
makes in between. The simulated caller answers at once (prompts take no time, keys are pressed
immediately), so calls/s is the backend's throughput, not a realistic call rate. Not counted in
the main p50/p99 (shown in the breakdown instead): ``(connect)`` → first command (header
parsing) and last reply → ``(close)`` (the final ``to_queue`` save before the backend hangs up).
Recordings are short (1–3 s): the simulator writes each WAV from a tone it synthesised once
per length (synthesising every recording again took over half of the callers' CPU and made the
load generator the largest user of the machine), and the backend does not read it during the
call. The run prints the CPU each call cost the service, the callers and PostgreSQL, so that a
level paced by the generator or the database, not by the service, shows as such.

The callers run in a separate process by default so that their own work (the WAV files
RECORD FILE writes, the sound files STREAM FILE reads) does not share the service's event loop;
``--callers-in-process`` runs them on the service's loop instead, for comparison.

This is never part of the test suite: it prints figures and asserts nothing about timing.

    .venv/bin/python -m bench.agi_turns [--calls 600] [--concurrency 1,50,200] [--seed 1]

``HOTLINE_DATABASE_URL`` (a server URL) ⇒ a database ``hotline_bench_<random>`` is created on
that server and dropped at the end; unset ⇒ an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiohttp import web

from bench.intake_baseline import PerStepIntakeRepository
from bench.machine import BackendCpu, cpu_model, nproc, pbx_recordings, scratch_database
from hotline.app import POOL, build_app
from hotline.keys import AGI, MENU
from hotline.logs import configure_logging
from hotline.settings import Settings
from ivr.agi import hotline_route
from ivr.recorder import IntakeRecorder
from ivr.server import FastAgiServer
from ivr.service import IvrService
from ivr.spool import IntakeSpool
from runtime import heap
from runtime.loop import run_loop
from runtime.tasks import TaskManager
from switchboard.fastagi import COMMANDS, AgiOutcome, CallerScript, SimulatedChannel, parse_args

ROOT = Path(__file__).resolve().parent.parent
SOUNDS = ROOT / "asterisk_conf" / "sounds"
CONNECT = "(connect)"
CLOSE = "(close)"
WARMUP_CALLS = 20
DRAIN_SECONDS = 300.0  # the longest wait for a level's spool to be stored before the next
GROUP = "group"  # the service's group-commit writer
BASELINE = "per-step"  # one transaction per step: bench.intake_baseline

# What callers do, weighted by one province's first 7 months (DESIGN.md): 1022 had 479
# administrative procedures, 1,025 field reports and 1,553 information/feedback requests (here
# about one in six of those asks for an operator with 0 instead); 115 had 2,785 calls.
CALL_MIX: tuple[tuple[str, int], ...] = (
    ("1022/1", 479),
    ("1022/2", 1025),
    ("1022/3", 1300),
    ("1022/0", 253),
    ("115", 2785),
)


@dataclass(frozen=True)
class CallSpec:
    """One planned call; plain data so it crosses to the callers' process."""

    label: str
    uniqueid: str
    extension: str
    callerid: str
    keys: tuple[str, ...]
    record_seconds: float


@dataclass(frozen=True)
class CallResult:
    label: str
    agistatus: str
    turns: tuple[tuple[str, float], ...]  # (previous command → next command, seconds)


@dataclass(frozen=True)
class LevelRun:
    wall: float
    cpu: float  # CPU seconds of the process the callers ran in
    results: tuple[CallResult, ...]


@dataclass(frozen=True)
class LevelRow:
    writer: str
    concurrency: int
    calls: int
    wall: float
    turns: list[float]
    by_kind: dict[str, list[float]]
    service_cpu: float  # CPU seconds of this process (the service) per wall second
    callers_cpu: float  # CPU seconds of the callers' process per wall second (nan: in process)
    database_cpu: float  # CPU seconds of the database's PostgreSQL backends per wall second
    host_cpu: float  # busy share of all the machine's CPUs
    agi_ok: int
    spooled: int  # calls of this level whose snapshot went through the spool
    tickets: int


# ---------------------------------------------------------------------------------------------
# The callers' side (runs in the callers' process unless --callers-in-process).


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def command_name(line: str) -> str:
    words = [w.upper() for w in parse_args(line)]
    return next((c for c in COMMANDS if words[: c.count(" ") + 1] == c.split()), "?")


class TimedChannel(SimulatedChannel):
    """A simulated channel that timestamps every turn.

    ``run_agi`` writes the ``agi_*`` block right after ``agi_block`` returns, calls ``_execute``
    as soon as a command line has arrived and writes its reply right after it returns: so a
    command's arrival minus the previous ``_execute`` return is one turn of the backend.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.turns: list[tuple[str, float]] = []
        self._sent_at: float | None = None
        self._sent_name = CONNECT

    def agi_block(self, host: str, port: int, script: str) -> bytes:
        block = super().agi_block(host, port, script)
        self._sent_at = time.perf_counter()
        return block

    def _execute(self, line: str) -> list[str]:
        arrived = time.perf_counter()
        name = command_name(line)
        self._turn(name, arrived)
        reply = super()._execute(line)
        self._sent_at = time.perf_counter()
        self._sent_name = name
        return reply

    def _turn(self, name: str, at: float) -> None:
        if self._sent_at is not None:
            self.turns.append((f"{self._sent_name} → {name}", at - self._sent_at))

    async def timed_call(self, host: str, port: int) -> AgiOutcome:
        outcome = await self.run_agi(host, port, "hotline")
        self._turn(CLOSE, time.perf_counter())  # the backend closed: AGI() returns
        return outcome


async def place_call(spec: CallSpec, host: str, port: int) -> CallResult:
    day = datetime.now(UTC).strftime("%Y%m%d")
    channel = TimedChannel(
        extension=spec.extension,
        callerid=spec.callerid,
        script=CallerScript(keys=list(spec.keys), record_seconds=spec.record_seconds),
        sounds_dir=SOUNDS,
        uniqueid=spec.uniqueid,
        # MixMonitor runs before AGI() in asterisk_conf/extensions.conf and sets this.
        variables={
            "MIXMONITOR_FILENAME": f"/var/spool/asterisk/hotline/{day}/{spec.uniqueid}-call.wav"
        },
    )
    try:
        outcome = await channel.timed_call(host, port)
        status = outcome.agistatus
    except Exception as err:  # one broken call must not stop the level; it is reported
        status = f"error {type(err).__name__}"
    return CallResult(spec.label, status, tuple(channel.turns))


async def drive_calls(host: str, port: int, plan: Sequence[CallSpec], concurrency: int) -> LevelRun:
    gate = asyncio.Semaphore(concurrency)
    results: list[CallResult | None] = [None] * len(plan)

    async def one(index: int, spec: CallSpec) -> None:
        async with gate:
            results[index] = await place_call(spec, host, port)

    started, cpu = time.perf_counter(), process_cpu_seconds()
    async with asyncio.TaskGroup() as group:
        for index, spec in enumerate(plan):
            group.create_task(one(index, spec), name=f"call-{spec.uniqueid}")
    wall, cpu = time.perf_counter() - started, process_cpu_seconds() - cpu
    return LevelRun(wall, cpu, tuple(r for r in results if r is not None))


def drive_calls_in_process(
    host: str, port: int, plan: Sequence[CallSpec], concurrency: int
) -> LevelRun:
    """Entry point in the callers' process: its own event loop for the whole level."""
    return run_loop(drive_calls(host, port, plan, concurrency))


# ---------------------------------------------------------------------------------------------
# The plan.


def make_plan(calls: int, seed: int, epoch: int, first_seq: int) -> list[CallSpec]:
    """The same mix for every level (same seed), with uniqueids never used before in the run."""
    rng = random.Random(seed)
    labels = [label for label, _ in CALL_MIX]
    weights = [weight for _, weight in CALL_MIX]
    plan: list[CallSpec] = []
    keys: tuple[str, ...]
    for n in range(calls):
        label = rng.choices(labels, weights)[0]
        callerid = rng.choice(("09", "03", "08", "07")) + f"{rng.randrange(10**8):08d}"
        if label == "115":
            extension, keys = "115", ()
            seconds = rng.choice((1.0, 1.5, 2.0))  # the address
        else:
            extension, keys = "1022", (label.removeprefix("1022/"),)
            seconds = rng.choice((1.0, 2.0, 3.0)) if keys == ("2",) else 0.0
        plan.append(CallSpec(label, f"{epoch}.{first_seq + n}", extension, callerid, keys, seconds))
    return plan


# ---------------------------------------------------------------------------------------------
# Figures.


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (nan when empty)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return "-" if math.isnan(seconds) else f"{seconds * 1000:.2f}"


def pct(share: float) -> str:
    return "-" if math.isnan(share) else f"{share:.0%}"


def turn_times(run: LevelRun) -> tuple[list[float], dict[str, list[float]]]:
    """All command-to-command turns, and every turn by step; each list sorted."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    turns: list[float] = []
    for result in run.results:
        for kind, seconds in result.turns:
            by_kind[kind].append(seconds)
            if not kind.startswith(CONNECT) and not kind.endswith(CLOSE):
                turns.append(seconds)
    for values in by_kind.values():
        values.sort()
    turns.sort()
    return turns, dict(by_kind)


HEADER = (
    f"{'writer':>8} {'conc':>5} {'calls':>6} {'wall s':>7} {'calls/s':>8} {'turns':>6} "
    f"{'p50 ms':>7} "
    f"{'p99 ms':>8} {'max ms':>8} {'svc cpu':>7} {'callers':>7} {'pg':>5} {'host':>5} "
    f"{'agi ok':>6} "
    f"{'spooled':>7}  tickets/calls"
)


def format_row(row: LevelRow) -> str:
    lost = row.calls - row.tickets
    tickets = f"{row.tickets}/{row.calls}" + (f"  LOST {lost}" if lost else "")
    top = row.turns[-1] if row.turns else math.nan
    return (
        f"{row.writer:>8} {row.concurrency:>5} {row.calls:>6} {row.wall:>7.2f} "
        f"{row.calls / row.wall:>8.1f} "
        f"{len(row.turns):>6} {ms(percentile(row.turns, 0.50)):>7} "
        f"{ms(percentile(row.turns, 0.99)):>8} {ms(top):>8} {pct(row.service_cpu):>7} "
        f"{pct(row.callers_cpu):>7} {pct(row.database_cpu):>5} {pct(row.host_cpu):>5}"
        f" {row.agi_ok:>6} {row.spooled:>7}"
        f"  {tickets}"
    )


def print_cpu_per_call(rows: Sequence[LevelRow]) -> None:
    """Where the machine's CPU went, per call: the service, the load generator (callers) and
    PostgreSQL, so that a reader can see whether the generator or the database, not the
    service, set a level's pace (the machine has ``nproc`` cores for all three)."""
    print()
    print("CPU per call, ms (service / callers / PostgreSQL; the callers' share of the three):")
    for row in rows:
        shares = [row.service_cpu, row.callers_cpu, row.database_cpu]
        per_call = [share * row.wall / row.calls * 1000 for share in shares]
        total = sum(v for v in per_call if not math.isnan(v))
        callers = per_call[1] / total if total and not math.isnan(per_call[1]) else math.nan
        print(
            f"  {row.writer:>8} c={row.concurrency:<4} "
            + " / ".join(f"{v:5.2f}" for v in per_call)
            + f"   callers {pct(callers)}"
        )


def print_breakdown(rows: Sequence[LevelRow]) -> None:
    kinds = sorted(
        {kind for row in rows for kind in row.by_kind},
        key=lambda k: (not k.startswith(CONNECT), k.endswith(CLOSE), k),
    )
    width = max(len(k) for k in kinds) if kinds else 10
    print()
    print("turns by step, p50/p99 ms (what the backend did between the two commands):")
    print(
        f"{'step':<{width}} "
        + " ".join(f"{f'{row.writer} c={row.concurrency}':>17}" for row in rows)
    )
    for kind in kinds:
        cells = []
        for row in rows:
            values = row.by_kind.get(kind, [])
            cell = f"{ms(percentile(values, 0.5))}/{ms(percentile(values, 0.99))}"
            cells.append(f"{cell:>17}")
        print(f"{kind:<{width}} " + " ".join(cells))


# ---------------------------------------------------------------------------------------------
# The service and its database.


class LogTally(logging.Filter):
    """On the service's log handler: counts every record at WARNING and above, and lets only
    the first ``show`` of each message through, so an overload does not flood the figures."""

    def __init__(self, show: int = 3) -> None:
        super().__init__()
        self.show = show
        self.seen: Counter[tuple[str, str, str]] = Counter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.levelname, record.name, str(record.msg))
        self.seen[key] += 1
        if self.seen[key] == self.show:
            record.msg = f"{record.msg} [further ones are counted, not shown]"
        return self.seen[key] <= self.show


def print_log_counts(counts: Counter[tuple[str, str, str]], indent: str) -> None:
    for (level, logger_name, message), count in counts.most_common(10):
        text = message if len(message) <= 72 else message[:71] + "…"
        print(f"{indent}{count:>6} × {level} {logger_name}: {text}")


async def count_tickets(conn: asyncpg.Connection, plan: Sequence[CallSpec]) -> int:
    count = await conn.fetchval(
        "SELECT count(DISTINCT t.id) FROM calls c JOIN tickets t ON t.id = c.ticket_id"
        " WHERE c.uniqueid = ANY($1::text[])",
        [spec.uniqueid for spec in plan],
    )
    return int(count or 0)


def spool_names(directory: Path) -> set[str]:
    """The uniqueids of the calls whose snapshot is in the spool now (a small directory)."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return set()
    return {name.removesuffix(".json") for name in names if name.endswith(".json")}


async def watch_spool(directory: Path, seen: set[str], stop: asyncio.Event) -> None:
    """Remembers every snapshot file that appears in the service's spool (one per call,
    named after its uniqueid) until ``stop``; the replayer removes them once stored."""
    while not stop.is_set():
        seen.update(spool_names(directory))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def drain_spool(directory: Path, seconds: float) -> float:
    """Gives the replayer up to ``seconds`` to store what is spooled, so that a missing ticket
    is really lost, not late, and so that the next level does not share the database with the
    replay of this one. Returns the seconds it waited."""
    started = time.perf_counter()
    for _ in range(math.ceil(seconds / 0.2)):
        if not spool_names(directory):
            break
        await asyncio.sleep(0.2)
    return time.perf_counter() - started


def host_cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs from /proc/stat; (0, 0) where there is none."""
    try:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    calls: int
    levels: list[int]
    seed: int
    callers_in_process: bool


@asynccontextmanager
async def baseline_ivr(app: web.Application, settings: Settings) -> AsyncIterator[int]:
    """The IVR as ``hotline.app.ivr_ctx`` builds it, saving through the per-step baseline on
    the service's pool, with its own spool (and replayer); yields its FastAGI port."""
    menu = app[MENU]
    recorder = IntakeRecorder(
        PerStepIntakeRepository(app[POOL]),
        IntakeSpool(settings.spool_dir.with_name("baseline-spool")),
        timeout=settings.db_timeout,
        retry_interval=settings.spool_retry_interval,
    )
    service = IvrService(
        menu, recorder, settings.recordings, transcribe=settings.vosk_model is not None
    )
    server = FastAgiServer(
        {"hotline": hotline_route(service, menu)},
        header_timeout=settings.agi_header_timeout,
        reply_timeout=settings.agi_reply_timeout,
    )
    await server.start("127.0.0.1", 0)
    tasks = TaskManager()
    tasks.start(recorder.run_replayer(tasks.stop), name="baseline-spool-replayer")
    try:
        yield server.port
    finally:
        await server.stop(settings.agi_shutdown_grace)
        await tasks.close()
        await recorder.close()


@dataclass(frozen=True)
class Figure:
    """One headline figure against the baseline: the JSON line's entries."""

    name: str
    value: float
    unit: str
    baseline: float

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else math.nan

    def as_json(self) -> dict[str, object]:
        ratio = self.ratio
        return {
            "name": self.name,
            "value": round(self.value, 3),
            "unit": self.unit,
            "baseline": round(self.baseline, 3),
            "ratio": None if math.isnan(ratio) else round(ratio, 3),
        }


def headline(rows: Sequence[LevelRow]) -> list[Figure]:
    """Per level: calls/s, p99 turn and calls spooled, group commit against the baseline."""
    by_level: dict[int, dict[str, LevelRow]] = defaultdict(dict)
    for row in rows:
        by_level[row.concurrency][row.writer] = row
    figures = []
    for level, pair in by_level.items():
        if GROUP not in pair or BASELINE not in pair:
            continue
        ours, base = pair[GROUP], pair[BASELINE]
        figures += [
            Figure(
                f"c{level}_calls_per_s", ours.calls / ours.wall, "calls/s", base.calls / base.wall
            ),
            Figure(
                f"c{level}_p99_turn",
                percentile(ours.turns, 0.99) * 1000,
                "ms",
                percentile(base.turns, 0.99) * 1000,
            ),
            Figure(f"c{level}_spooled", ours.spooled, "calls", base.spooled),
        ]
    return figures


def print_headline(figures: Sequence[Figure]) -> None:
    print()
    print("group commit against the per-step baseline (ratio = group / per-step):")
    for figure in figures:
        print(
            f"  {figure.name:<20} {figure.value:>10.1f} {figure.unit:<8}"
            f" baseline {figure.baseline:>10.1f}   ratio {figure.ratio:.2f}"
        )
    print(json.dumps({"bench": "agi_turns", "figures": [f.as_json() for f in figures]}))


async def run(options: Options, tally: LogTally) -> None:
    print(f"machine:    {nproc()} CPUs, {cpu_model()}")
    print(f"python:     {platform.python_version()} ({sys.executable})")
    async with AsyncExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-bench-")))
        database = await stack.enter_async_context(scratch_database(scratch))
        database_url = database.url
        print(f"postgresql: {database.describe()}")

        settings = Settings.model_validate(
            {
                "database_url": database_url,
                "data_dir": scratch / "data",
                "recordings_dir": stack.enter_context(pbx_recordings()),
                "agi_bind": "127.0.0.1:0",
                "http_bind": "127.0.0.1:0",
                "log_level": "WARNING",
            }
        )
        runner = web.AppRunner(build_app(settings), handle_signals=False, access_log=None)
        await runner.setup()  # runs the cleanup contexts: pool, migrations, FastAGI server
        stack.push_async_callback(runner.cleanup)
        heap.settle()  # as hotline serve does once started (runtime/heap.py)
        ports = {
            GROUP: runner.app[AGI].port,
            BASELINE: await stack.enter_async_context(baseline_ivr(runner.app, settings)),
        }
        spools = {
            GROUP: settings.spool_dir,
            BASELINE: settings.spool_dir.with_name("baseline-spool"),
        }
        pool_size = runner.app[POOL].get_max_size()

        executor = stack.enter_context(
            ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        )
        loop = asyncio.get_running_loop()

        async def drive(port: int, plan: Sequence[CallSpec], concurrency: int) -> LevelRun:
            if options.callers_in_process:
                return await drive_calls("127.0.0.1", port, plan, concurrency)
            return await loop.run_in_executor(
                executor, drive_calls_in_process, "127.0.0.1", port, plan, concurrency
            )

        conn = await asyncpg.connect(database_url)
        stack.push_async_callback(conn.close)
        database_cpu = BackendCpu(conn)

        callers = "on the service's event loop" if options.callers_in_process else "own process"
        print(
            f"service:    FastAGI 127.0.0.1:{ports[GROUP]} ({GROUP}) and :{ports[BASELINE]}"
            f" ({BASELINE}), pool max {pool_size}, db_timeout {settings.db_timeout:g} s, spool"
            f" retry {settings.spool_retry_interval:g} s; callers: {callers}"
        )
        print(
            f"writers:    {GROUP} = the service's group-commit writer (ivr/writer.py);"
            f" {BASELINE} = one transaction per step (bench/intake_baseline.py)"
        )
        mix = ", ".join(f"{label} {weight}" for label, weight in CALL_MIX)
        print(f"call mix:   seed {options.seed}; weights {mix}")
        print(
            "turn:       reply written → next command received; (connect) → first command and"
            " last reply → (close) are not counted, see the breakdown"
        )
        print(
            "columns:    svc cpu / callers = CPU time of the service's / the callers' process"
            " per wall second (100% = one core); pg = the same for the PostgreSQL backends of the"
            " bench's database; host = busy share of all CPUs (other work included); spooled ="
            " calls whose snapshot went to the spool (tickets are counted after it drained)"
        )

        epoch = int(time.time())
        seq = 1
        for writer in (BASELINE, GROUP):
            warmup = make_plan(WARMUP_CALLS, options.seed + 1, epoch, seq)
            seq += len(warmup)
            await drive(ports[writer], warmup, 10)
        print(f"warm-up:    {WARMUP_CALLS} calls at concurrency 10 per writer, not counted")
        print()
        print(HEADER, flush=True)

        rows: list[LevelRow] = []
        for concurrency in options.levels:
            for writer in (BASELINE, GROUP):
                plan = make_plan(options.calls, options.seed, epoch, seq)
                seq += len(plan)
                logged_before = tally.seen.copy()
                spooled: set[str] = set()
                stop = asyncio.Event()
                cpu_before, host_before = process_cpu_seconds(), host_cpu_times()
                await database_cpu.start()
                async with asyncio.TaskGroup() as group:
                    group.create_task(
                        watch_spool(spools[writer], spooled, stop), name="spool-watch"
                    )
                    try:
                        result = await drive(ports[writer], plan, concurrency)
                    finally:
                        stop.set()
                cpu = process_cpu_seconds() - cpu_before
                pg_cpu = await database_cpu.seconds()
                host_after = host_cpu_times()
                host_busy = host_after[0] - host_before[0]
                host_total = host_after[1] - host_before[1]
                drained = await drain_spool(spools[writer], DRAIN_SECONDS)
                turns, by_kind = turn_times(result)
                row = LevelRow(
                    writer=writer,
                    concurrency=concurrency,
                    calls=len(plan),
                    wall=result.wall,
                    turns=turns,
                    by_kind=by_kind,
                    service_cpu=cpu / result.wall,
                    callers_cpu=(
                        math.nan if options.callers_in_process else result.cpu / result.wall
                    ),
                    database_cpu=pg_cpu / result.wall,
                    host_cpu=host_busy / host_total if host_total else math.nan,
                    agi_ok=sum(1 for r in result.results if r.agistatus == "SUCCESS"),
                    spooled=len(spooled & {spec.uniqueid for spec in plan}),
                    tickets=await count_tickets(conn, plan),
                )
                rows.append(row)
                print(format_row(row), flush=True)
                if drained >= 1.0:
                    print(f"      the spool's replay took {drained:.0f} s after the level")
                failures = Counter(r.agistatus for r in result.results if r.agistatus != "SUCCESS")
                if failures:
                    print(f"      AGI status other than SUCCESS: {dict(failures)}")
                logged = tally.seen - logged_before
                if logged:
                    print("      service log during this level:")
                    print_log_counts(logged, "      ")

        print_cpu_per_call(rows)
        print_breakdown(rows)

    print()
    if tally.seen:
        print("service log at WARNING and above, whole run:")
        print_log_counts(tally.seen, "  ")
    else:
        print("service log: nothing at WARNING or above")
    print_headline(headline(rows))


def parse_levels(text: str) -> list[int]:
    try:
        levels = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected e.g. 1,10,50,200, got {text!r}") from err
    if not levels or min(levels) < 1:
        raise argparse.ArgumentTypeError("concurrency levels must be positive integers")
    return levels


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--calls", type=int, default=600, help="calls per concurrency level and writer"
    )
    parser.add_argument(
        "--concurrency",
        type=parse_levels,
        default=parse_levels("1,50,200"),
        help="comma-separated levels of calls in flight (default 1,50,200)",
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the call mix")
    parser.add_argument(
        "--callers-in-process",
        action="store_true",
        help="run the simulated callers on the service's event loop instead of a process",
    )
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    configure_logging("WARNING")
    tally = LogTally()
    for handler in logging.getLogger().handlers:
        handler.addFilter(tally)
    options = Options(args.calls, args.concurrency, args.seed, args.callers_in_process)
    run_loop(run(options, tally))


if __name__ == "__main__":
    main()
