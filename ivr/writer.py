"""Group commit of call snapshots: one writer per instance stores whatever snapshots are waiting
in one batch (``tickets.intake.IntakeBatchStore``), so the database's round trips are paid once
per batch, not once per IVR step.

Each ``save`` waits for the commit of the batch its snapshot went into (the recorder in front
bounds that wait and spools past it). A lone snapshot is written at once: the writer never waits
for others to gather; snapshots gather only while a batch is being committed. Batches go in two
lanes: the next snapshots of calls the store knows (``IntakeBatchStore.knows``: a running call's
steps, one round trip, no ticket code) and the others (new calls: the code counters, held to
the commit). Each lane has one batch in flight, so a call's next step never waits for a batch
of new calls, nor the other way round. A second batch starts in a lane only when the one in
flight is held up (``STALLED``: a lock another transaction holds), up to ``MAX_IN_FLIGHT``:
concurrent batches of new calls would only wait for each other on the code counters and pay a
commit each, where one larger batch pays one.
Of several snapshots of one call that are waiting, the newest goes into the batch and the others
get its outcome, as a store would have kept them (``save_action``); a snapshot a store would
not simply replace (another session, the IVR's over the queue's) waits for the next batch.

Nothing is stored twice and nothing is lost: a batch is at most two transactions (the next
snapshots of calls the store knows, in one statement, then the others), so when it fails (the
connection killed, the database gone) every waiting ``save`` gets the error, and its caller
spools the snapshot, whether or not the first part was stored; storing it again later is
idempotent. A batch the database refuses (one snapshot with data it cannot hold) is stored
again snapshot by snapshot, so only the bad one is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from runtime.metrics import Metrics
from tickets.errors import StorageError, StorageRefused, StorageUnavailable
from tickets.intake import CallIntake, IntakeBatchStore, SaveAction, StoredCall, save_action

logger = logging.getLogger(__name__)

MAX_BATCH = 500  # snapshots in one transaction; more wait for the next one
# Batches committed at once in a lane: a batch held up by a lock (another transaction holds a
# ticket's row or a code counter) holds up its own snapshots only, the next ones go in another.
MAX_IN_FLIGHT = 4
STALLED = 0.1  # seconds after which the batches in flight count as held up


@dataclass
class _Waiting:
    intake: CallIntake
    futures: list[asyncio.Future[str]] = field(default_factory=list)


class GroupCommitWriter:
    """``tickets.intake.IntakeRepository`` in front of a batch store: ``async with`` runs the
    writer's task (one per instance); ``save`` may be called from any task meanwhile."""

    def __init__(
        self,
        store: IntakeBatchStore,
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
        metrics: Metrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or Metrics()  # each committed batch: its size and time
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        # when each batch in flight started, by lane (True: snapshots of calls the store knows)
        self._in_flight: dict[bool, list[float]] = {True: [], False: []}
        self._waiting: list[_Waiting] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> GroupCommitWriter:
        self._task = asyncio.create_task(self._run(), name="intake-writer")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the writer: a batch being committed is cancelled (rolled back) and every
        snapshot still waiting fails (``StorageUnavailable``), so its caller spools it."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        stopped = StorageUnavailable("the intake writer stopped")
        for waiting in self._waiting:
            _settle(waiting, stopped)
        self._waiting.clear()

    async def save(self, intake: CallIntake) -> str:
        if self._task is None:
            raise StorageUnavailable("the intake writer is not running")
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(intake, [future]))
        self._wake.set()
        return await future

    async def _run(self) -> None:
        async with asyncio.TaskGroup() as group:
            while True:
                waits: list[float] = []
                lanes = {self._store.knows(w.intake) for w in self._waiting if _awaited(w)}
                for lane in (True, False):
                    if lane not in lanes:
                        continue
                    held_up = self._held_up_in(lane)
                    if held_up == 0.0:
                        batch = self._take(lane)
                        started = time.monotonic()
                        self._in_flight[lane].append(started)
                        group.create_task(
                            self._commit_batch(batch, lane, started), name="intake-writer-batch"
                        )
                        held_up = STALLED  # what is left in the lane waits for it
                    if held_up is not None:
                        waits.append(held_up)
                # asyncio.timeout, not wait_for: Python 3.11's wait_for returns, swallowing a
                # cancellation, when the event is set as the writer is stopped
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(min(waits, default=None)):
                        await self._wake.wait()
                self._wake.clear()

    def _held_up_in(self, lane: bool) -> float | None:
        """0 when a new batch may start in ``lane`` now: none is in flight there, or all of
        those are held up and there is room for one more; else the seconds until the youngest
        counts as held up (``None``: no room, wait for one to end)."""
        in_flight = self._in_flight[lane]
        if not in_flight:
            return 0.0
        if len(in_flight) >= self._max_in_flight:
            return None
        return max(0.0, max(in_flight) + STALLED - time.monotonic())

    async def _commit_batch(self, batch: list[_Waiting], lane: bool, started: float) -> None:
        try:
            await self._commit(batch)
        except asyncio.CancelledError:  # stopped mid-batch: rolled back, its callers spool
            for waiting in batch:
                _settle(waiting, StorageUnavailable("the intake writer stopped"))
            raise
        finally:
            self._in_flight[lane].remove(started)
            self._wake.set()  # what gathered meanwhile is the next batch

    def _take(self, lane: bool) -> list[_Waiting]:
        """The next batch of ``lane``: at most one snapshot per call, oldest waiting first. A
        snapshot nobody waits for any more is left out: its caller stopped waiting (the recorder
        has spooled it), and under a burst writing it would only delay the snapshots still
        awaited."""
        batch: dict[str, _Waiting] = {}
        rest: list[_Waiting] = []
        for waiting in self._waiting:
            if not _awaited(waiting):
                continue
            taken = batch.get(waiting.intake.uniqueid)
            if taken is None:
                if len(batch) < self._max_batch and self._store.knows(waiting.intake) is lane:
                    batch[waiting.intake.uniqueid] = waiting
                else:
                    rest.append(waiting)
                continue
            action = save_action(StoredCall.of(taken.intake), waiting.intake)
            if action is SaveAction.UPDATE:
                taken.intake = waiting.intake  # newer: it goes, the older one shares its fate
            elif action is not SaveAction.KEEP:
                rest.append(waiting)
                continue
            taken.futures.extend(waiting.futures)
        self._waiting = rest
        return list(batch.values())

    async def _commit(self, batch: list[_Waiting]) -> None:
        try:
            started = time.monotonic()
            results = await self._store.save_batch([waiting.intake for waiting in batch])
            self._metrics.saved(len(batch), time.monotonic() - started)
        except (StorageUnavailable, StorageRefused) as err:
            if isinstance(err, StorageUnavailable) or len(batch) == 1:
                for waiting in batch:
                    _settle(waiting, err)
                return
            logger.warning(
                "a batch of %d snapshots was refused (%s); storing them one by one",
                len(batch),
                err,
            )
            for waiting in batch:
                await self._commit([waiting])
            return
        except StorageError as err:
            for waiting in batch:
                _settle(waiting, err)
            return
        except Exception as err:
            logger.exception("storing a batch of %d snapshots failed", len(batch))
            for waiting in batch:
                _settle(waiting, StorageError(f"{type(err).__name__}: {err}"))
            return
        for waiting, result in zip(batch, results, strict=True):
            _settle(waiting, result)


def _awaited(waiting: _Waiting) -> bool:
    """Somebody still waits for the snapshot (else the recorder has spooled it)."""
    return not all(future.done() for future in waiting.futures)


def _settle(waiting: _Waiting, outcome: str | Exception) -> None:
    for future in waiting.futures:
        if future.done():  # its caller stopped waiting (the recorder spooled the snapshot)
            continue
        if isinstance(outcome, str):
            future.set_result(outcome)
        else:
            future.set_exception(outcome)
