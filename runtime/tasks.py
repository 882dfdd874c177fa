"""Owned background tasks: named, logged when they fail, cancelled and awaited on shutdown —
for at most ``grace`` seconds, after which the names of the tasks still running are logged and
shutdown goes on without them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

logger = logging.getLogger(__name__)

CLOSE_GRACE = 10.0  # seconds a cancelled task gets to finish its cleanup


class TaskManager:
    """``stop`` is set first when the manager closes: workers that loop
    ``while not stop.is_set()`` may be handed it."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()
        self.stop = asyncio.Event()

    def start(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def close(self, grace: float = CLOSE_GRACE) -> list[str]:
        """Set ``stop``, cancel every task and wait up to ``grace`` seconds for them to end;
        returns (and logs) the names of those that did not, which are left running."""
        self.stop.set()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if not tasks:
            return []
        _, pending = await asyncio.wait(tasks, timeout=grace)
        stuck = sorted(task.get_name() for task in pending)
        if stuck:
            logger.error(
                "%d task(s) did not stop within %.1f s of being cancelled: %s",
                len(stuck),
                grace,
                ", ".join(stuck),
            )
        return stuck
