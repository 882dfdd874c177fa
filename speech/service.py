"""Transcription of callers' recordings, off the call path.

The IVR never waits for this: a recording saved on a ticket becomes a job in the database; a
claimer takes jobs into a bounded local queue (when it is full the claimer stops claiming, so
other instances take the rest: backpressure), consumers hand them to the worker pool, and the
result (transcript, word times, suggestion) is stored on the ticket. Errors: unreadable audio
fails the job at once (the recording stays for the operator); anything else is retried after
``retry_delay`` seconds, up to ``max_attempts``. A claimed job is leased: while this instance
holds it (queued here or decoding) a heartbeat renews the lease every third of it, so a long
queue or a long recording never lets another instance take the job over; a job whose lease was
lost anyway (the database out of reach longer than the lease) is dropped here, and whatever this
instance would still write for it changes nothing (``TranscriptionJobs`` checks the claim).
The archive copy of a transcribed recording (mp3/ogg) is written after the transcript is stored,
by a task of its own (``run_archiver``), never by the decoding workers. The copies wait in
memory, and the database knows which are owed (stored with the transcript): at its start the
archiver takes up those an instance that stopped did not write.

Pure domain: the database and the worker pool are ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from runtime.logcontext import ticket_code
from runtime.metrics import Metrics
from speech.errors import AudioError
from speech.suggest import Suggester, Suggestion
from speech.transcript import TranscriptResult
from tickets.recordings import spool_relative

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TranscriptionJob:
    id: int
    ticket_id: int
    ticket_code: str
    line: str
    purpose: str  # "description" (1022 field report) or "location" (115 address)
    audio_path: Path  # as stored: relative to the recordings spool (``tickets.recordings``)
    attempts: int  # including the current one


class TranscriptionJobs(Protocol):
    async def claim(self, lease_seconds: float) -> TranscriptionJob | None: ...

    async def extend(self, jobs: Sequence[TranscriptionJob], lease_seconds: float) -> set[int]:
        """Renew the lease of jobs this instance claimed; the ids whose claim still holds."""
        ...

    async def wait_for_work(self, within: float) -> None:
        """Return when a job may be ready (a notification) or after ``within`` seconds."""
        ...

    async def complete(
        self,
        job: TranscriptionJob,
        result: TranscriptResult,
        suggestion: Suggestion | None,
        *,
        archive: bool,
    ) -> bool:
        """Store the transcript; ``archive``: an archive copy of the recording is owed."""
        ...

    async def fail(self, job: TranscriptionJob, error: str) -> None: ...

    async def retry(self, job: TranscriptionJob, error: str, delay_seconds: float) -> None: ...

    async def release(self, jobs: Sequence[TranscriptionJob]) -> None: ...

    async def owed_archives(self) -> list[TranscriptionJob]:
        """Done jobs whose archive copy is owed and not written yet (by any instance)."""
        ...

    async def archived(
        self, job: TranscriptionJob, archive_path: str | None, error: str | None
    ) -> None:
        """The archive copy of a done job's recording (relative to the spool), or why not."""
        ...


class Archiver(Protocol):
    async def archive(self, audio: Path) -> Path:
        """The compact copy written next to ``audio``; ``AudioError`` when it cannot be."""
        ...


class Transcriber(Protocol):
    async def transcribe(self, audio: Path) -> TranscriptResult:
        """Raises ``AudioError`` for audio that can never be decoded."""
        ...


