"""Reports and lookups over many generated tickets (default 10 million) on a fresh database.

Generates tickets and their calls over about two years (the 1022/115 mix of DESIGN.md, ~47
agencies, repeat callers, the lifecycle time stamps the reports count), loads them with COPY
(asyncpg ``copy_records_to_table`` from generators) into a fresh database migrated to the
current schema, then times what the product runs on that data: the report of
``db.reports.PostgresReportRepository`` for one month and for the whole period, read from the
daily rollups and, in the same run, counted over the rows themselves (``from_rows``, the report
before the rollups: the baseline of each ratio), and the lookups of
``db.tickets.PostgresTicketRepository`` by phone and by code, each as p50 over repeated runs,
with an ``EXPLAIN (ANALYZE, BUFFERS)`` summary of every query. The last line is one JSON object
of the headline figures (name, value, unit, baseline, ratio).

Loading: the secondary indexes of ``tickets`` and ``calls`` are dropped before COPY and
recreated afterwards from their own definitions (timed separately); the loading session runs
with ``session_replication_role = replica`` so the triggers and foreign keys do not fire (the
generated tickets carry no recordings and every reference is valid by construction); the
rollups are then counted once with ``report_rollups_rebuild()`` (timed).

This is never part of the test suite: it prints figures and asserts nothing about timing.

    .venv/bin/python -m bench.ticket_queries [--tickets 10000000] [--repeat 7] [--seed 1]
        [--rows-repeat 3]

``HOTLINE_DATABASE_URL`` (a server URL) ⇒ a database ``hotline_bench_<random>`` is created on
that server and dropped at the end; unset ⇒ an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bench.machine import cpu_model, memory_gib, nproc, scratch_database
from db.migrations import migrate
from db.reports import (
    _CALLS,
    _CITIZEN,
    _MEDICAL,
    _OUTCOMES,
    _ROLLUP_CALLS,
    _ROLLUP_CITIZEN,
    _ROLLUP_MEDICAL,
    _ROLLUP_OUTCOMES,
    PostgresReportRepository,
    _whole_months,
    period_bounds,
)
from db.tickets import _TICKET, PostgresTicketRepository
from runtime.loop import run_loop
from tickets.codes import HOTLINE_TZ, format_code
from tickets.dispatch import SUCCESSFUL_OUTCOMES, Outcome
from tickets.model import Line

DAYS = 730
BATCH = 50_000
AGENCIES = tuple(f"AG{n:02d}" for n in range(1, 48))  # ~47 agencies in one province
LOCALITIES = tuple(f"L{n:03d}" for n in range(1, 121))
# 1022: 479 administrative procedures, 1,025 field reports, 1,553 information/feedback (some
# asked for an operator and stayed unclassified); 115: 2,785 requests (DESIGN.md).
MIX_1022: tuple[tuple[str, int], ...] = (
    ("admin_procedure", 479),
    ("field_report", 1025),
    ("information", 1300),
    ("unclassified", 253),
)
SHARE_115 = 2785 / (3057 + 2785)
OUTCOMES_SENT: tuple[tuple[str, int], ...] = (
    (Outcome.HANDLED.value, 55),
    (Outcome.TRANSPORTED.value, 45),
    (Outcome.NO_VEHICLE.value, 4),
    (Outcome.CANCELLED.value, 6),
    (Outcome.UNREACHABLE.value, 3),
)
OUTCOMES_NOT_SENT: tuple[tuple[str | None, int], ...] = (
    (Outcome.HANDLED.value, 30),  # advice on the phone
    (Outcome.PRANK.value, 25),
    (Outcome.DUPLICATE.value, 15),
    (Outcome.CANCELLED.value, 10),
    (None, 20),
)

TICKET_COLUMNS = (
    "id", "code", "line", "category", "status", "caller_phone", "caller_raw", "description",
    "locality", "agency_code", "created_at", "updated_at", "source", "deadline_at",
    "classified_at", "forwarded_at", "accepted_at", "responded_at", "closed_at", "closure",
    "escalated_at", "answered_at", "dispatched_at", "on_scene_at", "completed_at", "outcome",
)  # fmt: skip
CALL_COLUMNS = (
    "id", "uniqueid", "linkedid", "line", "channel", "caller_raw", "caller_phone", "started_at",
    "ended_at", "ivr_path", "disposition", "queue", "version", "ticket_id", "queue_joined_at",
    "answered_at", "abandoned_at", "queue_wait_seconds", "answered_by",
)  # fmt: skip
DESCRIPTIONS = (
    "Đường bị ngập sau mưa lớn, xe máy không đi được",
    "Rác thải tập kết trái phép đầu hẻm",
    "Hỏi thủ tục cấp đổi giấy phép lái xe",
    "Tiếng ồn karaoke sau 22 giờ",
    "Đèn đường hư hỏng nhiều ngày",
    None,
)


@dataclass(frozen=True)
class Generated:
    tickets: int
    calls: int
    first_day: date
    last_day: date
    busy_phone: str  # the phone with the most tickets
    sample_phones: tuple[str, ...]
    sample_codes: tuple[str, ...]


class Generator:
    """Tickets in time order (ids grow with ``created_at``, as a bigserial does), each with
    the call that created it; repeat callers drawn from a skewed pool of phones."""

    def __init__(self, tickets: int, seed: int, end: datetime) -> None:
        self.count = tickets
        self.rng = random.Random(seed)
        self.start = end - timedelta(days=DAYS)
        self.step = DAYS * 86400 / tickets
        distinct = max(10, int(tickets * 0.45))
        # A phone's index is drawn as distinct * u**2: a few numbers call very often.
        self.phones = distinct
        self.counters: dict[tuple[str, int], int] = {}
        self.sample_phones: list[str] = []
        self.sample_codes: list[str] = []
        self.phone_counts: dict[str, int] = {}
        self.calls_rows: list[tuple[Any, ...]] = []

    def phone(self) -> tuple[str | None, str]:
        r = self.rng.random()
        if r < 0.01:
            return None, "unknown"
        n = int(self.phones * r**2)
        national = f"09{n % 10**8:08d}" if n % 3 else f"03{n % 10**8:08d}"
        return "+84" + national[1:], national

    def batches(self) -> Iterator[tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        rng = self.rng
        labels = [c for c, _ in MIX_1022]
        weights = [w for _, w in MIX_1022]
        sent_o = [o for o, _ in OUTCOMES_SENT]
        sent_w = [w for _, w in OUTCOMES_SENT]
        not_o = [o for o, _ in OUTCOMES_NOT_SENT]
        not_w = [w for _, w in OUTCOMES_NOT_SENT]
        tickets: list[tuple[Any, ...]] = []
        calls: list[tuple[Any, ...]] = []
        sample_every = max(1, self.count // 500)
        for i in range(self.count):
            ident = i + 1
            created = self.start + timedelta(seconds=i * self.step + rng.random() * self.step)
            medical = rng.random() < SHARE_115
            line = "115" if medical else "1022"
            year = created.astimezone(HOTLINE_TZ).year
            key = (line, year)
            number = self.counters.get(key, 0) + 1
            self.counters[key] = number
            code = format_code(Line(line), year, number)
            phone, raw = self.phone()
            if phone is not None:
                self.phone_counts[phone] = self.phone_counts.get(phone, 0) + 1
            if i % sample_every == 0:
                self.sample_codes.append(code)
                if phone is not None:
                    self.sample_phones.append(phone)
            minute = timedelta(minutes=1)
            answered = created + timedelta(seconds=5 + rng.random() * 40)
            abandoned = rng.random() < 0.06
            classified = forwarded = accepted = responded = closed = escalated = None
            deadline = dispatched = on_scene = completed = None
            closure = outcome = agency = None
            status = "new"
            description = None
            if medical:
                category = "medical"
                if not abandoned:
                    status = "closed" if rng.random() < 0.97 else "forwarded"
                    if rng.random() < 0.53:
                        dispatched = created + 2 * minute
                        outcome = rng.choices(sent_o, sent_w)[0]
                        if outcome in (Outcome.HANDLED.value, Outcome.TRANSPORTED.value):
                            on_scene = dispatched + timedelta(minutes=8 + rng.random() * 20)
                    else:
                        outcome = rng.choices(not_o, not_w)[0]
                    if status == "closed":
                        completed = created + timedelta(minutes=30 + rng.random() * 60)
                        closed = completed
            else:
                category = rng.choices(labels, weights)[0]
                description = DESCRIPTIONS[rng.randrange(len(DESCRIPTIONS))]
                if not abandoned and category != "unclassified":
                    classified = created + 3 * minute
                    status = "classified"
                    if category == "field_report" or rng.random() < 0.1:
                        agency = AGENCIES[int(len(AGENCIES) * rng.random() ** 2)]
                        forwarded = classified + timedelta(hours=rng.random() * 4)
                        deadline = forwarded + timedelta(days=5)
                        status = "forwarded"
                        r = rng.random()
                        if r < 0.9:
                            accepted = forwarded + timedelta(hours=rng.random() * 24)
                            responded = accepted + timedelta(days=rng.random() * 7)
                            status = "responded"
                            if r < 0.8:
                                closed = responded + timedelta(days=1)
                                status = "closed"
                                closure = "satisfied" if rng.random() < 0.77 else "unsatisfied"
                        if r > 0.95:
                            escalated = deadline
                    else:
                        closed = created + 10 * minute
                        status = "closed"
            updated = closed or responded or forwarded or classified or created
            tickets.append(
                (
                    ident, code, line, category, status, phone, raw, description,
                    LOCALITIES[rng.randrange(len(LOCALITIES))], agency, created, updated, "phone",
                    deadline, classified, forwarded, accepted, responded, closed, closure,
                    escalated, None if abandoned else answered, dispatched, on_scene, completed,
                    outcome,
                )
            )  # fmt: skip
            ivr = 20 + rng.random() * 40
            joined = created + timedelta(seconds=ivr)
            wait = rng.expovariate(1 / 12)
            uniqueid = f"{int(created.timestamp())}.{ident}"
            in_ivr_hangup = rng.random() < 0.03
            calls.append(
                (
                    ident, uniqueid, uniqueid, line, f"PJSIP/telco-{ident:08x}", raw, phone,
                    created, joined + timedelta(seconds=wait + 120),
                    '[{"step": "call_started"}, {"step": "to_queue"}]',
                    "abandoned_in_ivr" if in_ivr_hangup else "queued",
                    "emergency-115" if medical else "hotline-1022", 6, ident,
                    None if in_ivr_hangup else joined,
                    None if abandoned or in_ivr_hangup else joined + timedelta(seconds=wait),
                    joined + timedelta(seconds=wait) if abandoned and not in_ivr_hangup else None,
                    None if abandoned or in_ivr_hangup else wait,
                    None if abandoned or in_ivr_hangup else f"op{ident % 40:02d}",
                )
            )  # fmt: skip
            if len(tickets) >= BATCH:
                yield tickets, calls
                tickets, calls = [], []
        if tickets:
            yield tickets, calls

    def summary(self) -> Generated:
        busy = max(self.phone_counts, key=lambda p: self.phone_counts[p])
        end = self.start + timedelta(days=DAYS)
        return Generated(
            tickets=self.count,
            calls=self.count,
            first_day=self.start.astimezone(HOTLINE_TZ).date(),
            last_day=end.astimezone(HOTLINE_TZ).date(),
            busy_phone=busy,
            sample_phones=tuple(self.sample_phones[:200]),
            sample_codes=tuple(self.sample_codes[:200]),
        )


# ---------------------------------------------------------------------------------------------


async def secondary_indexes(conn: asyncpg.Connection, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the indexes that back no constraint."""
    rows = await conn.fetch(
        "SELECT i.relname AS name, pg_get_indexdef(i.oid) AS ddl FROM pg_index x"
        " JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid"
        " WHERE t.relname = $1 AND NOT EXISTS"
        " (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)"
        " ORDER BY i.relname",
        table,
    )
    return [(r["name"], r["ddl"]) for r in rows]


