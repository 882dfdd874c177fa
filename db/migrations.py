"""Numbered SQL migrations (``migrations/NNNN_name.sql``), each applied in its own transaction
and recorded in ``schema_migrations``; an advisory lock keeps two instances from racing."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db.errors import DatabaseNewerThanCode, SchemaOutOfDate

logger = logging.getLogger(__name__)

Connection = asyncpg.Connection | PoolConnectionProxy
MIGRATION_LOCK = 0x686F746C  # "hotl"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def known_migrations() -> list[Migration]:
    found = []
    for entry in resources.files("db").joinpath("migrations").iterdir():
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


async def migrate(conn: Connection) -> list[Migration]:
    """Apply what is pending; refuse a database that is newer than this code."""
    migrations = known_migrations()
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
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            logger.info("applied migration %04d_%s", migration.version, migration.name)
            applied.append(migration)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


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
