"""Owned tasks: cancelled and awaited on shutdown, but never waited for without a bound."""

from __future__ import annotations

import asyncio
import logging

import pytest

from runtime.tasks import TaskManager


async def test_given_a_task_that_ignores_cancellation_when_closed_then_close_returns_after_the_grace_and_names_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    release = asyncio.Event()
    started = asyncio.Event()

    async def stubborn() -> None:
        started.set()
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # swallows every cancellation until released

    async def polite() -> None:
        await asyncio.Event().wait()

    tasks = TaskManager()
    tasks.start(stubborn(), name="stubborn-worker")
    tasks.start(polite(), name="polite-worker")
    await started.wait()

    async with asyncio.timeout(10):  # an unbounded close would hang here
        stuck = await tasks.close(grace=0.2)

    assert stuck == ["stubborn-worker"]
    assert "did not stop within 0.2 s" in caplog.text
    assert "stubborn-worker" in caplog.text
    assert "polite-worker" not in caplog.text
    running = [t for t in asyncio.all_tasks() if t.get_name() == "stubborn-worker"]
    assert len(running) == 1
    assert not running[0].done()
    release.set()
    await running[0]


async def test_given_tasks_that_stop_when_cancelled_when_closed_then_stop_is_set_all_are_done_and_nothing_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cleaned: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # cleanup that itself awaits
            cleaned.append(name)

    tasks = TaskManager()
    for name in ("a", "b", "c"):
        tasks.start(worker(name), name=f"worker-{name}")
    await asyncio.sleep(0)

    with caplog.at_level(logging.ERROR):
        assert await tasks.close(grace=5.0) == []

    assert sorted(cleaned) == ["a", "b", "c"]
    assert caplog.records == []
    assert tasks.stop.is_set(), "workers handed tasks.stop see the shutdown"
