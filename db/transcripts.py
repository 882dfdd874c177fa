"""Transcription jobs in PostgreSQL: claimed with ``FOR UPDATE SKIP LOCKED`` under a lease so
several instances share the work; results stored on the ticket with its suggestion, a timeline
event and a ``NOTIFY hotline_events`` in the same transaction (the operator's screen pop)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import asyncpg

from db.errors import UNAVAILABLE, DatabaseError, DatabaseUnavailable
from db.listen import CHANNEL as EVENTS_CHANNEL
from speech.service import TranscriptionJob
from speech.suggest import Suggestion
from speech.transcript import TranscriptResult
from tickets.events import EventKind

logger = logging.getLogger(__name__)

JOBS_CHANNEL = "hotline_speech_jobs"

_CLAIM = """
UPDATE transcription_jobs j
SET status = 'running', attempts = j.attempts + 1, claimed_by = $1,
    lease_until = clock_timestamp() + make_interval(secs => $2)
FROM tickets t
WHERE t.id = j.ticket_id AND j.id = (
    SELECT id FROM transcription_jobs
    WHERE (status = 'pending' AND not_before <= clock_timestamp())
       OR (status = 'running' AND lease_until < clock_timestamp())
    ORDER BY id
    FOR UPDATE SKIP LOCKED
    LIMIT 1
)
RETURNING j.id, j.ticket_id, t.code, t.line, j.purpose, j.audio_path, j.attempts
"""

# A claim is named by (id, attempts, claimed_by): every write of the claim names all three, so
# once its lease ran out and another worker claimed the job, the first one changes nothing.
_FINISH_JOB = """
UPDATE transcription_jobs
SET status = $4, finished_at = clock_timestamp(), lease_until = NULL,
    last_error = coalesce($5, last_error),
    audio_seconds = $6, decode_seconds = $7, model = $8, archive_owed = $9
WHERE id = $1 AND attempts = $2 AND claimed_by = $3 AND status = 'running'
RETURNING ticket_id
"""

_RETRY = """
UPDATE transcription_jobs
SET status = 'pending', last_error = $4, lease_until = NULL,
    not_before = clock_timestamp() + make_interval(secs => $5)
WHERE id = $1 AND attempts = $2 AND claimed_by = $3 AND status = 'running'
"""

# Given back without using an attempt (the instance stops).
_RELEASE = """
UPDATE transcription_jobs SET status = 'pending', attempts = attempts - 1, lease_until = NULL
WHERE id = $1 AND attempts = $2 AND claimed_by = $3 AND status = 'running'
"""

_EXTEND = """
UPDATE transcription_jobs j
SET lease_until = clock_timestamp() + make_interval(secs => $4)
FROM unnest($1::bigint[], $2::integer[]) AS h(id, attempts)
WHERE j.id = h.id AND j.attempts = h.attempts AND j.claimed_by = $3 AND j.status = 'running'
RETURNING j.id
"""

_TICKET_DONE = """
UPDATE tickets
SET transcript = $2, transcript_words = $3::jsonb, transcript_model = $4,
    transcript_status = 'done', transcript_audio_seconds = $5, transcript_decode_seconds = $6,
    updated_at = now()
WHERE id = $1
"""

# The archive copy comes after the transcript (written off the decoding workers).
_ARCHIVED = """
UPDATE transcription_jobs
SET archive_path = $3, last_error = coalesce($4, last_error), archive_owed = false
WHERE id = $1 AND attempts = $2 AND status = 'done'
RETURNING ticket_id
"""

# Copies owed by any instance (one that stopped before writing them, or this one): a copy
# written twice (two instances starting at once) is the same file, renamed into place.
_OWED = """
SELECT j.id, j.ticket_id, t.code, t.line, j.purpose, j.audio_path, j.attempts
FROM transcription_jobs j JOIN tickets t ON t.id = j.ticket_id
WHERE j.archive_owed AND j.status = 'done'
ORDER BY j.id
"""

_SUGGESTION = """
INSERT INTO ticket_suggestions (ticket_id, topic, category, agency_code, score, confidence,
                                matched)
VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)
ON CONFLICT (ticket_id) DO UPDATE
SET topic = EXCLUDED.topic, category = EXCLUDED.category, agency_code = EXCLUDED.agency_code,
    score = EXCLUDED.score, confidence = EXCLUDED.confidence, matched = EXCLUDED.matched,
    created_at = now()
