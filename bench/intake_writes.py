"""Call-snapshot writes alone: the group-commit writer against one transaction per step.

No FastAGI, no spool: N concurrent "calls" each save the snapshots one IVR call saves (the
first creates the call and its ticket, the next ones add one step each), one after another,
as fast as the store takes them, through ``ivr.writer.GroupCommitWriter`` over
``db.intake.PostgresIntakeRepository`` (the service's path) and through
``bench.intake_baseline.PerStepIntakeRepository`` (the store before it), on one pool of 20 as
the service's, on a fresh, throw-away database. Prints calls/s and the p50/p99 of one save per
concurrency level, each as a ratio against the baseline, and one JSON line. This separates the
database's share of ``bench.agi_turns`` from the IVR's, the callers' and the spool's.

Never part of the test suite: it prints figures and asserts nothing about timing.

    .venv/bin/python -m bench.intake_writes [--concurrency 1,50,200] [--calls 600] [--steps 5]

``HOTLINE_DATABASE_URL`` (a server URL) ⇒ a database ``hotline_bench_<random>`` is created on
that server and dropped at the end; unset ⇒ an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import platform
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from bench.agi_turns import Figure, parse_levels, percentile
from bench.intake_baseline import PerStepIntakeRepository
from bench.machine import cpu_model, nproc, scratch_database
from db.intake import PostgresIntakeRepository
from db.migrations import migrate
from db.pool import create_pool
from ivr.writer import GroupCommitWriter
from runtime.loop import run_loop
from tickets.events import EventKind
from tickets.intake import CallIntake, IntakeRepository
from tickets.model import Category, Line

GROUP = "group"
BASELINE = "per-step"


@dataclass(frozen=True)
class Level:
    calls_per_second: float
    saves: list[float]  # seconds, sorted


def first_snapshot(uniqueid: str) -> CallIntake:
    return CallIntake(
        uniqueid=uniqueid,
        linkedid=uniqueid,
        line=Line.CITIZEN,
        caller_raw="0901234567",
        channel="PJSIP/telco-00000001",
        started_at=datetime.now(UTC),
        category=Category.UNCLASSIFIED,
        queue="hotline-1022",
    ).step(EventKind.CALL_STARTED, {"caller": "0901234567", "line": "1022"})


async def level(
    store: IntakeRepository, concurrency: int, uniqueids: Sequence[str], steps: int
) -> Level:
    saves: list[float] = []
    pending = iter(uniqueids)

    async def caller() -> None:
        for uniqueid in pending:
            intake = first_snapshot(uniqueid)
            for n in range(steps):
                if n:
                    intake = intake.step(EventKind.MENU_CHOICE, {"digit": str(n % 4)})
                started = time.perf_counter()
                await store.save(intake)
                saves.append(time.perf_counter() - started)

    started = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for n in range(concurrency):
            group.create_task(caller(), name=f"caller-{n}")
    wall = time.perf_counter() - started
    saves.sort()
    return Level(len(uniqueids) / wall, saves)


async def run(levels: list[int], calls: int, steps: int) -> None:
    print(f"machine:    {nproc()} CPUs, {cpu_model()}")
    print(f"python:     {platform.python_version()} ({sys.executable})")
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as scratch:
        async with scratch_database(Path(scratch)) as database:
            print(f"postgresql: {database.describe()}")
            conn = await asyncpg.connect(database.url)
            try:
                await migrate(conn)
            finally:
                await conn.close()
            pool = await create_pool(database.url)
            print(
                f"load:       {calls} calls per level and writer, {steps} saves a call (the first"
                " creates call and ticket), each call's saves one after another; pool max"
                f" {pool.get_max_size()}"
            )
            print()
            print(f"{'writer':>8} {'conc':>5} {'calls/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            numbers = itertools.count(1)
            epoch = int(time.time())
            results: dict[tuple[str, int], Level] = {}
            try:
                for concurrency in levels:
                    for writer in (BASELINE, GROUP):
                        uniqueids = [f"{epoch}.{next(numbers)}" for _ in range(calls)]
                        if writer == GROUP:
                            store = PostgresIntakeRepository(pool)
                            async with GroupCommitWriter(store) as group_writer:
                                result = await level(group_writer, concurrency, uniqueids, steps)
                        else:
                            baseline = PerStepIntakeRepository(pool)
                            result = await level(baseline, concurrency, uniqueids, steps)
                        results[(writer, concurrency)] = result
                        print(
                            f"{writer:>8} {concurrency:>5} {result.calls_per_second:>8.1f}"
                            f" {percentile(result.saves, 0.5) * 1000:>8.2f}"
                            f" {percentile(result.saves, 0.99) * 1000:>8.2f}",
                            flush=True,
                        )
            finally:
                await pool.close()
    figures: list[Figure] = []
    for concurrency in levels:
        ours, base = results[(GROUP, concurrency)], results[(BASELINE, concurrency)]
        figures += [
            Figure(
                f"c{concurrency}_calls_per_s",
                ours.calls_per_second,
                "calls/s",
                base.calls_per_second,
            ),
            Figure(
                f"c{concurrency}_p99_save",
                percentile(ours.saves, 0.99) * 1000,
                "ms",
                percentile(base.saves, 0.99) * 1000,
            ),
        ]
    print()
    print("group commit against the per-step baseline (ratio = group / per-step):")
    for figure in figures:
        print(
            f"  {figure.name:<20} {figure.value:>10.1f} {figure.unit:<8}"
            f" baseline {figure.baseline:>10.1f}   ratio {figure.ratio:.2f}"
        )
    print(json.dumps({"bench": "intake_writes", "figures": [f.as_json() for f in figures]}))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--concurrency",
        type=parse_levels,
        default=parse_levels("1,50,200"),
        help="comma-separated levels of calls saving at once (default 1,50,200)",
    )
    parser.add_argument("--calls", type=int, default=600, help="calls per level and writer")
    parser.add_argument("--steps", type=int, default=5, help="saves a call makes")
    args = parser.parse_args(argv)
    if args.calls < 1 or args.steps < 1:
        parser.error("--calls and --steps must be at least 1")
    run_loop(run(args.concurrency, args.calls, args.steps))


if __name__ == "__main__":
    main()
