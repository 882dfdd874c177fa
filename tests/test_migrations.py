"""Numbered migrations: applied once each, recorded, and a newer database is refused."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg
import pytest

from db.errors import DatabaseNewerThanCode, SchemaOutOfDate
from db.migrations import MIGRATION_LOCK, NO_TRANSACTION, check_schema, known_migrations, migrate


async def test_given_a_migrated_database_when_migrate_runs_again_then_nothing_is_applied(
    db: asyncpg.Connection,
) -> None:
    assert await migrate(db) == []
    versions = [r["version"] for r in await db.fetch("SELECT version FROM schema_migrations")]
    assert versions == [m.version for m in known_migrations()]
    await check_schema(db)


async def test_given_an_empty_database_when_migrated_then_every_table_exists(
    db: asyncpg.Connection,
) -> None:
    await db.execute("CREATE SCHEMA fresh; SET search_path TO fresh")

    applied = await migrate(db)

    assert [m.version for m in applied] == [m.version for m in known_migrations()]
    tables = {
        r["tablename"]
        for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'fresh'")
    }
    assert {
        "calls",
        "tickets",
        "ticket_events",
        "users",
        "auth_tokens",
        "schema_migrations",
    } <= tables


async def test_given_a_database_newer_than_the_code_when_starting_then_it_is_refused(
    db: asyncpg.Connection,
) -> None:
    await db.execute("INSERT INTO schema_migrations (version, name) VALUES (999, 'future')")

    with pytest.raises(DatabaseNewerThanCode, match="999"):
        await migrate(db)
    with pytest.raises(DatabaseNewerThanCode):
        await check_schema(db)


async def test_given_a_database_behind_the_code_when_checked_without_migrating_then_it_says_run_migrate(
    db: asyncpg.Connection,
) -> None:
    await db.execute(
        "DELETE FROM schema_migrations WHERE version = $1", known_migrations()[-1].version
    )

    with pytest.raises(SchemaOutOfDate, match="hotline migrate"):
        await check_schema(db)


async def test_given_a_failing_migration_when_applied_then_its_transaction_leaves_nothing_behind(
    db: asyncpg.Connection,
) -> None:
    await db.execute("CREATE SCHEMA broken; SET search_path TO broken")
    await db.execute("CREATE TABLE users (id int)")  # 0001 will collide with it

    with pytest.raises(asyncpg.DuplicateTableError):
        await migrate(db)

    tables = {
        r["tablename"]
        for r in await db.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'broken'")
    }
    assert tables == {"users", "schema_migrations"}
    assert await db.fetchval("SELECT count(*) FROM broken.schema_migrations") == 0


def _write_migrations(folder: Path, index_sql: str) -> None:
    folder.mkdir()
    (folder / "0001_log.sql").write_text(
        "CREATE TABLE call_log (id bigint PRIMARY KEY, caller text NOT NULL);\n"
        "INSERT INTO call_log SELECT n, '+8490' || n FROM generate_series(1, 1000) AS n;\n",
        encoding="utf-8",
    )
    (folder / "0002_log_caller.sql").write_text(index_sql, encoding="utf-8")


CONCURRENT_INDEX = "CREATE INDEX CONCURRENTLY IF NOT EXISTS call_log_caller ON call_log (caller);\n"
# the migration lock (a constant below 2**32: classid 0, objid the key) held by this session
ADVISORY_HELD = f"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND objid = {MIGRATION_LOCK}"  # noqa: S608 (a constant)


async def test_given_no_transaction_migrations_when_migrated_then_the_index_is_built_concurrently_under_the_lock_and_recorded(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    await db.execute("CREATE SCHEMA fresh; SET search_path TO fresh")
    folder = tmp_path / "migrations"
    _write_migrations(
        folder,
        f"{NO_TRANSACTION}\n-- a large table: calls are stored meanwhile\n{CONCURRENT_INDEX}",
    )
    (folder / "0003_lock_seen.sql").write_text(
        f"{NO_TRANSACTION}\nCREATE TABLE lock_seen AS {ADVISORY_HELD.replace('count(*)', 'count(*) AS held')};\n",
        encoding="utf-8",
    )
    migrations = known_migrations(folder)
    assert [m.transactional for m in migrations] == [True, False, False]

    applied = await migrate(db, migrations)

    assert [m.name for m in applied] == ["log", "log_caller", "lock_seen"]
    valid = await db.fetchval(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE c.relname = 'call_log_caller' AND n.nspname = 'fresh'"
    )
    assert valid is True
    assert await db.fetchval("SELECT held FROM lock_seen") == 1, "ran without the migration lock"
    assert await db.fetchval(ADVISORY_HELD) == 0, "the migration lock was not released"
    rows = await db.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    assert [tuple(r) for r in rows] == [(1, "log"), (2, "log_caller"), (3, "lock_seen")]
    assert await migrate(db, migrations) == []


async def test_given_a_concurrent_index_without_the_opt_out_when_migrated_then_it_fails_and_is_not_recorded(
    db: asyncpg.Connection, tmp_path: Path
) -> None:
    await db.execute("CREATE SCHEMA fresh; SET search_path TO fresh")
    folder = tmp_path / "migrations"
    _write_migrations(folder, CONCURRENT_INDEX)

    with pytest.raises(asyncpg.ActiveSQLTransactionError, match="transaction block"):
        await migrate(db, known_migrations(folder))

    versions = [r["version"] for r in await db.fetch("SELECT version FROM schema_migrations")]
    assert versions == [1]


async def test_given_calls_made_from_the_queue_before_0009_when_migrated_then_they_are_marked_as_such(
    db: asyncpg.Connection,
) -> None:
    await db.execute("CREATE SCHEMA old; SET search_path TO old")
    origin = next(m for m in known_migrations() if m.name == "call_origin")
    await migrate(db, known_migrations()[: origin.version - 1])
    ticket = await db.fetchval(
        "INSERT INTO tickets (code, line, category, caller_raw)"
        " VALUES ('1022-26-000001', '1022', 'unclassified', '0901234567') RETURNING id"
    )
    for uniqueid, first in (("1.1", "seen_in_queue"), ("1.2", "call_started")):
        await db.execute(
            "INSERT INTO calls (uniqueid, linkedid, line, channel, caller_raw, started_at,"
            " ivr_path, disposition, version, ticket_id)"
            " VALUES ($1, $1, '1022', '', '0901234567', now(), $2, 'fallback', 2, $3)",
            uniqueid,
            json.dumps([{"at": "2026-01-01T00:00:00+00:00", "step": first}]),
            ticket,
        )

    applied = await migrate(db, known_migrations()[: origin.version])  # later ones may follow

    assert [m.version for m in applied] == [origin.version]

    rows = await db.fetch("SELECT uniqueid, origin FROM calls ORDER BY uniqueid")
    assert [(r["uniqueid"], r["origin"]) for r in rows] == [("1.1", "queue"), ("1.2", "ivr")]
