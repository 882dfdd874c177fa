"""The ``hotline`` command as an administrator runs it: a real process, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import asyncpg
import psutil
import pytest

from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS, with_database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def hotline(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hotline", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def base_env(data_dir: Path, database_url: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env["HOTLINE_DATA_DIR"] = str(data_dir)
    if database_url:
        env["HOTLINE_DATABASE_URL"] = database_url
    return env


async def wait_healthy(url: str, process: asyncio.subprocess.Process) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            assert process.returncode is None, "hotline serve exited early"
            try:
                async with http.get(f"{url}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError("hotline serve never became healthy")


class Served:
    def __init__(self, process: asyncio.subprocess.Process, agi_port: int, http_url: str) -> None:
        self.process = process
        self.agi_port = agi_port
        self.http_url = http_url

    async def stop(self) -> str:
        self.process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(self.process.communicate(), 60)
        return stderr.decode()


async def serve(env: dict[str, str]) -> AsyncIterator[Served]:
    agi_port, http_port = free_port(), free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hotline",
        "serve",
        "--agi-bind",
        f"127.0.0.1:{agi_port}",
        "--http-bind",
        f"127.0.0.1:{http_port}",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    served = Served(process, agi_port, f"http://127.0.0.1:{http_port}")
    try:
        await wait_healthy(served.http_url, process)
        yield served
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.fixture
async def served(database_url: str, tmp_path: Path) -> AsyncIterator[Served]:
    async for running in serve(base_env(tmp_path, database_url)):
        yield running


async def test_given_calls_in_the_ivr_when_sigterm_arrives_then_they_finish_and_the_process_exits_cleanly(
    served: Served, db: asyncpg.Connection
) -> None:
    slow = [
        SimulatedChannel(script=CallerScript(keys=[k], key_delay=1.0), sounds_dir=SOUNDS)
        for k in ("1", "2", "3")
    ]
    calls = [
        asyncio.ensure_future(
            run_hotline_call(c, "127.0.0.1", served.agi_port, default_queue="hotline-1022")
        )
        for c in slow
    ]
    async with asyncio.timeout(10):
        while await db.fetchval("SELECT count(*) FROM calls") < 3:
            await asyncio.sleep(0.02)

    stderr = await served.stop()
    results = await asyncio.gather(*calls)

    assert served.process.returncode == 0, stderr
    assert [r.queue for r in results] == ["hotline-1022"] * 3
    rows = await db.fetch(
        "SELECT disposition, category FROM calls JOIN tickets t ON t.id = ticket_id"
    )
    assert sorted(r["category"] for r in rows) == ["admin_procedure", "field_report", "information"]
    assert {r["disposition"] for r in rows} == {"queued"}
    assert "waiting up to" in stderr
    assert "hotline stopped" in stderr
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", served.agi_port)


async def test_given_no_database_url_when_serving_then_embedded_postgres_starts_and_stops_with_the_service(
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path, None)
    async for running in serve(env):
        channel = SimulatedChannel(script=CallerScript(keys=["1"]), sounds_dir=SOUNDS)
        result = await run_hotline_call(
            channel, "127.0.0.1", running.agi_port, default_queue="hotline-1022"
        )
        assert result.agi.variables["HOTLINE_TICKET"].startswith("1022-")
        stderr = await running.stop()
        assert running.process.returncode == 0, stderr
    pgdata = str((tmp_path / "postgres").resolve())
    leftovers = [
        p
        for p in psutil.process_iter(["name", "cmdline"])
        if p.info["name"] == "postgres" and pgdata in " ".join(p.info["cmdline"] or [])
    ]
    assert leftovers == []
    assert "stopping embedded PostgreSQL" in stderr


def test_given_user_add_when_run_then_the_user_can_log_in_with_an_argon2_hash(
    database_url: str, tmp_path: Path
) -> None:
    env = base_env(tmp_path, database_url)

    done = hotline(
        "user",
        "add",
        "lan.nguyen",
        "--role",
        "supervisor",
        "--password",
        "mật-khẩu-dài-đủ",
        env=env,
    )
    again = hotline(
        "user",
        "add",
        "lan.nguyen",
        "--role",
        "supervisor",
        "--password",
        "mật-khẩu-dài-đủ",
        env=env,
    )
    agency = hotline(
        "user", "add", "ward", "--role", "agency", "--password", "long-enough-pw", env=env
    )

    assert done.returncode == 0, done.stderr
    assert "lan.nguyen (supervisor) created" in done.stdout
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert agency.returncode == 1
    assert "--agency is required" in agency.stderr


def test_given_an_invalid_setting_when_the_command_starts_then_it_exits_2_naming_the_key(
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path, None) | {"HOTLINE_AGI_BIND": "nowhere"}

    done = hotline("migrate", env=env)

    assert done.returncode == 2
    assert "agi_bind (environment HOTLINE_AGI_BIND)" in done.stderr


def test_given_a_fresh_database_when_migrate_runs_then_the_schema_is_created(
    server_url: str, tmp_path: Path
) -> None:
    name = f"hotline_cli_{os.getpid()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(server_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        url = with_database(server_url, name)
        done = hotline("migrate", env=base_env(tmp_path, url))
        assert done.returncode == 0, done.stderr
        assert "applied migration 0001_initial" in done.stderr
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))
