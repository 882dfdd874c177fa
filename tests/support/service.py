"""The real service (aiohttp app with its cleanup contexts) on ephemeral ports, for one test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from hotline.app import POOL, build_app
from hotline.keys import AGI
from hotline.settings import Settings
from ivr.server import FastAgiServer


@dataclass
class RunningService:
    app: web.Application
    settings: Settings
    http_url: str

    @property
    def agi(self) -> FastAgiServer:
        return self.app[AGI]

    @property
    def agi_port(self) -> int:
        return self.app[AGI].port

    @property
    def pool(self) -> Any:
        return self.app[POOL]


def service_settings(database_url: str, data_dir: Path, **extra: Any) -> Settings:
    return Settings.model_validate(
        {
            "database_url": database_url,
            "data_dir": data_dir,
            "agi_bind": "127.0.0.1:0",
            "http_bind": "127.0.0.1:0",
            "spool_retry_interval": 0.2,
            "db_timeout": 2.0,
            "agi_shutdown_grace": 5.0,
            **extra,
        }
    )


@asynccontextmanager
async def running_service(settings: Settings) -> AsyncIterator[RunningService]:
    app = build_app(settings)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    try:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield RunningService(app, settings, f"http://127.0.0.1:{port}")
    finally:
        await runner.cleanup()
