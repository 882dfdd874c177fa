"""What every benchmark prints about the machine it ran on, and the one way a benchmark gets its
scratch database."""

from __future__ import annotations

import os
import platform
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from db.scratch import ScratchDatabase
from db.scratch import scratch_database as scratch


@asynccontextmanager
async def scratch_database(folder: Path) -> AsyncIterator[ScratchDatabase]:
    """A fresh, empty database on the server of ``HOTLINE_DATABASE_URL`` (else on an embedded
    server under ``folder``), dropped on exit whatever happened."""
    server_url = os.environ.get("HOTLINE_DATABASE_URL") or None
    async with scratch(server_url, folder, prefix="hotline_bench") as database:
        yield database


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 2**20
    except (OSError, ValueError):
        pass
    return float("nan")


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
