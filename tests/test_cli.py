"""The ``hotline`` command as an administrator runs it: a real process, real signals."""

from __future__ import annotations

import argparse
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

from hotline.cli import _parser
from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS, on_server, with_database


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
            if process.returncode is not None:
                assert process.stderr is not None
                said = (await process.stderr.read()).decode(errors="replace")
                raise AssertionError(f"hotline serve exited early ({process.returncode}):\n{said}")
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


async def test_given_hotline_serve_when_it_has_started_then_its_start_up_heap_is_out_of_garbage_collection(
    served: Served,
) -> None:
    """A full collection walked everything imported and built at start-up, 80–150 ms with the
    event loop stopped (runtime/heap.py); the served process freezes that heap once started."""
    stderr = await served.stop()

    assert served.process.returncode == 0, stderr
    settled = [line for line in stderr.splitlines() if "kept out of garbage collection" in line]
    assert len(settled) == 1, stderr
    frozen = int(settled[0].split("heap: ")[1].split()[0])
    assert frozen > 10_000  # aiohttp, asyncpg, pydantic, the menu... (~80,000)
    assert "collected every 20000 allocations" in settled[0]


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
    asyncio.run(on_server(server_url, f'CREATE DATABASE "{name}"'))
    try:
        url = with_database(server_url, name)
        done = hotline("migrate", env=base_env(tmp_path, url))
        assert done.returncode == 0, done.stderr
        assert "applied migration 0001_initial" in done.stderr
    finally:
        asyncio.run(on_server(server_url, f'DROP DATABASE "{name}" WITH (FORCE)'))


def _commands() -> dict[str, str]:
    """Every subcommand of ``hotline`` with its one-line help, read from the parser itself."""
    actions = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return {choice.dest: choice.help or "" for choice in actions[0]._choices_actions}


def test_given_hotline_help_when_printed_then_every_command_is_listed_with_its_help_in_plain_text() -> (
    None
):
    done = hotline("--help", env=base_env(Path("unused"), None))

    assert done.returncode == 0, done.stderr
    commands = _commands()
    assert len(commands) >= 10
    for name, help_text in commands.items():
        assert help_text, f"{name} has no help line"
        assert name in done.stdout
        assert " ".join(help_text.split()[:3]) in " ".join(done.stdout.split())
    assert "``" not in done.stdout
    assert "Public hotlines 1022 and 115" in done.stdout


def _without_ffmpeg(tmp_path: Path) -> dict[str, str]:
    """The environment of a machine without ffmpeg: PATH holds only what the command needs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = base_env(tmp_path, None)
    env["PATH"] = str(bin_dir)
    return env


def test_given_no_ffmpeg_when_a_command_converts_no_audio_then_nothing_warns_about_it(
    tmp_path: Path,
) -> None:
    env = _without_ffmpeg(tmp_path)

    helped = hotline("--help", env=env)
    checked = hotline("simulate", "--help", env=env)

    assert helped.returncode == 0, helped.stderr
    assert checked.returncode == 0, checked.stderr
    assert "ffmpeg" not in helped.stderr + checked.stderr
    assert helped.stderr == ""


def test_given_no_ffmpeg_when_audio_is_converted_twice_then_one_log_line_names_the_debian_package(
    tmp_path: Path,
) -> None:
    wav = Path(__file__).parent / "fixtures" / "speech" / "ambulance_8k.wav"
    script = (
        "import logging, sys\n"
        "from pathlib import Path\n"
        "from speech.audio import load_for_recognition\n"
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')\n"
        f"for _ in range(2): print(load_for_recognition(Path({str(wav)!r})).seconds > 1)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=_without_ffmpeg(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]  # a WAV needs no ffmpeg
    warnings = [line for line in done.stderr.splitlines() if "ffmpeg" in line]
    assert len(warnings) == 1, done.stderr
    assert "apt-get install ffmpeg" in warnings[0]
    assert "RuntimeWarning" not in done.stderr