class TranscriptionService:
    def __init__(
        self,
        jobs: TranscriptionJobs,
        transcriber: Transcriber,
        suggester: Suggester,
        *,
        recordings: Path,
        queue_size: int,
        max_attempts: int,
        retry_delay: float,
        lease_seconds: float,
        poll_interval: float,
        metrics: Metrics | None = None,
        archiver: Archiver | None = None,
    ) -> None:
        self._jobs = jobs
        self._metrics = metrics or Metrics()
        self._archiver = archiver
        self._to_archive: asyncio.Queue[TranscriptionJob] = asyncio.Queue()
        self._archive_queued: set[int] = set()  # ids of the jobs in ``_to_archive``
        self._transcriber = transcriber
        self._suggester = suggester
        self._recordings = recordings  # the spool the stored paths are relative to
        self._queue: asyncio.Queue[TranscriptionJob] = asyncio.Queue(queue_size)
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay
        self._lease = lease_seconds
        self._poll = poll_interval
        self._held: dict[int, TranscriptionJob] = {}  # claimed here, not finished yet

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    async def run_claimer(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                job = await self._jobs.claim(self._lease)
            except Exception as err:
                logger.warning(
                    "cannot claim transcription jobs (%s: %s); retrying in %.0f s",
                    type(err).__name__,
                    err,
                    self._poll,
                )
                await self._jobs.wait_for_work(self._poll)
                continue
            if job is None:
                await self._jobs.wait_for_work(self._poll)
                continue
            self._held[job.id] = job
            await self._queue.put(job)  # blocks while the queue is full: backpressure

    async def run_heartbeat(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._lease / 3)
            held = list(self._held.values())
            try:
                kept = await self._jobs.extend(held, self._lease)
            except Exception as err:
                logger.warning("cannot renew the lease of transcription jobs: %s", err)
                continue
            for job in held:
                if job.id not in kept and self._held.pop(job.id, None) is not None:
                    logger.warning(
                        "ticket %s: transcription job %d was taken over", job.ticket_code, job.id
                    )

    async def run_consumer(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            job = await self._queue.get()
            if job.id not in self._held:  # taken over while it waited here
                self._queue.task_done()
                continue
            try:
                await self.process(job)
            except Exception:
                # e.g. the database went away while storing: the lease brings the job back
                logger.exception(
                    "ticket %s: transcription job %d not finished", job.ticket_code, job.id
                )
            finally:
                self._held.pop(job.id, None)
                self._queue.task_done()

    async def process(self, job: TranscriptionJob) -> None:
        ticket_code.set(job.ticket_code)  # this consumer's log lines name the job's ticket
        try:
            result = await self._transcriber.transcribe(self._recordings / job.audio_path)
        except AudioError as err:
            logger.warning("ticket %s: recording cannot be transcribed: %s", job.ticket_code, err)
            await self._jobs.fail(job, str(err))
            return
        except asyncio.CancelledError:
            raise
        except Exception as err:
            error = f"{type(err).__name__}: {err}"
            if job.attempts >= self._max_attempts:
                logger.error(
                    "ticket %s: transcription failed after %d attempts: %s",
                    job.ticket_code,
                    job.attempts,
                    error,
                )
                await self._jobs.fail(job, error)
            else:
                logger.warning(
                    "ticket %s: transcription attempt %d failed (%s); retrying in %.0f s",
                    job.ticket_code,
                    job.attempts,
                    error,
                    self._retry_delay,
                )
                await self._jobs.retry(job, error, self._retry_delay)
            return
        self._metrics.decode_seconds.observe(result.decode_seconds)
        suggestion = None
        if job.purpose == "description" and result.text:
            suggestion = self._suggester.suggest(result.text)
        archive = self._archiver is not None
        if await self._jobs.complete(job, result, suggestion, archive=archive):
            if self._archiver is not None:
                self._owe_archive(job)
            logger.info(
                "ticket %s: transcript stored (%.1f s of audio decoded in %.2f s, %d words%s)",
                job.ticket_code,
                result.audio_seconds,
                result.decode_seconds,
                len(result.words),
                f", suggested {suggestion.category.value}/{suggestion.agency}"
                f" at {suggestion.confidence:.2f}"
                if suggestion
                else "",
            )
        else:
            logger.warning(
                "ticket %s: job %d was taken over; result dropped", job.ticket_code, job.id
            )

    async def run_archiver(self, stop: asyncio.Event) -> None:
        """The archive copies of the transcribed recordings, one after the other: first those
        owed when it starts (an instance stopped before writing them), then the new ones."""
        assert self._archiver is not None
        try:
            owed = await self._jobs.owed_archives()
        except Exception as err:
            owed = []
            logger.warning("archive copies owed from before not read (%s); not written", err)
        for job in owed:
            self._owe_archive(job)
        while not stop.is_set():
            job = await self._to_archive.get()
            try:
                await self._archive(self._archiver, job)
            except Exception:
                logger.exception("ticket %s: archive copy not recorded", job.ticket_code)
            finally:
                self._archive_queued.discard(job.id)
                self._to_archive.task_done()

    def _owe_archive(self, job: TranscriptionJob) -> None:
        if job.id not in self._archive_queued:  # owed from before and stored now: once
            self._archive_queued.add(job.id)
            self._to_archive.put_nowait(job)

    async def _archive(self, archiver: Archiver, job: TranscriptionJob) -> None:
        try:
            written = await archiver.archive(self._recordings / job.audio_path)
        except AudioError as err:
            logger.warning("ticket %s: no archive copy: %s", job.ticket_code, err)
            await self._jobs.archived(job, None, str(err))
            return
        await self._jobs.archived(job, spool_relative(written, self._recordings), None)

    async def release_held(self) -> None:
        """At shutdown: jobs claimed here but not finished go back to the database queue."""
        held = list(self._held.values())
        self._held.clear()
        if not held:
            return
        try:
            await self._jobs.release(held)
        except Exception as err:
            logger.warning(
                "could not release %d transcription job(s) (%s); their lease will run out",
                len(held),
                err,
            )
            return
        logger.info("released %d unfinished transcription job(s)", len(held))
