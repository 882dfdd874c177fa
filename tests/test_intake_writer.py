"""Group commit of call snapshots (``ivr.writer``) on real PostgreSQL: snapshots waiting together
are stored in one transaction (the rows share their ``xmin``), the newest version of a call
wins, codes stay gap-free, one bad snapshot does not take its batch down, and a batch whose
connection is killed mid-transaction loses nothing and stores nothing twice."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from db.errors import DataRefused
from db.intake import PostgresIntakeRepository
from ivr.recorder import MAX_TIMEOUTS, IntakeRecorder
from ivr.spool import IntakeSpool
from ivr.writer import GroupCommitWriter
from runtime.metrics import Metrics
from tests.support.live import eventually
from tickets.errors import SnapshotRefused
from tickets.events import EventKind
from tickets.intake import CallIntake
from tickets.model import CallDisposition, Category, Line

START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def started(n: int, caller: str = "0901234567", at: datetime | None = None) -> CallIntake:
    uniqueid = f"1790000000.{n}"
    return CallIntake(
        uniqueid=uniqueid,
        linkedid=uniqueid,
        line=Line.CITIZEN,
        caller_raw=caller,
        channel=f"PJSIP/telco-{n:08x}",
        started_at=at or START + timedelta(milliseconds=n),
        category=Category.UNCLASSIFIED,
        queue="hotline-1022",
    ).step(EventKind.CALL_STARTED, {"caller": caller, "line": "1022"})


def chose(call: CallIntake) -> CallIntake:
    return call.step(EventKind.MENU_CHOICE, {"digit": "3"}, category=Category.INFORMATION)


def queued(call: CallIntake) -> CallIntake:
    return call.step(
        EventKind.TO_QUEUE,
        {"queue": "hotline-1022"},
        disposition=CallDisposition.QUEUED,
        ended_at=call.started_at + timedelta(seconds=30),
    )


@pytest.fixture
async def writer(pool: asyncpg.Pool) -> AsyncIterator[GroupCommitWriter]:
    async with GroupCommitWriter(PostgresIntakeRepository(pool)) as running:
        yield running


async def numbers(db: asyncpg.Connection) -> list[int]:
    codes = await db.fetch("SELECT t.code FROM tickets t ORDER BY t.created_at")
    return [int(r["code"].rsplit("-", 1)[1]) for r in codes]


async def test_given_snapshots_of_many_calls_waiting_together_when_written_then_they_share_one_transaction_and_codes_follow_the_start_order(
    writer: GroupCommitWriter, db: asyncpg.Connection
) -> None:
    calls = [started(n) for n in range(40)]

    codes = await asyncio.gather(*(writer.save(call) for call in reversed(calls)))

    assert len(set(codes)) == 40
    assert all(re.fullmatch(r"1022-26-\d{6}", code) for code in codes)
    transactions = await db.fetchval("SELECT count(DISTINCT xmin::text) FROM calls")
    assert transactions < 40  # the per-step writer makes one per call
    assert await numbers(db) == list(range(1, 41))  # gap-free, in the order calls started
    assert await db.fetchval("SELECT count(*) FROM ticket_events") == 40


async def test_given_snapshots_waiting_together_when_written_then_metrics_count_each_transaction_and_its_size(
    pool: asyncpg.Pool, db: asyncpg.Connection
) -> None:
    metrics = Metrics()
    async with GroupCommitWriter(PostgresIntakeRepository(pool), metrics=metrics) as writer:
        await asyncio.gather(*(writer.save(started(n)) for n in range(40)))

    figure = metrics.registry.get_sample_value
    transactions = await db.fetchval("SELECT count(DISTINCT xmin::text) FROM calls")
    assert figure("hotline_save_batch_size_count") == transactions < 40
    assert figure("hotline_save_batch_size_sum") == 40
    assert figure("hotline_save_seconds_count") == transactions


async def test_given_a_lone_snapshot_when_saved_then_it_is_stored_at_once_and_later_batches_continue_the_numbering(
    writer: GroupCommitWriter, db: asyncpg.Connection
) -> None:
    assert await writer.save(started(1)) == "1022-26-000001"
    await asyncio.gather(*(writer.save(started(n)) for n in range(2, 6)))
    assert await writer.save(queued(chose(started(1)))) == "1022-26-000001"

    assert await numbers(db) == [1, 2, 3, 4, 5]
    row = await db.fetchrow(
        "SELECT version, disposition FROM calls WHERE uniqueid = '1790000000.1'"
    )
    assert row is not None
    assert (row["version"], row["disposition"]) == (4, "queued")


async def test_given_several_versions_of_one_call_waiting_when_written_then_the_newest_is_stored_and_every_save_gets_the_code(
    writer: GroupCommitWriter, db: asyncpg.Connection
) -> None:
    first = started(7)
    versions = [first, chose(first), queued(chose(first))]
    await writer.save(started(8))  # the writer is idle: the next saves wait together

    codes = await asyncio.gather(*(writer.save(v) for v in (versions[1], versions[2], first)))

    assert len(set(codes)) == 1
    row = await db.fetchrow(
        "SELECT c.version, c.disposition, t.category FROM calls c"
        " JOIN tickets t ON t.id = c.ticket_id WHERE uniqueid = '1790000000.7'"
    )
    assert row is not None
    assert (row["version"], row["disposition"]) == (4, "queued")
    assert row["category"] == "information"
    kinds = await db.fetch(
        "SELECT kind FROM ticket_events e JOIN calls c ON c.id = e.call_id"
        " WHERE c.uniqueid = '1790000000.7' ORDER BY call_seq"
    )
    assert [k["kind"] for k in kinds] == ["call_started", "menu_choice", "to_queue"]


async def test_given_a_snapshot_the_database_cannot_hold_in_a_batch_when_written_then_only_it_is_refused(
    writer: GroupCommitWriter, db: asyncpg.Connection
) -> None:
    good = [started(n) for n in range(5)]
    bad = started(9, caller="0901\x00234567")

    results = await asyncio.gather(
        *(writer.save(call) for call in (*good, bad)), return_exceptions=True
    )

    assert all(isinstance(code, str) for code in results[:5])
    assert isinstance(results[5], DataRefused)
    stored = await db.fetch("SELECT uniqueid FROM calls ORDER BY uniqueid")
    assert [r["uniqueid"] for r in stored] == [c.uniqueid for c in good]
    assert await numbers(db) == [1, 2, 3, 4, 5]


async def test_given_another_session_under_a_uniqueid_in_the_same_batch_when_written_then_it_is_refused_and_the_first_stays(
    writer: GroupCommitWriter, db: asyncpg.Connection
) -> None:
    await writer.save(started(1))  # the writer is idle: the next saves wait together
    own = started(2)
    intruder = queued(started(2, caller="0912345678", at=START + timedelta(minutes=5)))

    results = await asyncio.gather(
        writer.save(own), writer.save(intruder), writer.save(chose(own)), return_exceptions=True
    )

    assert isinstance(results[1], SnapshotRefused)
    assert results[0] == results[2]
    row = await db.fetchrow("SELECT caller_raw, version FROM calls WHERE uniqueid = '1790000000.2'")
    assert row is not None
    assert (row["caller_raw"], row["version"]) == ("0901234567", 3)


async def test_given_the_writers_connection_killed_mid_batch_when_the_spool_is_replayed_then_every_call_is_stored_once_and_none_is_lost(
    pool: asyncpg.Pool, db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    """The batch of the running calls' next steps holds its locks and has begun writing (the
    calls' UPDATE waits on one row another transaction holds) when its backend is terminated:
    the transaction is gone, every snapshot in it is spooled by the recorder, and the replay
    stores each call exactly once. The new calls went in the other lane's batch meanwhile."""
    spool = IntakeSpool(tmp_path / "spool")
    async with GroupCommitWriter(PostgresIntakeRepository(pool)) as writer:
        recorder = IntakeRecorder(writer, spool, timeout=5.0, retry_interval=0.1)
        running = [started(n) for n in range(20)]
        assert None not in await asyncio.gather(*(recorder.save(call) for call in running))
        newer = [queued(chose(call)) for call in running]
        fresh = [queued(started(n)) for n in range(100, 110)]

        blocker = await asyncpg.connect(database_url)
        try:
            await blocker.execute("BEGIN")
            await blocker.execute(
                "SELECT 1 FROM calls WHERE uniqueid = $1 FOR UPDATE", running[-1].uniqueid
            )
            saving = asyncio.gather(*(recorder.save(call) for call in (*newer, *fresh)))
            async with asyncio.timeout(10):
                while (
                    pid := await db.fetchval(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                ) is None:
                    await asyncio.sleep(0.01)
            assert await db.fetchval("SELECT pg_terminate_backend($1)", pid)
            results = await saving
        finally:
            await blocker.execute("ROLLBACK")
            await blocker.close()

        assert results[:20] == [None] * 20  # the batch failed as a whole: all of it spooled
        assert None not in results[20:]  # the new calls' batch was not held up
        assert len(spool.pending()) == 20
        stored = await db.fetch(
            "SELECT version FROM calls WHERE uniqueid = ANY($1)", [c.uniqueid for c in running]
        )
        assert [row["version"] for row in stored] == [running[0].version] * 20  # as before
        assert await recorder.replay() == 20

    assert spool.pending() == []
    assert list(spool.rejected.iterdir()) == []
    rows = await db.fetch(
        "SELECT c.uniqueid, c.version, c.disposition, count(DISTINCT t.id) AS tickets,"
        " count(e.id) AS events, count(DISTINCT e.call_seq) AS steps"
        " FROM calls c JOIN tickets t ON t.id = c.ticket_id"
        " LEFT JOIN ticket_events e ON e.call_id = c.id GROUP BY c.uniqueid, c.version,"
        " c.disposition ORDER BY c.uniqueid"
    )
    expected = {call.uniqueid: call for call in (*newer, *fresh)}
    assert {r["uniqueid"] for r in rows} == set(expected)
    for row in rows:
        call = expected[row["uniqueid"]]
        assert (row["version"], row["disposition"]) == (call.version, "queued")
        assert (row["tickets"], row["events"], row["steps"]) == (
            1,
            len(call.events),
            len(call.events),
        )
    assert await db.fetchval("SELECT count(*) FROM tickets") == 30
    assert sorted(await numbers(db)) == list(
        range(1, 31)
    )  # the killed batch's numbers were given back


@asynccontextmanager
async def numbering_held(database_url: str, db: asyncpg.Connection) -> AsyncIterator[None]:
    """Another transaction holds 1022's ticket numbering: every new 1022 ticket waits."""
    await db.execute(
        "INSERT INTO ticket_counters (line, year, last) VALUES ('1022', 2026, 0)"
        " ON CONFLICT DO NOTHING"
    )
    blocker = await asyncpg.connect(database_url)
    try:
        await blocker.execute("BEGIN")
        await blocker.execute("SELECT * FROM ticket_counters WHERE line = '1022' FOR UPDATE")
        yield
    finally:
        await blocker.execute("ROLLBACK")
        await blocker.close()


async def test_given_a_save_stored_after_the_turns_wait_when_it_commits_then_its_spool_file_goes_without_a_replay(
    writer: GroupCommitWriter, db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    spool = IntakeSpool(tmp_path / "spool")
    recorder = IntakeRecorder(writer, spool, timeout=10.0, retry_interval=60.0)
    call = started(1)
    async with numbering_held(database_url, db):
        assert await recorder.save(call) is None  # not stored within the turn's wait: spooled
        assert len(spool.pending()) == 1

    await eventually(lambda: not spool.pending())  # stored in the background, file removed
    assert await db.fetchval("SELECT version FROM calls") == call.version
    assert await recorder.save(chose(call)) == "1022-26-000001"  # the call saves again
    await recorder.close()


async def test_given_saves_timing_out_while_other_saves_are_stored_when_the_next_call_saves_then_the_database_is_not_taken_for_down(
    pool: asyncpg.Pool, db: asyncpg.Connection, database_url: str, tmp_path: Path
) -> None:
    spool = IntakeSpool(tmp_path / "spool")
    async with GroupCommitWriter(PostgresIntakeRepository(pool)) as writer:
        recorder = IntakeRecorder(writer, spool, timeout=1.0, retry_interval=60.0)
        await recorder.save(started(1))  # the call numbered before the numbering is held
        async with numbering_held(database_url, db):
            held_up = asyncio.gather(
                *(recorder.save(started(n)) for n in range(2, 2 + MAX_TIMEOUTS))
            )
            await asyncio.sleep(0.05)  # their batch is in flight
            # held up by nothing: stored meanwhile, in the next batch
            assert await recorder.save(chose(started(1))) == "1022-26-000001"
            assert await held_up == [None] * MAX_TIMEOUTS
            await eventually(lambda: not recorder._saves, seconds=5)  # the held-up ones timed out

        # MAX_TIMEOUTS saves timed out in a row, but not with the database idle: it is not down
        assert await recorder.save(queued(chose(started(1)))) == "1022-26-000001"
        await recorder.close()


async def test_given_a_snapshot_nobody_waits_for_any_more_when_the_next_batch_is_taken_then_it_is_left_out(
    writer: GroupCommitWriter, db: asyncpg.Connection, database_url: str
) -> None:
    async with numbering_held(database_url, db):
        first = asyncio.create_task(writer.save(started(1)))  # in flight, held up
        await asyncio.sleep(0.05)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(writer.save(started(2)), 0.01)  # its caller gave up
        third = asyncio.create_task(writer.save(started(3)))
    assert [await first, await third] == ["1022-26-000001", "1022-26-000002"]
    stored = await db.fetch("SELECT uniqueid FROM calls ORDER BY uniqueid")
    assert [r["uniqueid"] for r in stored] == ["1790000000.1", "1790000000.3"]
