"""Helpers for the hypothesis fuzz tests: how many examples (``HOTLINE_FUZZ_EXAMPLES`` for a
long run, a short default in CI), and an asyncio loop in a thread so that a synchronous
hypothesis test can drive real asyncio servers over real sockets."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")
SHORT_RUN = 60


def fuzz_settings(short: int = SHORT_RUN) -> settings:
    """``HOTLINE_FUZZ_EXAMPLES=5000`` for a long run; no deadline (sockets, a loaded machine)."""
    examples = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES") or short)
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


class LoopThread:
    """One event loop running in a daemon thread; ``run`` blocks on a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)
