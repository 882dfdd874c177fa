"""The real service wired to the switchboard emulator over TCP (AMI and FastAGI), with
logged-in API users: the harness of the operator/queue end-to-end and chaos tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp

from agents.service import AgentsService
from db.users import PostgresUserRepository
from hotline.auth import AuthService
from hotline.keys import AGENTS
from switchboard import Clock, QueueLogConfig, Switchboard
from switchboard.testing import BACKEND_USER
from tests.conftest import SOUNDS
from tests.support.service import RunningService, running_service, service_settings
from tickets.model import Role

PASSWORD = "operator-password"
SCALE = 20.0  # simulated seconds per real second: a 20 s ring timeout takes 1 s


@dataclass
class Live:
    board: Switchboard
    service: RunningService
    http: aiohttp.ClientSession
    tokens: dict[str, str]

    @property
    def agents(self) -> AgentsService:
        return self.service.app[AGENTS]

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(
        self, who: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        async with self.http.post(path, json=body or {}, headers=self.auth(who)) as r:
            return r.status, await r.json()

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        async with self.http.get(path, headers=self.auth(who)) as r:
            return r.status, await r.json()

    async def login(self, who: str, extension: str) -> None:
        status, body = await self.post(who, "/api/v1/operators/me/login", {"extension": extension})
        assert status == 200, body


async def eventually(
    check: Callable[[], Awaitable[bool]] | Callable[[], bool], seconds: float = 10
) -> None:
    async with asyncio.timeout(seconds):
        while True:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return
            await asyncio.sleep(0.02)


@asynccontextmanager
async def live_hotline(
    database_url: str,
    tmp_path: Path,
    *,
    seed: int,
    users: Mapping[str, Role],
    settings: Mapping[str, Any] | None = None,
    board_options: Mapping[str, Any] | None = None,
) -> AsyncIterator[Live]:
    """Emulator and service started, AMI logged in, one bearer token per user; ``settings``
    are added to the service's, ``board_options`` to the emulator's (e.g. its AMI users)."""
    board = Switchboard(
        **{
            "recordings_dir": tmp_path / "recordings",
            "sounds_dir": SOUNDS,
            "ami_users": {"hotline": BACKEND_USER},
            "clock": Clock(scale=SCALE),
            "seed": seed,
            "queue_log": QueueLogConfig(database_url=database_url, file=tmp_path / "queue_log"),
            **(board_options or {}),
        }
    )
    await board.start()
    service_config = service_settings(
        database_url,
        tmp_path,
        ami_url=f"ami://hotline:secret@127.0.0.1:{board.ami_port}",
        ami_ping_interval=0.5,
        ami_action_timeout=3.0,
        **(settings or {}),
    )
    try:
        async with running_service(service_config) as service:
            board.dialplan.agi_port = service.agi_port
            auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
            tokens = {}
            for name, role in users.items():
                await auth.add_user(name, PASSWORD, role)
                token = (await auth.login(name, PASSWORD)).token
                assert token is not None
                tokens[name] = token
            async with aiohttp.ClientSession(base_url=service.http_url) as http:
                state = Live(board, service, http, tokens)
                await eventually(lambda: state.agents.connected)
                yield state
    finally:
        await board.stop()
