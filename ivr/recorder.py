"""Saves call snapshots: to PostgreSQL when it answers in time, otherwise to the local spool,
which a replayer drains into the database once it is back. Never raises: a call is never lost
and never held up by the database. A snapshot the database refuses for good (another session
under a stored call's uniqueid, data it cannot hold) is kept in the spool's ``rejected/``.

A save not stored within ``TURN_WAIT`` is spooled and goes on in the background. When it is
stored after all, the spool has nothing to keep: its write is skipped if it had not begun, and
the file is removed if it holds nothing newer, so that a busy moment (a burst the writer needs
more than ``TURN_WAIT`` to take) does not leave work for the spool's threads and the replayer
on top of the database's. The database counts as down only when saves time out while none is
stored: timeouts while other saves are being stored are a busy database, not a dead one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import TypeVar

from ivr.spool import IntakeSpool
from tickets.errors import SnapshotRefused, StorageError, StorageRefused, StorageUnavailable
from tickets.intake import CallIntake, IntakeRepository

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

MAX_TIMEOUTS = 3
MAX_SLOW_CALLS = 10_000
REFUSED = (SnapshotRefused, StorageRefused)  # storing it again would fail again
# Seconds one IVR step waits for the database; a save still running then goes on in the
# background (up to ``timeout``) while the snapshot is spooled, so Asterisk gets its next
# command in well under a second however slow the database is.
TURN_WAIT = 0.5
# Threads writing the spool: a write waits on two fsyncs, and the file system commits the
# fsyncs that wait together at once, so more writes in flight is more written per second
# (the event loop's default six threads made the spool, under a burst, slower than the database).
SPOOL_THREADS = 32


class IntakeRecorder:
    def __init__(
        self,
        repository: IntakeRepository,
        spool: IntakeSpool,
        *,
        timeout: float,
        retry_interval: float,
    ) -> None:
        self._repository = repository
        self._spool = spool
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._db_down_until = 0.0  # while the database is known to be down, spool at once
        self._timeouts = 0  # calls in a row whose save timed out: a dead link, not a busy pool
        self._stored_at = 0.0  # when a save was last stored (monotonic)
        self._slow_calls: OrderedDict[str, None] = OrderedDict()  # spool the rest of these
        # sessions whose snapshots the database refused: the rest of them is refused too
        self._refused: OrderedDict[tuple[str, datetime], None] = OrderedDict()
        # saves outliving their IVR step, and removals of what they stored from the spool
        self._saves: set[asyncio.Task[object]] = set()
        # the version spooled meanwhile of calls whose save went on in the background
        self._spooled: OrderedDict[str, int] = OrderedDict()
        self._disk = ThreadPoolExecutor(SPOOL_THREADS, thread_name_prefix="intake-spool")

    async def save(self, intake: CallIntake) -> str | None:
        """Return the ticket code, or ``None`` when the snapshot went to the spool (or was
        refused: then it is in the spool's ``rejected/``)."""
        session = (intake.uniqueid, intake.started_at)
        if session in self._refused:
            await self._reject(intake, "an earlier snapshot of this session was refused")
            return None
        if time.monotonic() >= self._db_down_until and intake.uniqueid not in self._slow_calls:
            task = asyncio.create_task(self._store(intake), name=f"intake-save-{intake.uniqueid}")
            self._saves.add(task)
            task.add_done_callback(self._saves.discard)
            done, _ = await asyncio.wait({task}, timeout=min(self._timeout, TURN_WAIT))
            if task in done:
                code = task.result()
                if code is not None or session in self._refused:
                    return code
            else:
                # The caller waited once; the rest of this call goes to the spool at once.
                self._mark_slow(intake.uniqueid)
                await self._spool_meanwhile(intake, task)
                return None
        await self.spool(intake)
        return None

    async def _spool_meanwhile(self, intake: CallIntake, save: asyncio.Task[str | None]) -> None:
        """Spool a snapshot whose save goes on in the background, unless it is stored before the
        spool's thread writes it; once it is stored, its spool file goes (unless newer)."""
        stored = threading.Event()

        def settled(task: asyncio.Task[str | None]) -> None:
            if task.cancelled() or task.exception() is not None or task.result() is None:
                return  # failed: the spool keeps the snapshot for the replayer
            stored.set()
            if self._spooled.get(intake.uniqueid) == intake.version:
                drop = asyncio.create_task(self._unspool(intake), name="intake-unspool")
                self._saves.add(drop)
                drop.add_done_callback(self._saves.discard)

        save.add_done_callback(settled)
        if await self.spool(intake, unless=stored):
            self._spooled[intake.uniqueid] = intake.version
            if len(self._spooled) > MAX_SLOW_CALLS:
                self._spooled.popitem(last=False)
            if stored.is_set():  # stored while the file was written
                await self._unspool(intake)

    async def _unspool(self, intake: CallIntake) -> None:
        if self._spooled.get(intake.uniqueid) == intake.version:
            del self._spooled[intake.uniqueid]
            await self._on_disk(functools.partial(self._spool.discard, intake))

    async def _store(self, intake: CallIntake) -> str | None:
        """One save bounded by ``timeout``; ``None`` (logged, counted) when it failed."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self._timeout):  # in this task: no task of its own
                code = await self._repository.save(intake)
        except REFUSED as err:
            self._refused[(intake.uniqueid, intake.started_at)] = None
            if len(self._refused) > MAX_SLOW_CALLS:
                self._refused.popitem(last=False)
            await self._reject(intake, str(err))
        except StorageUnavailable as err:
            self._mark_down(str(err))
        except TimeoutError:
            self._mark_slow(intake.uniqueid)
            if self._stored_at < started:  # nothing was stored while this save waited
                self._timeouts += 1
            logger.warning(
                "saving call %s took over %.1f s (%d calls in a row); spooling the call",
                intake.uniqueid,
                self._timeout,
                self._timeouts,
            )
            if self._timeouts >= MAX_TIMEOUTS:
                self._mark_down(f"{self._timeouts} calls in a row took over {self._timeout} s")
        except StorageError:
            logger.exception("the database refused call %s; spooling it", intake.uniqueid)
        else:
            self._timeouts = 0
            self._stored_at = time.monotonic()
            self._slow_calls.pop(intake.uniqueid, None)  # caught up: the next step saves again
            return code
        return None

    def _mark_slow(self, uniqueid: str) -> None:
        self._slow_calls[uniqueid] = None
        if len(self._slow_calls) > MAX_SLOW_CALLS:
            self._slow_calls.popitem(last=False)

    async def close(self) -> None:
        """Cancel saves still running in the background (their snapshots are in the spool);
        the spool's writes under way finish."""
        saves = list(self._saves)
        for task in saves:
            task.cancel()
        await asyncio.gather(*saves, return_exceptions=True)
        await asyncio.to_thread(self._disk.shutdown)

    async def spool(self, intake: CallIntake, *, unless: threading.Event | None = None) -> bool:
        """Written by a worker thread (``fsync`` blocks); when the awaiting task is cancelled
        (shutdown), the thread still finishes the write. Not written when ``unless`` is set by
        the time the thread gets to it (the snapshot was stored meanwhile). Whether it was."""

        def write() -> bool:
            return not (unless is not None and unless.is_set()) and self._spool.put(intake)

        if not await self._on_disk(write):
            return False
        logger.warning(
            "call %s (version %d) spooled to %s; it is stored when the database is back",
            intake.uniqueid,
            intake.version,
            self._spool.directory,
        )
        return True

    async def _reject(self, intake: CallIntake, reason: str) -> None:
        await self._on_disk(functools.partial(self._spool.reject_snapshot, intake, reason))

    async def _on_disk(self, work: Callable[[], _T]) -> _T:
        """Blocking spool I/O in one of the spool's threads (with this task's log context)."""
        context = contextvars.copy_context()
        return await asyncio.get_running_loop().run_in_executor(
            self._disk, functools.partial(context.run, work)
        )

    def _mark_down(self, reason: str) -> None:
        self._db_down_until = time.monotonic() + self._retry_interval
        self._timeouts = 0
        logger.error(
            "database unavailable for the IVR (%s); spooling for %.0f s",
            reason,
            self._retry_interval,
        )

    async def replay(self) -> int:
        """Store what the spool holds, oldest first; pause while the database is out of reach.
        A file that cannot be stored for good goes to ``rejected/``; one that failed otherwise
        stays for the next round; neither holds up the files after it."""
        stored = 0
        for path in await asyncio.to_thread(self._spool.pending):
            intake = await asyncio.to_thread(self._spool.get, path)
            if intake is None:
                continue
            try:
                code = await asyncio.wait_for(self._repository.save(intake), self._timeout)
            except (StorageUnavailable, TimeoutError) as err:
                logger.info("spool replay paused, database unavailable (%s)", err or "timed out")
                return stored
            except REFUSED as err:
                await asyncio.to_thread(self._spool.reject, path, f"{type(err).__name__}: {err}")
                continue
            except StorageError:
                logger.exception("the database refused spooled call %s; kept", intake.uniqueid)
                continue
            await asyncio.to_thread(self._spool.remove, path, intake.version)
            self._db_down_until = 0.0
            stored += 1
            logger.info("spooled call %s stored as ticket %s", intake.uniqueid, code)
        return stored

    async def run_replayer(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.replay()
            except Exception:
                logger.exception("spool replay failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._retry_interval)