async def load(conn: asyncpg.Connection, generator: Generator) -> dict[str, float]:
    """COPY everything; returns seconds by phase."""
    timings: dict[str, float] = {}
    indexes = [
        *await secondary_indexes(conn, "tickets"),
        *await secondary_indexes(conn, "calls"),
    ]
    for name, _ in indexes:
        await conn.execute(f'DROP INDEX "{name}"')
    await conn.execute("SET session_replication_role = replica")
    started = time.perf_counter()
    done = 0
    for tickets, calls in generator.batches():
        await conn.copy_records_to_table("tickets", records=tickets, columns=TICKET_COLUMNS)
        await conn.copy_records_to_table("calls", records=calls, columns=CALL_COLUMNS)
        done += len(tickets)
        if done % 1_000_000 < BATCH:
            elapsed = time.perf_counter() - started
            print(f"  loaded {done:>11,} tickets + calls  {elapsed:7.1f} s", flush=True)
    timings["generate + COPY"] = time.perf_counter() - started
    await conn.execute("SET session_replication_role = origin")
    await conn.execute(
        "SELECT setval('tickets_id_seq', $1), setval('calls_id_seq', $1)", generator.count
    )
    for line, year in generator.counters:
        await conn.execute(
            "INSERT INTO ticket_counters (line, year, last) VALUES ($1, $2, $3)"
            " ON CONFLICT (line, year) DO UPDATE SET last = EXCLUDED.last",
            line,
            year,
            generator.counters[(line, year)],
        )
    started = time.perf_counter()
    await conn.execute("SET maintenance_work_mem = '1GB'")
    for _, ddl in indexes:
        await conn.execute(ddl)
    timings[f"recreate {len(indexes)} indexes"] = time.perf_counter() - started
    started = time.perf_counter()
    await conn.execute("VACUUM (ANALYZE) tickets")
    await conn.execute("VACUUM (ANALYZE) calls")
    timings["VACUUM ANALYZE"] = time.perf_counter() - started
    started = time.perf_counter()
    await conn.execute("SELECT report_rollups_rebuild()")
    await conn.execute("VACUUM (ANALYZE) report_tickets, report_calls")
    timings["rebuild rollups"] = time.perf_counter() - started
    return timings


