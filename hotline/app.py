"""Composition root: builds every service once from the settings and owns their lifetimes.

Each resource is one ``cleanup_ctx`` entry (database and the services built on it, live events,
speech, IVR, AMI, the back-office sweeper, the outbox); aiohttp runs them in order at startup
and backwards at shutdown, so on SIGTERM the FastAGI server stops taking calls and lets running
ones finish before the database goes away. Handlers get the services under the typed keys of
``hotline.keys``; only this module (and the commands built on it) sees the pool.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import Any

import aiohttp
from aiohttp import web

from agents.ami import AmiConnection, AmiItem
from agents.applier import QueueLogApplier
from agents.model import LiveModel
from agents.service import AgentsService
from agents.stats import ServiceLevels
from db.admin import PostgresPromptTexts
from db.agency import PostgresAgencyRepository
from db.agents import PostgresAgentsRepository
from db.apikeys import PostgresApiKeyRepository
from db.backoffice import PostgresBackofficeStore
from db.health import PostgresHealthRepository
from db.intake import PostgresIntakeRepository
from db.listen import listen
from db.open311 import PostgresOpen311Repository
from db.pool import DatabaseProbe, Pool, open_database
from db.province import PostgresProvinceRepository
from db.queue_log import CHANNEL as QUEUE_LOG_CHANNEL
from db.queue_log import PostgresQueueLog
from db.reports import PostgresReportRepository
from db.reviews import PostgresReviewRepository
from db.stats import PostgresStatsRepository
from db.suggestions import PostgresCorrections
from db.tickets import PostgresTicketRepository
from db.transcripts import PostgresTranscriptionJobs
from db.users import PostgresUserRepository
from hotline.auth import AuthService, LoginDelay
from hotline.events import EventBus
from hotline.keys import (
    AGENCY,
    AGENTS,
    AGENTS_REPO,
    AGI,
    API_KEYS,
    ATTACHMENTS,
    AUTH,
    BACKOFFICE,
    BACKOFFICE_STORE,
    BUS,
    CLOCK,
    DATABASE,
    HEALTH,
    MENU,
    METRICS,
    NOTIFY,
    OPEN311,
    PROMPTS,
    PROVINCE,
    QUEUE_LOG,
    REPORTS,
    REVIEWS,
    SETTINGS,
    SIMULATED,
    STAFFING,
    STATS,
    TICKETS,
    USERS,
)
from hotline.notifications import CITIZEN_SMS, check_notify_settings, notify_service
from hotline.settings import Settings
from hotline.web.admin import add_routes as add_admin_routes
from hotline.web.agency import add_routes as add_agency_routes
from hotline.web.agents import add_routes as add_agents_routes
from hotline.web.backoffice import add_routes as add_backoffice_routes
from hotline.web.calls import add_routes as add_calls_routes
from hotline.web.errors import error_middleware
from hotline.web.http import LOGIN_LIMIT, PUBLIC_LIMIT, TRUSTED_PROXIES
from hotline.web.http import add_routes as add_api_routes
from hotline.web.live import add_routes as add_live_routes
from hotline.web.lookup import add_routes as add_lookup_routes
from hotline.web.metrics import add_routes as add_metrics_routes
from hotline.web.notify import add_routes as add_notify_routes
from hotline.web.open311 import add_routes as add_open311_routes
from hotline.web.openapi import add_routes as add_openapi_routes
from hotline.web.operator import add_routes as add_operator_routes
from hotline.web.pages import page_middleware, setup_pages
from hotline.web.ratelimit import RateLimiter
from hotline.web.reference import add_routes as add_reference_routes
from hotline.web.reports import add_routes as add_report_routes
from hotline.web.reviews import add_routes as add_review_routes
from hotline.web.wallboard import add_routes as add_wallboard_routes
from ivr.agi import hotline_route
from ivr.menu import load_menu
from ivr.recorder import IntakeRecorder
from ivr.server import FastAgiServer
from ivr.service import IvrService
from ivr.spool import IntakeSpool
from ivr.writer import GroupCommitWriter
from runtime.metrics import Metrics
from runtime.tasks import TaskManager
from speech.archive import ArchiveWriter
from speech.grammar import GrammarRecognizer
from speech.model import open_model
from speech.pool import ProcessTranscriber
from speech.service import TranscriptionService
from speech.suggest import Suggester, load_rules
from tickets.attachments import AttachmentService
from tickets.lifecycle import Closure
from tickets.model import Line
from tickets.service import BackofficeService, Clock, utc_now
from tickets.staffing import StaffingPolicy, queue_lines

logger = logging.getLogger(__name__)

# Only for the composition root, and the commands and tests built on it: never for a handler.
POOL = web.AppKey("pool", Pool)
DATABASE_URL = web.AppKey("database_url", str)  # the server's URL, also when embedded
RECORDER = web.AppKey("recorder", IntakeRecorder)
SPEECH = web.AppKey("speech", GrammarRecognizer)


def backoffice_service(
    settings: Settings, store: PostgresBackofficeStore, clock: Clock = utc_now
) -> BackofficeService:
    """The one back-office service of the process (handlers, sweeper, SMS survey answers)."""
    return BackofficeService(
        store,
        clock=clock,
        dispatch_timeout=timedelta(seconds=settings.dispatch_timeout),
        duplicate_window=timedelta(hours=settings.duplicate_window_hours),
    )


def provide_services(app: web.Application, pool: Pool) -> None:
    """Every service and repository the handlers use, built once on the open pool."""
    settings = app[SETTINGS]
    app[DATABASE] = DatabaseProbe(pool)
    app[USERS] = users = PostgresUserRepository(pool)
    app[AUTH] = AuthService(
        users,
        token_ttl=timedelta(hours=settings.token_ttl_hours),
        delay=LoginDelay(
            free=settings.login_delay_after,
            longest=timedelta(minutes=settings.login_delay_max_minutes),
        ),
    )
    app[TICKETS] = PostgresTicketRepository(pool)
    app[BACKOFFICE_STORE] = store = PostgresBackofficeStore(pool)
    app[BACKOFFICE] = backoffice = backoffice_service(settings, store, app[CLOCK])
    app[AGENCY] = agency = PostgresAgencyRepository(pool)
    app[ATTACHMENTS] = AttachmentService(backoffice, agency)
    app[PROVINCE] = PostgresProvinceRepository(pool)
    app[REPORTS] = PostgresReportRepository(pool)
    app[REVIEWS] = PostgresReviewRepository(pool)
    app[STATS] = PostgresStatsRepository(pool)
    app[PROMPTS] = PostgresPromptTexts(pool)
    app[OPEN311] = PostgresOpen311Repository(pool)
    app[API_KEYS] = PostgresApiKeyRepository(pool)
    app[AGENTS_REPO] = PostgresAgentsRepository(pool)
    app[HEALTH] = PostgresHealthRepository(pool)


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    url = settings.database_url.get_secret_value() if settings.database_url else None
    async with open_database(
        url,
        settings.pgdata,
        migrate_schema=settings.migrate_on_start,
        started=lambda dsn: app.__setitem__(DATABASE_URL, dsn),
    ) as pool:
        app[POOL] = pool
        provide_services(app, pool)
        try:
            yield
        finally:
            await app[DATABASE].close()  # its query, if one hangs, before the pool closes


async def speech_ctx(app: web.Application) -> AsyncIterator[None]:
    """The Vosk model (checked and logged), spoken menu choices for the IVR, and the
    transcription workers with their claimer; without a model, none of it (one log line)."""
    settings = app[SETTINGS]
    if settings.vosk_model is None:
        logger.warning(
            "speech: HOTLINE_VOSK_MODEL is not set: the menu is DTMF-only and recordings are "
            "kept for the operators without transcripts"
        )
        yield
        return
    model, report = await asyncio.to_thread(open_model, settings.vosk_model)
    for line in report.lines():
        logger.info("speech: %s", line)
    phrases = [p for f in app[MENU].lines.values() if f.menu for p in f.menu.spoken_phrases()]
    grammar: GrammarRecognizer | None = None
    if phrases and report.grammar:
        grammar = GrammarRecognizer(model, unk=report.unk, timeout=settings.speech_menu_timeout)
        if missing := grammar.check_vocabulary(phrases):
            logger.warning("speech: menu words not in the model's vocabulary: %s", missing)
        app[SPEECH] = grammar
    elif phrases:
        logger.warning("speech: the model has no runtime grammar; the menu stays DTMF-only")
    del model  # the workers load their own; only the grammar recognizer keeps this one
    tasks = TaskManager()
    async with AsyncExitStack() as stack:
        if grammar is not None:
            stack.push_async_callback(asyncio.to_thread, grammar.close)
        if settings.speech_workers > 0:
            suggester = Suggester(
                load_rules(settings.suggestion_rules), await PostgresCorrections(app[POOL]).all()
            )
            transcriber = ProcessTranscriber(settings.vosk_model, workers=settings.speech_workers)
            stack.push_async_callback(transcriber.close)
            await transcriber.start()
            jobs = PostgresTranscriptionJobs(
                app[POOL], instance=f"{socket.gethostname()}:{os.getpid()}"
            )
            stack.push_async_callback(jobs.close)
            await jobs.start()
            transcription = TranscriptionService(
                jobs,
                transcriber,
                suggester,
                recordings=settings.recordings,
                queue_size=settings.speech_queue_size,
                max_attempts=settings.speech_max_attempts,
                retry_delay=settings.speech_retry_delay,
                lease_seconds=settings.speech_lease,
                poll_interval=settings.speech_poll_interval,
                metrics=app[METRICS],
                archiver=None
                if settings.speech_archive_format == "none"
                else ArchiveWriter(settings.speech_archive_format),
            )
            stack.push_async_callback(transcription.release_held)
            tasks.start(transcription.run_claimer(tasks.stop), name="speech-claimer")
            tasks.start(transcription.run_heartbeat(tasks.stop), name="speech-heartbeat")
            if settings.speech_archive_format != "none":
                tasks.start(transcription.run_archiver(tasks.stop), name="speech-archiver")
            for n in range(settings.speech_workers):
                tasks.start(transcription.run_consumer(tasks.stop), name=f"speech-consumer-{n}")
        try:
            yield
        finally:
            await tasks.close()


async def ivr_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    menu = app[MENU]
    settings.recordings.mkdir(parents=True, exist_ok=True)
    writer = GroupCommitWriter(PostgresIntakeRepository(app[POOL]), metrics=app[METRICS])
    recorder = IntakeRecorder(
        writer,
        IntakeSpool(settings.spool_dir),
        timeout=settings.db_timeout,
        retry_interval=settings.spool_retry_interval,
    )
    app[RECORDER] = recorder
    service = IvrService(
        menu,
        recorder,
        settings.recordings,
        speech=app.get(SPEECH),
        transcribe=settings.vosk_model is not None,
        simulated=app.get(SIMULATED, False),
        metrics=app[METRICS],
        clock=app[CLOCK],
    )
    server = FastAgiServer(
        {"hotline": hotline_route(service, menu)},
        header_timeout=settings.agi_header_timeout,
        reply_timeout=settings.agi_reply_timeout,
        secret=settings.agi_secret.get_secret_value() if settings.agi_secret else None,
        metrics=app[METRICS],
    )
    async with writer:
        await server.start(settings.agi.host, settings.agi.port)
        app[AGI] = server
        tasks = TaskManager()
        tasks.start(recorder.run_replayer(tasks.stop), name="spool-replayer")
        try:
            yield
        finally:
            await server.stop(settings.agi_shutdown_grace)
            await tasks.close()
            await recorder.close()


async def live_ctx(app: web.Application) -> AsyncIterator[None]:
    """Events NOTIFYed by any instance (e.g. a transcript stored) reach this one's consoles."""
    bus = app[BUS]

    def deliver(payload: dict[str, Any]) -> None:
        bus.emit(str(payload.get("topic", "tickets")), str(payload.get("kind", "")), payload)

    tasks = TaskManager()
    tasks.start(listen(app[POOL], deliver), name="listen-hotline-events")
    try:
        yield
    finally:
        await tasks.close()


