"""The queue_log applier: every instance runs one; whichever takes the cursor first applies the
new rows (``db/queue_log.py``, one transaction per batch), the others find nothing left.

It wakes when PostgreSQL NOTIFYs an insert into queue_log and at least every
``poll_interval`` seconds (a NOTIFY missed while the database was away, or rows held back
behind a transaction still running). A failed batch was rolled back whole: it is tried again
after ``retry_interval``, never dropped.

Asterisk does not retry a realtime insert that failed (PostgreSQL down, a failover); its
queue_log file (``logger.conf`` ``queue_log_to_file = yes``) still has the row. Every
``recover_interval`` seconds the applier reads the files it was given
(``HOTLINE_QUEUE_LOG_FILES``) and inserts the entries the table lacks; they are applied next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from pathlib import Path

from agents.ports import QueueLogStore
from agents.queue_log import parse_line

logger = logging.getLogger(__name__)

# Rows per transaction: a batch costs about a dozen statements whatever its size (db/queue_log.py),
# so a backlog (after an outage, or a rebuild) goes through in large ones.
BATCH = 2000


class QueueLogApplier:
    def __init__(
        self,
        store: QueueLogStore,
        *,
        poll_interval: float = 5.0,
        retry_interval: float = 2.0,
        batch: int = BATCH,
        files: Sequence[Path] = (),
        recover_interval: float = 60.0,
    ) -> None:
        self._store = store
        self._files = list(files)
        self._recover_every = recover_interval
        self._recovered_at: float | None = None
        self.recovered = 0  # rows this instance inserted from the files
        self.readings = 0  # times it read them
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

    async def recover_files(self) -> int:
        """Insert what the files have and the table lacks; how many rows."""
        total = 0
        for path in self._files:
            try:
                text = await asyncio.to_thread(path.read_text, encoding="utf-8", errors="replace")
            except FileNotFoundError:
                continue  # not written yet, or rotated away
            entries = [e for e in map(parse_line, text.splitlines()) if e is not None]
            count = await self._store.recover(entries)
            if count:
                logger.warning(
                    "%d queue_log rows missing from the table recovered from %s", count, path
                )
            total += count
        self.recovered += total
        self.readings += 1
        return total

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            wait = min(self._poll, self._recover_every) if self._files else self._poll
            try:
                due = self._recovered_at is None or (
                    time.monotonic() - self._recovered_at >= self._recover_every
                )
                if self._files and due:
                    await self.recover_files()
                    self._recovered_at = time.monotonic()
                await self.apply_pending()
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.failures += 1
                wait = self._retry
                logger.warning("queue_log not applied (rolled back, tried again): %s", err)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)
