"""The local spool under the IVR: a file that cannot be stored never blocks the others (it goes
to ``rejected/``, logged), writing a snapshot never raises, and the disk is never waited on
from the event loop. Real files, real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from db.intake import PostgresIntakeRepository
from ivr.recorder import IntakeRecorder
from ivr.spool import IntakeSpool
from tickets.events import EventKind
from tickets.intake import CallIntake
from tickets.model import CallDisposition, Category, Line


def snapshot(uniqueid: str, caller: str = "0901234567") -> CallIntake:
    return (
        CallIntake(
            uniqueid=uniqueid,
            linkedid=uniqueid,
            line=Line.CITIZEN,
            caller_raw=caller,
            channel="PJSIP/telco-00000001",
            started_at=datetime.now(UTC),
            category=Category.INFORMATION,
        )
        .step(EventKind.CALL_STARTED, {"caller": caller, "line": "1022"})
        .step(EventKind.TO_QUEUE, disposition=CallDisposition.QUEUED, ended_at=datetime.now(UTC))
    )


def recorder_for(pool: asyncpg.Pool, spool: IntakeSpool) -> IntakeRecorder:
    return IntakeRecorder(PostgresIntakeRepository(pool), spool, timeout=2.0, retry_interval=0.1)


def aged(path: Path, seconds_ago: float) -> None:
    """Oldest first is the replay order: make ``path`` come before the others."""
    now = datetime.now(UTC).timestamp()
    os.utime(path, (now - seconds_ago, now - seconds_ago))


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b'{"uniqueid": "1.1", "version": 3}', "KeyError"),  # an older format, fields missing
        (b'{"uniqueid": "1.1", "line": "1022", "trun', "JSONDecodeError"),  # cut short
        (b"\xff\xfe not even text", "UnicodeDecodeError"),
        (json.dumps(snapshot("1.1", caller="0901\x00234567").to_json()).encode(), "DataRefused"),
    ],
)
async def test_given_a_spool_file_that_cannot_be_stored_when_replayed_then_it_is_moved_aside_and_the_others_are_stored(
    pool: asyncpg.Pool,
    db: asyncpg.Connection,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    content: bytes,
    why: str,
) -> None:
    spool = IntakeSpool(tmp_path / "spool")
    recorder = recorder_for(pool, spool)
    good = [snapshot(f"1790000000.{n}") for n in range(3)]
    for intake in good:
        assert spool.put(intake)
    bad = spool.directory / "1.1.json"
    bad.write_bytes(content)
    aged(bad, 60)

    assert await recorder.replay() == 3
    assert await recorder.replay() == 0  # nothing left to retry

    stored = await db.fetch("SELECT uniqueid FROM calls ORDER BY uniqueid")
    assert [r["uniqueid"] for r in stored] == [i.uniqueid for i in good]
    assert list(spool.directory.glob("*.json")) == []
    (kept,) = spool.rejected.iterdir()
    assert kept.read_bytes() == content
    assert why in caplog.text
    assert "moved to" in caplog.text


async def test_given_the_spool_folder_is_gone_when_a_snapshot_is_spooled_then_nothing_raises_and_the_snapshot_is_in_the_log(
    pool: asyncpg.Pool, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool = IntakeSpool(tmp_path / "spool")
    recorder = recorder_for(pool, spool)
    shutil.rmtree(spool.directory)
    spool.directory.write_text("a file where the spool folder was")
    intake = snapshot("1790000000.9", caller="0987654321")

    await recorder.spool(intake)

    (record,) = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "could not be stored nor spooled" in record.getMessage()
    logged = json.loads(record.getMessage().split("snapshot: ", 1)[1])
    assert CallIntake.from_json(logged) == intake


async def test_given_an_unreadable_file_where_a_call_is_spooled_when_its_next_snapshot_comes_then_it_is_written(
    tmp_path: Path,
) -> None:
    spool = IntakeSpool(tmp_path / "spool")
    intake = snapshot("1790000000.5")
    (spool.directory / "1790000000.5.json").write_text("{ half a snapshot")

    assert spool.put(intake)

    assert spool.get(spool.directory / "1790000000.5.json") == intake
    assert len(list(spool.rejected.iterdir())) == 1


async def test_given_the_disk_blocks_when_a_snapshot_is_spooled_then_the_event_loop_keeps_serving(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    """A FIFO where the call's spool file goes: opening it blocks like a stalled disk until a
    writer comes. The event loop must go on meanwhile (other calls' commands, HTTP)."""
    spool = IntakeSpool(tmp_path / "spool")
    recorder = recorder_for(pool, spool)
    intake = snapshot("1790000000.7")
    fifo = spool.directory / "1790000000.7.json"
    os.mkfifo(fifo)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    ticker = asyncio.create_task(tick())
    spooling = asyncio.create_task(recorder.spool(intake))
    await asyncio.sleep(0.5)
    try:
        assert not spooling.done()  # the write is blocked on the "disk"...
        assert ticks >= 10  # ...while the loop keeps running
    finally:

        def unblock() -> None:
            with fifo.open("w") as fh:
                fh.write("not a snapshot")

        await asyncio.to_thread(unblock)
        await asyncio.wait_for(spooling, 5)
        ticker.cancel()
    assert spool.get(spool.directory / "1790000000.7.json") == intake