async def agents_ctx(app: web.Application) -> AsyncIterator[None]:
    """Every PBX's AMI (``HOTLINE_AMI_URL``, ``HOTLINE_AMI_URLS``) into one live model."""
    settings = app[SETTINGS]
    if not settings.ami_links:
        logger.warning("HOTLINE_AMI_URL(S) not set: queues and operators are not watched")
        yield
        return
    inbox: asyncio.Queue[AmiItem] = asyncio.Queue()
    links = [
        AmiConnection(
            url,
            inbox,
            ping_interval=settings.ami_ping_interval,
            action_timeout=settings.ami_action_timeout,
            boot_wait=settings.ami_boot_wait,
            metrics=app[METRICS],
            clock=app[CLOCK],
        )
        for url in settings.ami_links
    ]
    lines_of_queues = queue_lines(app[MENU].lines)
    service = AgentsService(
        controls={ami.name: ami for ami in links},
        repository=app[AGENTS_REPO],
        model=LiveModel(
            lines_of_queues,
            wrapup={
                queue: settings.wrapup_seconds_115
                if line is Line.MEDICAL
                else settings.wrapup_seconds_1022
                for queue, line in lines_of_queues.items()
            },
        ),
        publisher=app[BUS],
        queue_lines=lines_of_queues,
        callback_numbers={
            Line.CITIZEN: settings.callback_callerid_1022,
            Line.MEDICAL: settings.callback_callerid_115,
        },
        clock=app[CLOCK],
    )
    app[AGENTS] = service
    tasks = TaskManager()
    tasks.start(service.run(inbox), name="ami-events")
    tasks.start(service.run_screen_pops(), name="ami-screen-pops")
    for ami in links:
        await ami.start()
    try:
        yield
    finally:
        for ami in links:
            await ami.close()
        await tasks.close()