async def print_sizes(conn: asyncpg.Connection) -> None:
    rows = await conn.fetch(
        "SELECT c.relname, c.reltuples::bigint AS n, pg_table_size(c.oid) AS heap,"
        " pg_indexes_size(c.oid) AS idx FROM pg_class c"
        " WHERE c.relname = ANY($1::text[]) ORDER BY c.relname",
        ["tickets", "calls", "report_tickets", "report_calls"],
    )
    for r in rows:
        print(
            f"  {r['relname']:<14} rows ≈{r['n']:>12,}  table {r['heap'] / 2**30:6.2f} GiB"
            f"  indexes {r['idx'] / 2**30:6.2f} GiB"
        )


# ---------------------------------------------------------------------------------------------
# EXPLAIN summaries and timing.


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def explain_summary(plan: dict[str, Any]) -> str:
    top = plan["Plan"]
    hit = int(top.get("Shared Hit Blocks", 0))
    read = int(top.get("Shared Read Blocks", 0))
    scans = []
    for node in plan_nodes(top):
        kind = str(node["Node Type"])
        if "Scan" in kind:
            target = node.get("Index Name") or node.get("Relation Name") or ""
            rows = float(node.get("Actual Rows", 0)) * float(node.get("Actual Loops", 1))
            scans.append(f"{kind} {target}".strip() + f" ({rows:,.0f} rows)")
    workers = max((int(n.get("Workers Launched", 0)) for n in plan_nodes(top)), default=0)
    return (
        f"{plan['Execution Time']:.1f} ms; buffers hit {hit:,} read {read:,} "
        f"({(hit + read) * 8 / 1024:,.0f} MiB); workers {workers}; " + "; ".join(scans)
    )


