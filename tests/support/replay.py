"""One week of the seed province replayed through the real system (``hotline replay``: emulated
PBX, FastAGI, queues, operators and agencies on the API, the citizens' SMS answers), once per
test session on a fresh database, with the plan it was replayed from. Every test of the
report's figures reads this database and compares them with the plan; the replay takes minutes,
so the tests that ask for it may take that long."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from hotline.emulated.replay_plan import (
    Figures,
    PlannedCall,
    in_period,
    plan_replay,
    planned_figures,
)
from tests.conftest import on_server, with_database
from tickets.agencies import load_province

WEEK = (date(2019, 11, 18), date(2019, 11, 24))  # Monday to Sunday
SEED = 1
REPLAY_TIMEOUT = 840  # seconds; the week takes two to three minutes on an idle 2-core machine


@dataclass(frozen=True)
class ReplayedWeek:
    url: str  # the database the week was replayed into
    data_dir: Path  # the replay's data directory (recordings)
    output: str  # what ``hotline replay`` printed: the report beside the plan
    plan: list[PlannedCall]  # the week's calls as planned
    figures: Figures  # what the report must show: ``planned_figures(plan)``

    @property
    def start(self) -> date:
        return WEEK[0]

    @property
    def end(self) -> date:
        return WEEK[1]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Whichever test asks for the week first pays for the replay: its timeout allows it."""
    for item in items:
        if "replayed_week" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.timeout(REPLAY_TIMEOUT + 60))


@pytest.fixture(scope="session")
def replayed_week(
    server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ReplayedWeek]:
    name = f"hotline_week_{uuid.uuid4().hex[:10]}"
    asyncio.run(on_server(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_db}"'))
    url = with_database(server_url, name)
    data_dir = tmp_path_factory.mktemp("week")
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
        env |= {"HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_DATABASE_URL": url}
        start, end = (day.isoformat() for day in WEEK)
        replayed = subprocess.run(
            [sys.executable, "-m", "hotline", "replay", "--from", start, "--to", end,
             "--seed", str(SEED), "--no-progress"],
            env=env, capture_output=True, text=True, timeout=REPLAY_TIMEOUT,
        )  # fmt: skip
        assert replayed.returncode == 0, replayed.stdout[-4000:] + replayed.stderr[-4000:]
        plan = in_period(plan_replay(load_province(None), SEED), *WEEK)
        yield ReplayedWeek(url, data_dir, replayed.stdout, plan, planned_figures(plan))
    finally:
        asyncio.run(on_server(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