"""

_EVENT = """
INSERT INTO ticket_events (ticket_id, actor, kind, data) VALUES ($1, 'speech', $2, $3::jsonb)
"""


def _job(row: asyncpg.Record) -> TranscriptionJob:
    return TranscriptionJob(
        id=row["id"],
        ticket_id=row["ticket_id"],
        ticket_code=row["code"],
        line=row["line"],
        purpose=row["purpose"],
        audio_path=Path(row["audio_path"]),
        attempts=row["attempts"],
    )


class PostgresTranscriptionJobs:
    """The ``TranscriptionJobs`` port on asyncpg."""

    def __init__(self, pool: asyncpg.Pool, *, instance: str) -> None:
        self._pool = pool
        self._instance = instance
        self._work = asyncio.Event()
        self._listener: Any = None

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except UNAVAILABLE as err:
            raise DatabaseUnavailable(f"{type(err).__name__}: {err}") from err
        except asyncpg.PostgresError as err:
            raise DatabaseError(f"{type(err).__name__}: {err}") from err

    async def start(self) -> None:
        """LISTEN for new jobs on a dedicated connection (polling still runs as a fallback)."""
        self._listener = await self._call(self._pool.acquire())
        await self._call(self._listener.add_listener(JOBS_CHANNEL, self._notified))

    def _notified(self, *_: object) -> None:
        self._work.set()

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(Exception):
                await listener.remove_listener(JOBS_CHANNEL, self._notified)
            await self._pool.release(listener)

    async def wait_for_work(self, within: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._work.wait(), within)
        self._work.clear()

    async def claim(self, lease_seconds: float) -> TranscriptionJob | None:
        row = await self._call(self._pool.fetchrow(_CLAIM, self._instance, lease_seconds))
        return None if row is None else _job(row)

    async def extend(self, jobs: Sequence[TranscriptionJob], lease_seconds: float) -> set[int]:
        if not jobs:
            return set()
        rows = await self._call(
            self._pool.fetch(
                _EXTEND,
                [job.id for job in jobs],
                [job.attempts for job in jobs],
                self._instance,
                lease_seconds,
            )
        )
        return {r["id"] for r in rows}

    async def complete(
        self,
        job: TranscriptionJob,
        result: TranscriptResult,
        suggestion: Suggestion | None,
        *,
        archive: bool,
    ) -> bool:
        words = json.dumps([w.to_json() for w in result.words], ensure_ascii=False)
        async with self._pool.acquire() as conn, conn.transaction():
            ticket_id = await self._call(
                conn.fetchval(
                    _FINISH_JOB,
                    job.id,
                    job.attempts,
                    self._instance,
                    "done",
                    None,
                    result.audio_seconds,
                    result.decode_seconds,
                    result.model,
                    archive,
                )
            )
            if ticket_id is None:
                return False  # the lease ran out and another worker took the job over
            await self._call(
                conn.execute(
                    _TICKET_DONE,
                    ticket_id,
                    result.text,
                    words,
                    result.model,
                    result.audio_seconds,
                    result.decode_seconds,
                )
            )
            data: dict[str, Any] = {
                "purpose": job.purpose,
                "words": len(result.words),
                "audio_seconds": result.audio_seconds,
                "model": result.model,
            }
            if suggestion is not None:
                await self._call(
                    conn.execute(
                        _SUGGESTION,
                        ticket_id,
                        suggestion.topic,
                        suggestion.category.value,
                        suggestion.agency,
                        suggestion.score,
                        suggestion.confidence,
                        json.dumps(list(suggestion.matched), ensure_ascii=False),
                    )
                )
                data["suggestion"] = {
                    "category": suggestion.category.value,
                    "agency": suggestion.agency,
                    "confidence": suggestion.confidence,
                }
            await self._event(conn, job, EventKind.TRANSCRIPT, data, "done")
        return True

    async def fail(self, job: TranscriptionJob, error: str) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            ticket_id = await self._call(
                conn.fetchval(
                    _FINISH_JOB,
                    job.id,
                    job.attempts,
                    self._instance,
                    "failed",
                    error,
                    None,
                    None,
                    None,
                    False,
                )
            )
            if ticket_id is None:
                return
            await self._call(
                conn.execute(
                    "UPDATE tickets SET transcript_status = 'failed', updated_at = now()"
                    " WHERE id = $1",
                    ticket_id,
                )
            )
            data = {"purpose": job.purpose, "error": error, "attempts": job.attempts}
            await self._event(conn, job, EventKind.TRANSCRIPT_FAILED, data, "failed")

    async def retry(self, job: TranscriptionJob, error: str, delay_seconds: float) -> None:
        await self._call(
            self._pool.execute(
                _RETRY,
                job.id,
                job.attempts,
                self._instance,
                error,
                delay_seconds,
            )
        )

    async def release(self, jobs: Sequence[TranscriptionJob]) -> None:
        """Give jobs this instance holds but did not finish back, without using an attempt."""
        if not jobs:
            return
        await self._call(
            self._pool.executemany(
                _RELEASE,
                [(job.id, job.attempts, self._instance) for job in jobs],
            )
        )

    async def owed_archives(self) -> list[TranscriptionJob]:
        return [_job(row) for row in await self._call(self._pool.fetch(_OWED))]

    async def archived(
        self, job: TranscriptionJob, archive_path: str | None, error: str | None
    ) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            ticket_id = await self._call(
                conn.fetchval(_ARCHIVED, job.id, job.attempts, archive_path, error)
            )
            if ticket_id is None or archive_path is None:
                return
            await self._call(
                conn.execute(
                    "UPDATE tickets SET transcript_archive = $2 WHERE id = $1",
                    ticket_id,
                    archive_path,
                )
            )
            await self._notify(conn, job, "done")

    async def _event(
        self,
        conn: Any,
        job: TranscriptionJob,
        kind: EventKind,
        data: dict[str, Any],
        status: str,
    ) -> None:
        await self._call(conn.execute(_EVENT, job.ticket_id, kind, json.dumps(data)))
        await self._notify(conn, job, status)

    async def _notify(self, conn: Any, job: TranscriptionJob, status: str) -> None:
        payload = {
            "topic": "tickets",
            "kind": "transcript",
            "ticket_id": job.ticket_id,
            "code": job.ticket_code,
            "transcript_status": status,
        }
        await self._call(
            conn.execute("SELECT pg_notify($1, $2)", EVENTS_CHANNEL, json.dumps(payload))
        )
