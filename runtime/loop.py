"""The event loop every process of the service runs on: uvloop's (libuv underneath).

An IVR turn is a few small reads and writes on a socket and a wake-up of the task waiting on
them; asyncio's own selector loop spends most of a turn's CPU in Python on that bookkeeping
(``bench.agi_turns`` and ``bench.agi_capacity`` print both loops' figures). uvloop does it in C,
and keeps a connection's transport smaller. The tests run on it too (tests/conftest.py), so
what they check is what runs."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")


def new_event_loop() -> asyncio.AbstractEventLoop:
    return uvloop.new_event_loop()


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run`` on the service's event loop."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(main)
