"""What every benchmark prints about the machine it ran on, and the one way a benchmark gets its
scratch database."""

from __future__ import annotations

import os
import platform
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg

from db.scratch import ScratchDatabase
from db.scratch import scratch_database as scratch


@asynccontextmanager
async def scratch_database(folder: Path) -> AsyncIterator[ScratchDatabase]:
    """A fresh, empty database on the server of ``HOTLINE_DATABASE_URL`` (else on an embedded
    server under ``folder``), dropped on exit whatever happened."""
    server_url = os.environ.get("HOTLINE_DATABASE_URL") or None
    async with scratch(server_url, folder, prefix="hotline_bench") as database:
        yield database


def pbx_recordings() -> tempfile.TemporaryDirectory[str]:
    """Where the simulated Asterisk writes the callers' recordings: a directory in RAM
    (``/dev/shm``) where the machine has one. The callers' process writes each recording on its
    one event loop, where Asterisk writes it in the channel's own thread, so a slow disk would
    hold up every simulated channel at once and count in their turns (a quarter of the callers'
    CPU went to creating these files on this machine's disk). The IVR only names the files; the
    server's spool stays on disk."""
    ram = Path("/dev/shm")  # noqa: S108 (mkdtemp makes a private directory in it)
    return tempfile.TemporaryDirectory(
        prefix="hotline-bench-recordings-", dir=ram if ram.is_dir() else None
    )


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


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BackendCpu:
    """CPU seconds of the PostgreSQL server processes serving one database (found by
    ``pg_stat_activity``; readable where the server runs on this machine, else 0): so that a
    benchmark can say how much of the machine the database took, apart from the client's and
    the load generator's share. A backend that exits between two samples is not counted."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn
        self._start: dict[int, float] = {}

    async def _pids(self) -> list[int]:
        rows = await self._conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [int(row["pid"]) for row in rows]

    async def start(self) -> None:
        self._start = {pid: process_cpu(pid) for pid in await self._pids()}

    async def seconds(self) -> float:
        """CPU seconds since ``start`` of the backends alive then or started since."""
        total = 0.0
        for pid in set(await self._pids()) | set(self._start):
            now = process_cpu(pid)
            if now:  # 0: gone meanwhile
                total += now - self._start.get(pid, 0.0)
        return total


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