async def queue_log_ctx(app: web.Application) -> AsyncIterator[None]:
    """What happened in the queues, from the PBXs' queue_log: applied exactly once by whichever
    instance takes the cursor; woken by the table's NOTIFY, polling as well."""
    settings = app[SETTINGS]
    applier = QueueLogApplier(
        PostgresQueueLog(
            app[POOL],
            levels=ServiceLevels(settings.service_level_1, settings.service_level_2),
            queue_lines=queue_lines(app[MENU].lines),
        ),
        files=settings.queue_log_paths,
        recover_interval=settings.queue_log_recover_interval,
    )
    app[QUEUE_LOG] = applier
    tasks = TaskManager()
    tasks.start(
        listen(app[POOL], lambda _payload: applier.wake(), channel=QUEUE_LOG_CHANNEL),
        name="listen-queue-log",
    )
    tasks.start(applier.run(tasks.stop), name="queue-log-applier")
    try:
        yield
    finally:
        await tasks.close()


async def sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    """The back office's sweeper (escalation of overdue tickets, 115 dispatch timeouts) and the
    fold of the reports' rollups."""
    tasks = TaskManager()
    sweeper = app[BACKOFFICE].run_sweeper(tasks.stop, app[SETTINGS].sweep_interval)
    tasks.start(sweeper, name="backoffice-sweeper")
    tasks.start(app[REPORTS].run_folder(tasks.stop), name="reports-folder")
    try:
        yield
    finally:
        await tasks.close()


