"""Numbered migrations: applied once each, recorded, and a newer database is refused."""

from __future__ import annotations

import asyncpg
import pytest

from db.errors import DatabaseNewerThanCode, SchemaOutOfDate
from db.migrations import check_schema, known_migrations, migrate


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
