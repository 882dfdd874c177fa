"""``hotline simulate``: load the whole service through the switchboard emulator and count what
became of every call.

The calls of ``hotline.emulated.plan`` are placed at their simulated moments; operators in two
teams (one per line) answer with a handling time drawn uniformly around the line's AHT. The
emulator's clock runs ``scale`` times faster than real time, so an hour of traffic takes a minute
at ``scale=60``. What the operators draw comes from their own seeded streams, but which of two
events due at the same simulated moment comes first still depends on the real scheduler. The
figures (``hotline.emulated.figures``) are printed by ``hotline.emulated.render``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web
from pydantic import SecretStr

from agents.service import AgentsService
from agents.stats import interval_start
from db.scratch import scratch_database
from db.simulation import PostgresSimulationRepository
from db.users import PostgresUserRepository
from hotline.app import DATABASE_URL, POOL, build_app
from hotline.auth import AuthService
from hotline.emulated.demo import BACKEND_GRANTS, SOUNDS
from hotline.emulated.figures import (
    Summary,
    add_statistics,
    call_figures,
    callback_check,
    cross_check,
    interval_totals,
    ticket_check,
    total_of,
)
from hotline.emulated.plan import (
    MAX_PATIENCE,
    PlannedCall,
    SimulationOptions,
    fingerprint,
    plan_calls,
)
from hotline.emulated.progress import Progress
from hotline.emulated.render import render
from hotline.keys import AGENTS, AGENTS_REPO, AGI, MENU, QUEUE_LOG, SIMULATED
from hotline.settings import Settings
from runtime.loop import run_loop
from runtime.tasks import TaskManager
from switchboard import CallerScript, Clock, QueueLogConfig, Softphone, Switchboard
from switchboard.board import CallHandle, CallOutcome
from switchboard.events import AmiEvent
from tickets.erlang import StaffingTarget
from tickets.model import Line, Role
from tickets.staffing import line_targets

logger = logging.getLogger(__name__)

SETTLE_SECONDS = 30.0  # real seconds the service gets to store the last events


async def _operators(
    apps: Sequence[web.Application], boards: Sequence[Switchboard], options: SimulationOptions
) -> dict[Line, str]:
    """Log one team per line into its queue; returns the queue of each line. With several
    PBXs the n-th operator's softphone registers on PBX n (in turn) and logs in through
    instance n + 1: the instance sends the QueueAdd to the PBX where the softphone is."""
    queues = {line: flow.queue for line, flow in apps[0][MENU].lines.items()}
    users = PostgresUserRepository(apps[0][POOL])
    auth = AuthService(users, token_ttl=timedelta(hours=1))
    teams = (
        (Line.CITIZEN, options.operators_1022, options.aht_1022, 101),
        (Line.MEDICAL, options.operators_115, options.aht_115, 501),
    )
    for line, count, aht, first in teams:
        for n in range(count):
            extension = f"sim{first + n}"
            boards[n % len(boards)].add_softphone(
                Softphone(
                    extension, ring_delay=(1.0, 4.0), talk_time=(aht / 2, aht * 1.5), name=extension
                )
            )
            service: AgentsService = apps[(n + 1) % len(apps)][AGENTS]

            async def registered(interface: str = f"PJSIP/{extension}") -> bool:
                return interface in service.model.devices  # noqa: B023 (awaited at once)

            await _wait_for(registered, 30, f"{extension} to be seen registered")
            found = await users.credentials(extension)
            user = (
                found.user
                if found is not None
                else await auth.add_user(extension, secrets.token_urlsafe(12), Role.OPERATOR)
            )
            await service.login(user, extension, [queues[line]])
    return queues


async def _wait_for(check: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {seconds:.0f} s")
        await asyncio.sleep(0.05)


async def run_simulation(
    settings: Settings, options: SimulationOptions, *, progress: TextIO = sys.stderr
) -> tuple[Summary, dict[Line, StaffingTarget]]:
    plan = plan_calls(options)
    secret = secrets.token_hex(12)
    clock = Clock(scale=options.scale)
    several = options.instances > 1
    boards = [
        Switchboard(
            agi_host="127.0.0.1",
            agi_port=0,
            recordings_dir=settings.recordings,
            sounds_dir=SOUNDS if SOUNDS.is_dir() else None,
            ami_users={"hotline": (secret, BACKEND_GRANTS)},
            clock=clock,
            seed=options.seed + k,
            # uniqueids unique across the PBXs, as asterisk.conf's systemname makes them
            systemname=f"pbx-{k + 1}" if several else "",
        )
        for k in range(options.instances)
    ]
    targets = line_targets(settings)
    async with AsyncExitStack() as stack:
        for board in boards:
            await board.start("127.0.0.1", 0)
            stack.push_async_callback(board.stop)
        urls = ",".join(f"ami://hotline:{secret}@127.0.0.1:{b.ami_port}" for b in boards)
        settings = settings.model_copy(
            update={"ami_url": None, "ami_urls": SecretStr(urls), "agi_bind": "127.0.0.1:0"}
        )
        real_start = time.monotonic()
        apps = []
        for board in boards:
            app = build_app(settings)
            app[SIMULATED] = True
            runner = web.AppRunner(app, handle_signals=False, access_log=None)
            stack.push_async_callback(runner.cleanup)
            await runner.setup()
            board.queue_log.config = QueueLogConfig(database_url=app[DATABASE_URL])
            await board.queue_log.start()
            board.dialplan.agi_port = app[AGI].port  # this PBX's FastAGI: its own instance
            apps.append(app)
        app = apps[0]
        services: list[AgentsService] = [a[AGENTS] for a in apps]

        async def connected() -> bool:
            return all(service.connected for service in services)

        await _wait_for(connected, 30, "the AMI connections to the emulators")
        queues = await _operators(apps, boards, options)
        repository = app[AGENTS_REPO]
        since = interval_start(datetime.now(UTC))
        until = datetime.now(UTC) + timedelta(days=7)
        before = interval_totals(await repository.queue_intervals(since, until))
        line_of_queue = {queue: line for line, queue in queues.items()}
        joins: dict[Line, int] = {}

        def count_join(event: AmiEvent) -> None:
            line = line_of_queue.get(event.get("Queue") or "")
            if event.name == "QueueCallerJoin" and line is not None:
                joins[line] = joins.get(line, 0) + 1

        unsubscribes = [board.bus.subscribe(count_join) for board in boards]
        try:
            outcomes = await _drive(boards, plan, options, progress)
        finally:
            for unsubscribe in unsubscribes:
                unsubscribe()
        simulated = (
            options.hours * 3600.0
            if options.calls is None or len(plan) < options.calls
            else (plan[-1].at if plan else 0.0)
        )
        calls = PostgresSimulationRepository(app[POOL])
        uniqueids = [o.uniqueid for _, o in outcomes]

        async def settled() -> bool:
            for board in boards:
                await board.queue_log.flushed()
            if any(s.backlog for s in services) or await app[QUEUE_LOG].rows_behind():
                return False
            records = {r.uniqueid: r for r in await calls.calls(uniqueids)}
            figures = call_figures(records, outcomes)
            after = interval_totals(await repository.queue_intervals(since, until))
            add_statistics(figures, before, after, queues)
            called_back = await calls.called_back(uniqueids)
            return (
                sum(f.lost for f in figures.values()) == 0
                and not cross_check(figures, outcomes, joins)
                and not callback_check(called_back, outcomes)
            )

        try:
            await _wait_for(settled, SETTLE_SECONDS, "the service to store every call")
        except TimeoutError as err:
            logger.warning("simulate: %s; counting what is stored", err)
        records = {r.uniqueid: r for r in await calls.calls(uniqueids)}
        figures = call_figures(records, outcomes)
        after = interval_totals(await repository.queue_intervals(since, until))
        add_statistics(figures, before, after, queues)
        summary = Summary(
            options=options,
            planned=len(plan),
            fingerprint=fingerprint(plan),
            placed=len(outcomes),
            simulated_seconds=simulated,
            real_seconds=time.monotonic() - real_start,
            lines=figures,
            total=total_of(figures),
            mismatches=cross_check(figures, outcomes, joins)
            + callback_check(await calls.called_back(uniqueids), outcomes)
            + ticket_check(records, outcomes),
        )
        return summary, targets


def _script(planned: PlannedCall) -> CallerScript:
    """1022: the menu key (a hang-up at the menu instead); 115: the address is recorded (a
    hang-up while it is)."""
    hang_up = None
    if planned.hangs_up_in_menu:
        hang_up = ("GET DATA", 1) if planned.line is Line.CITIZEN else ("RECORD FILE", 1)
    return CallerScript(
        keys=[planned.key], record_seconds=planned.record_seconds, hangup_on=hang_up
    )


async def _drive(
    boards: Sequence[Switchboard],
    plan: Sequence[PlannedCall],
    options: SimulationOptions,
    out: TextIO,
) -> list[tuple[PlannedCall, CallOutcome]]:
    """Place every planned call at its simulated moment (on the PBXs in turn, which share one
    clock), then wait until all have ended."""
    clock = boards[0].clock
    start = clock.now()
    total = options.hours * 3600.0 if options.calls is None else (plan[-1].at if plan else 0.0)
    bar = Progress(out, total, options.progress)
    handles: list[tuple[PlannedCall, CallHandle]] = []
    finished = 0

    def count(_: object) -> None:
        nonlocal finished
        finished += 1

    async def tick() -> None:
        while True:
            bar.draw(clock.now() - start, len(handles), len(handles) - finished)
            await asyncio.sleep(0.25)

    tasks = TaskManager()
    tasks.start(tick(), name="simulate-progress")
    try:
        for n, planned in enumerate(plan):
            await clock.sleep_until(start + planned.at)
            handle = await boards[n % len(boards)].place_call(
                planned.line.value,
                planned.number,
                script=_script(planned),
                patience=planned.patience,
            )
            handle.finished.add_done_callback(count)
            handles.append((planned, handle))
        await clock.sleep_until(start + total)
        # every caller gives up within MAX_PATIENCE and every talk ends: bounded
        longest = MAX_PATIENCE + 3 * max(options.aht_1022, options.aht_115) + 600
        async with asyncio.timeout(clock.real(longest) + 60):
            outcomes = [(p, await h.wait()) for p, h in handles]
        bar.draw(clock.now() - start, len(handles), 0)
    finally:
        await tasks.close()
        bar.done()
    return outcomes


def simulate(
    settings: Settings,
    options: SimulationOptions,
    *,
    into_configured_database: bool = False,
    out: TextIO = sys.stdout,
) -> int:
    """Run, print the summary; 0 when no call was lost and the figures agree. On a scratch
    database of its own (and a scratch data folder), dropped at the end, unless told to run
    ``into_configured_database``: then its tickets are marked simulated (left out of reports)."""
    if into_configured_database:
        where = "the configured database (tickets marked simulated, left out of reports)"
        summary, targets = run_loop(run_simulation(settings, options))
    else:
        where, (summary, targets) = run_loop(_on_scratch(settings, options))
    print(f"database: {where}", file=out)
    print(render(summary, targets), file=out)
    return 0 if summary.ok else 1


async def _on_scratch(
    settings: Settings, options: SimulationOptions
) -> tuple[str, tuple[Summary, dict[Line, StaffingTarget]]]:
    """The simulation on a database made for it on the configured server (or an embedded one)
    and a temporary data folder (recordings, spool): nothing of it is left behind."""
    server = settings.database_url.get_secret_value() if settings.database_url else None
    with tempfile.TemporaryDirectory(prefix="hotline-simulate-") as folder:
        async with scratch_database(server, Path(folder), prefix="hotline_simulate") as scratch:
            scratch_settings = settings.model_copy(
                update={
                    "database_url": SecretStr(scratch.url),
                    "data_dir": Path(folder),
                    "recordings_dir": None,
                }
            )
            return f"scratch {scratch.describe()}", await run_simulation(scratch_settings, options)
