"""Saves call snapshots: to PostgreSQL when it answers in time, otherwise to the local spool,
which a replayer drains into the database once it is back. Never raises: a call is never lost
and never held up by the database. A snapshot the database refuses for good (another session
under a stored call's uniqueid, data it cannot hold) is kept in the spool's ``rejected/``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from datetime import datetime

from ivr.spool import IntakeSpool
from tickets.errors import SnapshotRefused, StorageError, StorageRefused, StorageUnavailable
from tickets.intake import CallIntake, IntakeRepository

logger = logging.getLogger(__name__)

MAX_TIMEOUTS = 3
MAX_SLOW_CALLS = 10_000
REFUSED = (SnapshotRefused, StorageRefused)  # storing it again would fail again
# Seconds one IVR step waits for the database; a save still running then goes on in the
# background (up to ``timeout``) while the snapshot is spooled, so Asterisk gets its next
# command in well under a second however slow the database is.
TURN_WAIT = 0.5


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
        self._slow_calls: OrderedDict[str, None] = OrderedDict()  # spool the rest of these
        # sessions whose snapshots the database refused: the rest of them is refused too
        self._refused: OrderedDict[tuple[str, datetime], None] = OrderedDict()
        self._saves: set[asyncio.Task[str | None]] = set()  # saves outliving their IVR step

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
        await self.spool(intake)
        return None

    async def _store(self, intake: CallIntake) -> str | None:
        """One save bounded by ``timeout``; ``None`` (logged, counted) when it failed."""
        try:
            code = await asyncio.wait_for(self._repository.save(intake), self._timeout)
        except REFUSED as err:
            self._refused[(intake.uniqueid, intake.started_at)] = None
            if len(self._refused) > MAX_SLOW_CALLS:
                self._refused.popitem(last=False)
            await self._reject(intake, str(err))
        except StorageUnavailable as err:
            self._mark_down(str(err))
        except TimeoutError:
            self._mark_slow(intake.uniqueid)
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
            self._slow_calls.pop(intake.uniqueid, None)  # caught up: the next step saves again
            return code
        return None

    def _mark_slow(self, uniqueid: str) -> None:
        self._slow_calls[uniqueid] = None
        if len(self._slow_calls) > MAX_SLOW_CALLS:
            self._slow_calls.popitem(last=False)

    async def close(self) -> None:
        """Cancel saves still running in the background (their snapshots are in the spool)."""
        saves = list(self._saves)
        for task in saves:
            task.cancel()
        await asyncio.gather(*saves, return_exceptions=True)

    async def spool(self, intake: CallIntake) -> None:
        """Written by a worker thread (``fsync`` blocks); when the awaiting task is cancelled
        (shutdown), the thread still finishes the write."""
        if await asyncio.to_thread(self._spool.put, intake):
            logger.warning(
                "call %s (version %d) spooled to %s; it is stored when the database is back",
                intake.uniqueid,
                intake.version,
                self._spool.directory,
            )

    async def _reject(self, intake: CallIntake, reason: str) -> None:
        await asyncio.to_thread(self._spool.reject_snapshot, intake, reason)

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
