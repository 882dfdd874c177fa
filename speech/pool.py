"""The transcription worker pool: Vosk holds the CPU, so decoding runs in worker processes
(spawned; each loads the model once and keeps its recognizer). A crashed worker breaks the
executor: the job in hand fails with ``WorkerCrashed`` (the service retries it) and the next
job gets a fresh pool."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from speech import worker
from speech.errors import WorkerCrashed
from speech.transcript import TranscriptResult

logger = logging.getLogger(__name__)


class ProcessTranscriber:
    """The ``Transcriber`` port over a pool of worker processes."""

    def __init__(self, model_path: Path, *, workers: int) -> None:
        if workers < 1:
            raise ValueError("a transcription pool needs at least one worker")
        self._model_path = model_path
        self._workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._generation = 0
        self.restarts = 0

    @property
    def workers(self) -> int:
        return self._workers

    def _new_executor(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self._workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=worker.init_worker,
            initargs=(str(self._model_path),),
        )

    async def start(self) -> None:
        """Start the workers and wait until they have loaded the model (raises if they cannot)."""
        executor, _ = self._current()
        loop = asyncio.get_running_loop()
        try:
            pids = await asyncio.gather(
                *(loop.run_in_executor(executor, worker.ready) for _ in range(self._workers))
            )
        except BrokenProcessPool as err:
            await self.close()
            raise WorkerCrashed(
                f"transcription workers could not load the model {self._model_path}"
            ) from err
        logger.info("%d transcription worker(s) ready (pids %s)", self._workers, sorted(set(pids)))

    async def transcribe(self, audio: Path) -> TranscriptResult:
        executor, generation = self._current()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, worker.transcribe_file, str(audio))
        except BrokenProcessPool as err:
            await self._replace(generation)
            raise WorkerCrashed(f"a transcription worker died while decoding {audio}") from err

    def _current(self) -> tuple[ProcessPoolExecutor, int]:
        """The live executor (a new one after a crash); no await, so no lock is needed."""
        if self._executor is None:
            self._executor = self._new_executor()
            self._generation += 1
        return self._executor, self._generation

    async def _replace(self, generation: int) -> None:
        """Drop a broken executor once (several jobs may notice the same crash)."""
        if generation != self._generation or self._executor is None:
            return
        broken, self._executor = self._executor, None
        self.restarts += 1
        logger.error("a transcription worker crashed; the next job starts a fresh pool")
        await asyncio.to_thread(broken.shutdown, wait=True, cancel_futures=True)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)
