"""Composition root: builds every service from the settings and owns their lifetimes.

Each resource is one ``cleanup_ctx`` entry (database, IVR); aiohttp runs them in order at
startup and backwards at shutdown, so on SIGTERM the FastAGI server stops taking calls and lets
running ones finish before the database goes away.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web

from db.intake import PostgresIntakeRepository
from db.pool import open_database
from db.tickets import PostgresTicketRepository
from db.users import PostgresUserRepository
from hotline.auth import AuthService
from hotline.settings import Settings
from hotline.tasks import TaskManager
from hotline.web.errors import error_middleware
from hotline.web.http import AGI, AUTH, LOGIN_LIMIT, POOL, PUBLIC_LIMIT, TICKETS, add_routes
from hotline.web.ratelimit import RateLimiter
from ivr.agi import hotline_route
from ivr.menu import MenuFile, load_menu
from ivr.recorder import IntakeRecorder
from ivr.server import FastAgiServer
from ivr.service import IvrService
from ivr.spool import IntakeSpool

logger = logging.getLogger(__name__)

SETTINGS = web.AppKey("settings", Settings)
MENU = web.AppKey("menu", MenuFile)


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    url = settings.database_url.get_secret_value() if settings.database_url else None
    async with open_database(
        url, settings.pgdata, migrate_schema=settings.migrate_on_start
    ) as pool:
        app[POOL] = pool
        app[TICKETS] = PostgresTicketRepository(pool)
        app[AUTH] = AuthService(
            PostgresUserRepository(pool), token_ttl=timedelta(hours=settings.token_ttl_hours)
        )
        yield


async def ivr_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    menu = app[MENU]
    settings.recordings.mkdir(parents=True, exist_ok=True)
    recorder = IntakeRecorder(
        PostgresIntakeRepository(app[POOL]),
        IntakeSpool(settings.spool_dir),
        timeout=settings.db_timeout,
        retry_interval=settings.spool_retry_interval,
    )
    service = IvrService(menu, recorder, settings.recordings)
    server = FastAgiServer(
        {"hotline": hotline_route(service, menu)}, header_timeout=settings.agi_header_timeout
    )
    await server.start(settings.agi.host, settings.agi.port)
    app[AGI] = server
    stop = asyncio.Event()
    tasks = TaskManager()
    tasks.start(recorder.run_replayer(stop), name="spool-replayer")
    try:
        yield
    finally:
        await server.stop(settings.agi_shutdown_grace)
        stop.set()
        await tasks.close()


def build_app(settings: Settings) -> web.Application:
    """Everything that can be checked without connecting is checked here (menu file)."""
    app = web.Application(middlewares=[error_middleware])
    app[SETTINGS] = settings
    app[MENU] = load_menu(settings.menu_file)
    app[LOGIN_LIMIT] = RateLimiter(settings.login_attempts_per_minute)
    app[PUBLIC_LIMIT] = RateLimiter(120)
    app.cleanup_ctx.append(database_ctx)
    app.cleanup_ctx.append(ivr_ctx)
    add_routes(app)
    return app