async def explain(conn: asyncpg.Connection | PoolConnectionProxy, sql: str, *args: object) -> str:
    raw = await conn.fetchval("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, *args)
    plans = json.loads(raw) if isinstance(raw, str) else raw
    return explain_summary(plans[0])


async def p50(action: Callable[[], Awaitable[object]], repeat: int) -> tuple[float, float]:
    """(p50, min) seconds over ``repeat`` runs after one warm-up run."""
    await action()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        await action()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


@dataclass(frozen=True)
class Options:
    tickets: int
    repeat: int
    seed: int
    rows_repeat: int


def headline(name: str, value: float, baseline: float, unit: str = "ms") -> dict[str, object]:
    return {
        "name": name,
        "value": round(value, 2),
        "unit": unit,
        "baseline": round(baseline, 2),
        "ratio": round(baseline / value, 1) if value else None,
    }


async def measure(pool: asyncpg.Pool, data: Generated, options: Options) -> list[dict[str, object]]:
    repeat = options.repeat
    reports = PostgresReportRepository(pool)
    from_rows = PostgresReportRepository(pool, from_rows=True)
    tickets = PostgresTicketRepository(pool)
    both = (Line.CITIZEN, Line.MEDICAL)
    last = data.last_day
    month_start = (last.replace(day=1) - timedelta(days=1)).replace(day=1)
    month_end = last.replace(day=1) - timedelta(days=1)
    periods = {
        "month": (f"month {month_start:%Y-%m}", month_start, month_end),
        "whole": (f"whole {data.first_day}..{last}", data.first_day, last),
    }
    successful = sorted(o.value for o in SUCCESSFUL_OUTCOMES)
    figures: list[dict[str, object]] = []
    print()
    print(
        "EXPLAIN (ANALYZE, BUFFERS) of each statement: execution time; shared buffers hit / read"
        " (read = not in shared_buffers: OS page cache or disk); parallel workers; scans (rows)"
    )
    print(
        f"report (PostgresReportRepository.report, both lines): from the rollups p50/min of"
        f" {repeat} runs; counted over the rows (the baseline) p50/min of {options.rows_repeat}:"
    )
    for key, (label, start, end) in periods.items():
        median, best = await p50(partial(reports.report, start, end, both), repeat)
        base, base_best = await p50(
            partial(from_rows.report, start, end, both), options.rows_repeat
        )
        same = await reports.report(start, end, both) == await from_rows.report(start, end, both)
        print(
            f"  {label:<28} rollups p50 {fmt_ms(median):>9} ms  min {fmt_ms(best):>9} ms"
            f"   rows p50 {fmt_ms(base):>10} ms  min {fmt_ms(base_best):>10} ms"
            f"   ×{base / median:,.0f}   same figures: {'yes' if same else 'NO'}"
        )
        figures.append(headline(f"report_{key}_p50", median * 1000, base * 1000))
        low, high = period_bounds(start, end)
        whole = _whole_months(start, end)
        async with pool.acquire() as conn:
            for name, sql, args in (
                ("rollup citizen", _ROLLUP_CITIZEN, (start, end, *whole)),
                ("rollup medical", _ROLLUP_MEDICAL, (start, end, *whole, successful)),
                ("rollup outcomes", _ROLLUP_OUTCOMES, (start, end, *whole)),
                ("rollup calls", _ROLLUP_CALLS, (start, end)),
                ("rows citizen", _CITIZEN, (low, high)),
                ("rows medical", _MEDICAL, (low, high, successful)),
                ("rows outcomes", _OUTCOMES, (low, high)),
                ("rows calls", _CALLS, (low, high, str(HOTLINE_TZ))),
            ):
                print(f"    {name:<15} {await explain(conn, sql, *args)}")

    print()
    print(f"lookups (PostgresTicketRepository), p50/min of {repeat} runs per key:")

    async def per_key(
        label: str, keys: Sequence[str], action: Callable[[str], Awaitable[object]]
    ) -> float:
        medians = []
        for key in keys:
            median, _ = await p50(partial(action, key), repeat)
            medians.append(median)
        medians.sort()
        print(
            f"  {label:<44} keys {len(keys):>4}  p50 {fmt_ms(statistics.median(medians)):>7} ms"
            f"  worst key {fmt_ms(medians[-1]):>7} ms"
        )
        return statistics.median(medians)

    phones = data.sample_phones[:50]
    codes = data.sample_codes[:50]
    by_phone = await per_key(
        "list_by_phone(limit 20), sampled callers",
        phones,
        lambda p: tickets.list_by_phone(p, limit=20, offset=0),
    )
    await per_key(
        "list_by_phone(limit 20), busiest caller",
        [data.busy_phone],
        lambda p: tickets.list_by_phone(p, limit=20, offset=0),
    )
    by_code = await per_key("get_by_code (ticket + call + events)", codes, tickets.get_by_code)
    # Lookups have no baseline of their own: the 5 ms target stands in for it.
    figures.append(headline("lookup_by_phone_p50", by_phone * 1000, 5.0))
    figures.append(headline("lookup_by_code_p50", by_code * 1000, 5.0))
    async with pool.acquire() as conn:
        n_busy = await conn.fetchval(
            "SELECT count(*) FROM tickets WHERE caller_phone = $1", data.busy_phone
        )
        by_phone_sql = (
            _TICKET + " WHERE t.caller_phone = $1 ORDER BY t.created_at DESC, t.id DESC"
            " LIMIT $2 OFFSET $3"
        )
        sampled = await explain(conn, by_phone_sql, data.sample_phones[0], 20, 0)
        print(f"    by phone, sampled   {sampled}")
        print(f"    by phone, busiest ({n_busy:,} tickets) ", end="")
        print(await explain(conn, by_phone_sql, data.busy_phone, 20, 0))
        print(
            "    by code             "
            + await explain(conn, "SELECT id FROM tickets WHERE code = $1", data.sample_codes[0])
        )
    return figures


async def run(options: Options) -> None:
    print(f"machine:    {nproc()} CPUs, {cpu_model()}, {memory_gib():.1f} GiB RAM")
    print(f"python:     {platform.python_version()} ({sys.executable})")
    async with AsyncExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-bench-")))
        database = await stack.enter_async_context(scratch_database(scratch))
        url = database.url
        print(f"postgresql: {database.describe()}")
        conn = await asyncpg.connect(url)
        stack.push_async_callback(conn.close)
        settings = await conn.fetch(
            "SELECT name, setting, unit FROM pg_settings WHERE name = ANY($1::text[])",
            ["shared_buffers", "work_mem", "max_parallel_workers_per_gather"],
        )
        print(
            "settings:   "
            + ", ".join(f"{s['name']} {s['setting']}{s['unit'] or ''}" for s in settings)
        )
        await migrate(conn)
        version_row = await conn.fetchval("SELECT max(version) FROM schema_migrations")
        print(f"schema:     migrated to version {version_row}")

        generator = Generator(options.tickets, options.seed, datetime.now(UTC))
        print(
            f"\nloading {options.tickets:,} tickets + {options.tickets:,} calls over {DAYS} days"
            f" (seed {options.seed}), COPY in batches of {BATCH:,}:"
        )
        timings = await load(conn, generator)
        for phase, seconds in timings.items():
            print(f"  {phase:<24} {seconds:8.1f} s")
        total = sum(timings.values())
        print(f"  {'total':<24} {total:8.1f} s  ({options.tickets / total:,.0f} tickets/s)")
        await print_sizes(conn)
        data = generator.summary()
        # No statement timeout (the service's pool has 30 s): the report over the rows of the
        # whole period takes longer than that on a loaded machine.
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4, command_timeout=None)
        assert pool is not None
        stack.push_async_callback(pool.close)
        figures = await measure(pool, data, options)
    print(json.dumps({"bench": "ticket_queries", "tickets": options.tickets, "figures": figures}))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tickets", type=int, default=10_000_000, help="tickets to generate")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per query")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated data")
    parser.add_argument(
        "--rows-repeat", type=int, default=3, help="timed runs of the report over the rows"
    )
    args = parser.parse_args(argv)
    if args.tickets < 1000 or args.repeat < 1 or args.rows_repeat < 1:
        parser.error("--tickets must be at least 1000 and --repeat, --rows-repeat at least 1")
    run_loop(run(Options(args.tickets, args.repeat, args.seed, args.rows_repeat)))


if __name__ == "__main__":
    main()
