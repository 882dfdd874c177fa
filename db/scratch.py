"""A throw-away database: a fresh, empty one on a given server (else on an embedded server
under a folder), dropped on exit whatever happened. For benchmarks and ``hotline simulate``,
which must never write into a database that holds real tickets."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from db.errors import DatabaseError
from db.pool import embedded_postgres


@dataclass(frozen=True)
class ScratchDatabase:
    url: str  # of the scratch database
    name: str
    server_version: str
    where: str  # "HOTLINE_DATABASE_URL" or "embedded"

    def describe(self) -> str:
        return f"{self.server_version} ({self.where}; database {self.name}, dropped at the end)"


@asynccontextmanager
async def scratch_database(
    server_url: str | None, folder: Path, *, prefix: str
) -> AsyncIterator[ScratchDatabase]:
    """A database ``<prefix>_<random>`` made on ``server_url`` (``None``: on an embedded server
    under ``folder``) and dropped on exit. Making it needs the CREATEDB privilege."""
    async with AsyncExitStack() as stack:
        where = "HOTLINE_DATABASE_URL"
        if not server_url:
            where = "embedded"
            server_url = await stack.enter_async_context(embedded_postgres(folder / "pg"))
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(server_url)
        try:
            version = str(await admin.fetchval("SHOW server_version"))
            await admin.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.PostgresError as err:
            raise DatabaseError(
                f"cannot make a scratch database on the server ({err}); the role needs CREATEDB"
            ) from err
        finally:
            await admin.close()
        try:
            url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
            yield ScratchDatabase(url, name, version, where)
        finally:
            admin = await asyncpg.connect(server_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()
