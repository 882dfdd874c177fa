"""``hotline demo`` as a person tries it: a shift staffed by Erlang C to meet the lines' targets,
a free operator seat that rings on the person's screen, a supervisor's softphone for listening
in, and an overloaded shift only when asked for with ``--calls-per-hour``."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from playwright.async_api import expect

from hotline.emulated.demo import (
    BOARD,
    BUSY_PER_CALL,
    STAFFED_FOR,
    SUPERVISOR_PHONE,
    YOUR_LOGIN,
    YOUR_SEAT,
    DemoOptions,
    build_demo_app,
    team_sizes,
)
from hotline.settings import Settings
from switchboard import CallerScript
from tests.support.browser import (
    chromium,
    log_softphone_in,
    new_page,
    screenshot,
    script_errors,
)
from tickets.erlang import service_level
from tickets.model import Line
from tickets.staffing import line_targets


def test_given_the_rate_the_demo_is_staffed_for_when_sized_by_erlang_c_then_each_line_meets_its_target_with_the_fewest_operators() -> (
    None
):
    targets = line_targets(Settings())
    teams = team_sizes(STAFFED_FOR, targets)

    for line, staffing in teams.items():
        target = targets[line]
        assert staffing.service_level >= target.level, line
        fewer = staffing.agents - 1
        if fewer > staffing.intensity:  # one less would still keep the queue stable: too few
            assert service_level(fewer, staffing.intensity, BUSY_PER_CALL, target.seconds) < (
                target.level
            )
    assert (teams[Line.CITIZEN].agents, teams[Line.MEDICAL].agents) == (4, 2)
    overloaded = team_sizes(400.0, targets)
    assert overloaded[Line.CITIZEN].agents > teams[Line.CITIZEN].agents
    assert overloaded[Line.MEDICAL].agents > teams[Line.MEDICAL].agents


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _settings(database_url: str, data_dir: Path, http_bind: str) -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "data_dir": data_dir,
            "agi_bind": f"127.0.0.1:{_free_port()}",
            "http_bind": http_bind,
        }
    )


@dataclass
class Demo:
    app: web.Application
    url: str
    log: list[str]

    def password(self, login: str) -> str:
        for line in self.log:
            found = re.search(rf"\b{re.escape(login)} / (\S+)", line)
            if found:
                return found.group(1)
        raise AssertionError(f"no password for {login} in the demo's log")


@pytest.fixture
async def demo(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> AsyncIterator[Demo]:
    caplog.set_level(logging.INFO, logger="hotline.emulated.demo")
    settings = _settings(database_url, tmp_path, "127.0.0.1:18170")
    app = build_demo_app(settings, DemoOptions(seed=3, calls_per_hour=400.0))
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    try:
        await runner.setup()
        app[BOARD].stop_traffic()  # quiet from here: the test places its own call
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        log = [r.getMessage() for r in caplog.records if r.name == "hotline.emulated.demo"]
        yield Demo(app, f"http://127.0.0.1:{port}", log)
    finally:
        await runner.cleanup()


async def test_given_the_demo_when_a_person_takes_the_free_seat_and_a_supervisor_listens_then_both_work_and_the_overload_was_announced(
    demo: Demo,
) -> None:
    assert any("staffed by Erlang C for 120 calls an hour" in line for line in demo.log)
    overload = [line for line in demo.log if "more than the shift is staffed for" in line]
    assert len(overload) == 1
    assert "would need 10 operators on 1022 and 4 on 115" in overload[0]
    seat = next(line for line in demo.log if "your operator seat" in line)
    assert f"on softphone {YOUR_SEAT}" in seat
    assert any(f"softphone {SUPERVISOR_PHONE}" in line for line in demo.log)
    # the agency's inbox stays empty until the person forwards it something: the log says how
    agency = next(line for line in demo.log if "agency login" in line)
    assert "a field report of noise in Quận Hải Châu" in agency
    board = demo.app[BOARD]
    simulated = {
        m.interface for q in board.truth().queues.values() for m in q.members
    }  # the simulated teams, logged in at start
    assert len(simulated) == 6
    assert f"PJSIP/{YOUR_SEAT}" not in simulated

    async with chromium() as browser:
        page = await new_page(browser)
        await page.goto(f"{demo.url}/login?next=/operator")
        await page.fill("input[name=username]", YOUR_LOGIN)
        await page.fill("input[name=password]", demo.password(YOUR_LOGIN))
        await page.click("button[type=submit]")
        await log_softphone_in(page, YOUR_SEAT)
        for interface in simulated:  # the simulated operators are busy elsewhere
            board.app_queue.pause_member(interface, True, reason="test")

        call = await board.place_call("1022", "0912345678", script=CallerScript(keys=["3"]))
        await expect(page.locator("#state")).to_have_attribute(
            "data-state", "ringing", timeout=20_000
        )
        await page.wait_for_selector("#call-panel[data-state=live]", timeout=20_000)
        await expect(page.locator("#state")).to_have_attribute("data-state", "on_call")
        await screenshot(page, "demo-your-seat")

        wallboard = await new_page(browser)
        await wallboard.goto(f"{demo.url}/login?next=/wallboard")
        await wallboard.fill("input[name=username]", "demo")
        await wallboard.fill("input[name=password]", demo.password("demo"))
        await wallboard.click("button[type=submit]")
        row = f"#operators tr[data-interface='PJSIP/{YOUR_SEAT}'][data-state=on_call]"
        await wallboard.wait_for_selector(row)
        await wallboard.fill("#my-extension", SUPERVISOR_PHONE)
        await wallboard.click(f"{row} button[data-action=listen]")
        await expect(wallboard.locator("#toast")).to_have_text(
            f"Bạn đang nghe cuộc gọi của {YOUR_LOGIN} trên máy {SUPERVISOR_PHONE}.",
            timeout=20_000,
        )
        assert [s.mode for s in board.spies] == ["listen"]
        await screenshot(wallboard, "demo-supervisor-listens")
        assert script_errors(page) == []
        assert script_errors(wallboard) == []
        call.hangup()


async def test_given_a_demo_started_before_on_the_database_when_it_starts_again_then_the_log_says_the_province_is_there(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="hotline.emulated.demo")
    settings = _settings(database_url, tmp_path, "127.0.0.1:18171")
    for _ in range(2):
        app = build_demo_app(settings, DemoOptions(seed=3, calls_per_hour=120.0))
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        try:
            await runner.setup()
            app[BOARD].stop_traffic()
        finally:
            await runner.cleanup()
    province = [
        r.getMessage() for r in caplog.records if "province reference data" in r.getMessage()
    ]
    assert province[0].startswith("demo: province reference data loaded ({'categories': 5,")
    assert province[1] == "demo: province reference data already in the database"
