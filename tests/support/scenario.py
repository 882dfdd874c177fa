"""A database holding the replayable 7-month scenario (``hotline scenario load``: the seed
province's figures), one per test module that asks for it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from tests.conftest import on_server, with_database


@pytest.fixture(scope="module")
def scenario_url(
    server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per module with the 7-month scenario loaded by ``hotline scenario load``."""
    name = f"hotline_scn_{uuid.uuid4().hex[:10]}"
    asyncio.run(on_server(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    url = with_database(server_url, name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env |= {"HOTLINE_DATA_DIR": str(tmp_path_factory.mktemp("scn")), "HOTLINE_DATABASE_URL": url}
    loaded = subprocess.run(
        [sys.executable, "-m", "hotline", "scenario", "load", "--seed", "1022"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert loaded.returncode == 0, loaded.stderr
    assert "6230 tickets" in loaded.stdout  # 3,057 on 1022 + 3,173 on 115
    yield url
    asyncio.run(on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
