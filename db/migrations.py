"""Numbered SQL migrations (``migrations/NNNN_name.sql``), each applied in its own transaction
and recorded in ``schema_migrations``; an advisory lock (held by the session for the whole run)
keeps two instances from racing.

A migration whose first line is ``-- hotline: no-transaction`` runs outside a transaction, for
what PostgreSQL refuses inside one (``CREATE INDEX CONCURRENTLY`` on a large table, so that
calls keep being stored while the index builds). Such a file holds one statement, sent on its
own, and must be safe to run again (``IF NOT EXISTS``): if the process dies after the statement
and before the version is recorded, the next start runs it again."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db.errors import DatabaseNewerThanCode, SchemaOutOfDate

logger = logging.getLogger(__name__)

Connection = asyncpg.Connection | PoolConnectionProxy
MIGRATION_LOCK = 0x686F746C  # "hotl"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
NO_TRANSACTION = "-- hotline: no-transaction"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def transactional(self) -> bool:
        return self.sql.lstrip().partition("\n")[0].strip() != NO_TRANSACTION


def known_migrations(directory: Traversable | None = None) -> list[Migration]:
    """The migrations of ``directory`` (default: this package's), numbered 1..n."""
    found = []
    for entry in (directory or resources.files("db").joinpath("migrations")).iterdir():
        match = _NAME.match(entry.name)
        if match:
            sql = entry.read_text(encoding="utf-8")
            if not _has_statement(sql):
                raise RuntimeError(f"migration {entry.name} contains no SQL statement")
            found.append(Migration(int(match[1]), match[2], sql))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, found {versions}")
    return found


def _has_statement(sql: str) -> bool:
    """asyncpg fails obscurely on a script of comments only; refuse it clearly instead."""
    return any(line.strip() and not line.strip().startswith("--") for line in sql.splitlines())


async def current_version(conn: Connection) -> int:
    await conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY, name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    version = await conn.fetchval("SELECT coalesce(max(version), 0) FROM schema_migrations")
    return int(version)


async def migrate(
    conn: Connection, migrations: Sequence[Migration] | None = None
) -> list[Migration]:
    """Apply what is pending of ``migrations`` (default: :func:`known_migrations`); refuse a
    database that is newer than this code."""
    migrations = migrations or known_migrations()
    latest = migrations[-1].version
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        version = await current_version(conn)
        if version > latest:
            raise DatabaseNewerThanCode(
                f"database schema is at version {version}, this code knows up to {latest}: "
                "upgrade hotline before starting it against this database"
            )
        applied = []
        for migration in migrations[version:]:
            if migration.transactional:
                async with conn.transaction():
                    await conn.execute(migration.sql)
                    await _record(conn, migration)
            else:
                logger.info(
                    "migration %04d_%s runs outside a transaction",
                    migration.version,
                    migration.name,
                )
                await conn.execute(migration.sql)
                await _record(conn, migration)
            logger.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


async def _record(conn: Connection, migration: Migration) -> None:
    await conn.execute(
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
        migration.version,
        migration.name,
    )


async def check_schema(conn: Connection) -> None:
    """Without migrating: the schema must be exactly the one this code was written for."""
    latest = known_migrations()[-1].version
    version = await current_version(conn)
    if version > latest:
        raise DatabaseNewerThanCode(
            f"database schema is at version {version}, this code knows up to {latest}"
        )
    if version < latest:
        raise SchemaOutOfDate(
            f"database schema is at version {version}, this code needs {latest}: "
            "run `hotline migrate`"
        )
