"""What every benchmark prints about the machine it ran on, and the one way a benchmark gets its
scratch database."""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from db.pool import embedded_postgres


@dataclass(frozen=True)
class ScratchDatabase:
    url: str  # of the scratch database
    name: str
    server_version: str
    where: str  # "HOTLINE_DATABASE_URL" or "embedded"

    def describe(self) -> str:
        return f"{self.server_version} ({self.where}; database {self.name}, dropped at the end)"


@asynccontextmanager
async def scratch_database(folder: Path) -> AsyncIterator[ScratchDatabase]:
    """A fresh, empty database on the server of ``HOTLINE_DATABASE_URL`` (else on an embedded
    server under ``folder``), dropped on exit whatever happened."""
    async with AsyncExitStack() as stack:
        server_url = os.environ.get("HOTLINE_DATABASE_URL")
        where = "HOTLINE_DATABASE_URL"
        if not server_url:
            where = "embedded"
            server_url = await stack.enter_async_context(embedded_postgres(folder / "pg"))
        name = f"hotline_bench_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(server_url)
        try:
            version = str(await admin.fetchval("SHOW server_version"))
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        try:
            url = urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))
            yield ScratchDatabase(url, name, version, where)
        finally:
            admin = await asyncpg.connect(server_url)
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


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