async def notify_ctx(app: web.Application) -> AsyncIterator[None]:
    """The outbox worker: citizens' messages out, their survey answers close tickets."""
    backoffice = app[BACKOFFICE]

    async def close_ticket(ticket_id: int, closure: Closure) -> None:
        await backoffice.close(CITIZEN_SMS, ticket_id, closure)

    async with aiohttp.ClientSession() as session:
        service = await notify_service(
            session, app[SETTINGS], app[POOL], close_ticket, app[METRICS], app[CLOCK]
        )
        app[NOTIFY] = service
        tasks = TaskManager()
        tasks.start(service.run(tasks.stop), name="notify-outbox")
        try:
            yield
        finally:
            await tasks.close()


def build_app(settings: Settings, *, clock: Clock = utc_now) -> web.Application:
    """Everything that can be checked without connecting is checked here (menu file, the
    gateway's settings). ``clock``: the time every service stamps its records with (the wall
    clock; ``hotline replay`` passes the emulator's simulated one)."""
    app = web.Application(middlewares=[error_middleware, page_middleware])
    app[SETTINGS] = settings
    app[METRICS] = Metrics()  # its own registry: several apps may run in one process
    app[CLOCK] = clock
    app[MENU] = menu = load_menu(settings.menu_file)
    app[STAFFING] = StaffingPolicy.from_config(settings, menu.lines)
    app[TRUSTED_PROXIES] = settings.trusted_networks
    app[LOGIN_LIMIT] = RateLimiter(settings.login_attempts_per_minute)
    app[PUBLIC_LIMIT] = RateLimiter(120)
    app[BUS] = EventBus()
    notify = check_notify_settings(settings)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(live_ctx)
    app.cleanup_ctx.append(speech_ctx)
    app.cleanup_ctx.append(ivr_ctx)
    app.cleanup_ctx.append(agents_ctx)
    app.cleanup_ctx.append(queue_log_ctx)
    app.cleanup_ctx.append(sweeper_ctx)
    if notify:
        app.cleanup_ctx.append(notify_ctx)
    add_api_routes(app)
    add_backoffice_routes(app)
    add_reference_routes(app)
    add_report_routes(app)
    add_review_routes(app)
    add_open311_routes(app)
    add_agents_routes(app)
    add_calls_routes(app)
    add_live_routes(app)
    if notify:
        add_notify_routes(app, zalo=settings.zalo_app_id is not None)
    add_operator_routes(app)
    add_agency_routes(app)
    add_lookup_routes(app)
    add_admin_routes(app)
    add_wallboard_routes(app)
    add_metrics_routes(app)
    setup_pages(
        app,
        secure_cookie=settings.session_cookie_secure,
        session_ttl=timedelta(hours=settings.token_ttl_hours),
    )
    add_openapi_routes(app)  # last: it documents every route registered before it
    return app
