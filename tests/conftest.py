"""Real PostgreSQL for every test: ``HOTLINE_TEST_DATABASE_URL`` when set (CI: the machine's
server), else an embedded server for the session. One migrated template database per session,
a fresh copy per test. Every async test runs on the service's event loop (``runtime.loop``)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg
import pytest

from db.migrations import migrate
from db.pool import embedded_postgres
from runtime.loop import new_event_loop
from tests.support.service import RunningService, running_service, service_settings
from tests.support.tcpproxy import TcpProxy

# fixtures shared by several modules, each in its own module under tests/support
pytest_plugins = ["tests.support.replay"]

ROOT = Path(__file__).resolve().parent.parent
SOUNDS = ROOT / "asterisk_conf" / "sounds"


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """uvloop, as ``hotline serve`` runs: a test on asyncio's own loop would not test that."""
    return {"uvloop": new_event_loop}


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def on_server(server_url: str, sql: str) -> None:
    """One statement on the server's own connection (CREATE or DROP DATABASE)."""
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("HOTLINE_TEST_DATABASE_URL")
    if url:
        yield url
        return
    pgdata = tmp_path_factory.mktemp("pg") / "data"
    context = embedded_postgres(pgdata)
    loop = asyncio.new_event_loop()
    try:
        yield loop.run_until_complete(context.__aenter__())
    finally:
        loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    name = f"hotline_tpl_{uuid.uuid4().hex[:10]}"

    async def create() -> None:
        await on_server(server_url, f'CREATE DATABASE "{name}"')
        conn = await asyncpg.connect(with_database(server_url, name))
        try:
            await migrate(conn)
        finally:
            await conn.close()

    asyncio.run(create())
    yield name
    asyncio.run(on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database_url(server_url: str, template_db: str) -> AsyncIterator[str]:
    name = f"hotline_test_{uuid.uuid4().hex[:12]}"
    await on_server(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"')
    yield with_database(server_url, name)
    await on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(database_url)
    yield conn
    await conn.close()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=6)
    assert pool is not None
    yield pool
    await pool.close()


@pytest.fixture
async def db_proxy(database_url: str) -> AsyncIterator[tuple[TcpProxy, str]]:
    """A proxy in front of the test database, and the URL that goes through it."""
    parts = urlsplit(database_url)
    socket_dir = parse_qs(parts.query).get("host", [None])[0]
    port = parts.port or 5432
    unix = f"{socket_dir}/.s.PGSQL.{port}" if socket_dir else None
    proxy = TcpProxy(parts.hostname or "127.0.0.1", port, unix)
    await proxy.start()
    user = parts.username or "postgres"
    password = f":{parts.password}" if parts.password else ""
    url = f"postgresql://{user}{password}@127.0.0.1:{proxy.port}{parts.path}"
    yield proxy, url
    await proxy.close()


@pytest.fixture
async def service(database_url: str, tmp_path: Path) -> AsyncIterator[RunningService]:
    async with running_service(service_settings(database_url, tmp_path)) as running:
        yield running
