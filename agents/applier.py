"""The queue_log applier: every instance runs one; whichever takes the cursor first applies the
new rows (``db/queue_log.py``, one transaction per batch), the others find nothing left.

It wakes when PostgreSQL NOTIFYs an insert into queue_log and at least every
``poll_interval`` seconds (a NOTIFY missed while the database was away, or rows held back
behind a transaction still running). A failed batch was rolled back whole: it is tried again
after ``retry_interval``, never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from agents.ports import QueueLogStore

logger = logging.getLogger(__name__)

BATCH = 500  # rows per transaction


class QueueLogApplier:
    def __init__(
        self,
        store: QueueLogStore,
        *,
        poll_interval: float = 5.0,
        retry_interval: float = 2.0,
        batch: int = BATCH,
    ) -> None:
        self._store = store
        self._poll = poll_interval
        self._retry = retry_interval
        self._batch = batch
        self._wake = asyncio.Event()
        self.applied = 0  # rows this instance applied
        self.failures = 0  # batches rolled back (and tried again)

    def wake(self) -> None:
        """New rows were inserted (the NOTIFY of queue_log's trigger)."""
        self._wake.set()

    async def apply_pending(self) -> int:
        """Apply every row ready now, batch after batch; how many this call applied."""
        total = 0
        while True:
            count = await self._store.apply(self._batch)
            total += count
            self.applied += count
            if count < self._batch:
                return total

    async def rows_behind(self) -> int:
        return await self._store.rows_behind()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            wait = self._poll
            try:
                await self.apply_pending()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.failures += 1
                wait = self._retry
                logger.warning("queue_log not applied (rolled back, tried again): %s", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
