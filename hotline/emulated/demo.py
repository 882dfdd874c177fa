"""``hotline demo``: the whole service with the switchboard emulator in place of Asterisk,
simulated operators logged in on softphones and simulated citizens calling 1022 and 115 at a
watchable rate — on the embedded database unless ``HOTLINE_DATABASE_URL`` is set.

The emulator listens for AMI on a free loopback port with a secret made for this run; the demo
logins (a supervisor and one user per operator) get fresh random passwords, printed once."""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from db.province import PostgresProvinceRepository
from db.users import PostgresUserRepository
from hotline.app import POOL, agents_ctx, build_app
from hotline.auth import AuthService
from hotline.keys import AGENTS, MENU, SETTINGS
from hotline.settings import Settings
from ivr.server import SECRET_VARIABLE
from switchboard import Clock, Softphone, Switchboard
from switchboard.traffic import TrafficProfile
from tickets.agencies import load_province as read_province_file
from tickets.model import Role

logger = logging.getLogger(__name__)

SOUNDS = Path(__file__).resolve().parents[2] / "asterisk_conf" / "sounds"
BACKEND_READ = {"system", "call", "agent", "dtmf", "reporting"}
BACKEND_WRITE = {"system", "call", "agent", "originate", "reporting"}
BOARD = web.AppKey("switchboard", Switchboard)
DEMO_AGENCY = "UBND-Q-HC"  # a district committee of the demo province


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 1
    calls_per_hour: float = 240.0
    operators: int = 4


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build_demo_app(settings: Settings, options: DemoOptions) -> web.Application:
    secret = secrets.token_hex(12)
    port = _free_port()
    url = SecretStr(f"ami://hotline:{secret}@127.0.0.1:{port}")
    settings = settings.model_copy(update={"ami_url": url})
    app = build_app(settings)
    board = Switchboard(
        agi_host=settings.agi.host,
        agi_port=settings.agi.port,
        recordings_dir=settings.recordings,
        sounds_dir=SOUNDS if SOUNDS.is_dir() else None,
        ami_users={"hotline": (secret, {"read": BACKEND_READ, "write": BACKEND_WRITE})},
        clock=Clock(scale=1.0),
        seed=options.seed,
    )
    if settings.agi_secret is not None:  # as in the PBX's hotline-agi-secret.conf
        board.globals[SECRET_VARIABLE] = settings.agi_secret.get_secret_value()
    app[BOARD] = board

    async def switchboard_ctx(app: web.Application) -> AsyncIterator[None]:
        await board.start("127.0.0.1", port)
        logger.info("demo: emulated Asterisk (AMI) on 127.0.0.1:%d", port)
        try:
            yield
        finally:
            await board.stop()

    async def people_ctx(app: web.Application) -> AsyncIterator[None]:
        await _people(app, board, options)
        try:
            yield
        finally:
            board.stop_traffic()

    app.cleanup_ctx.insert(app.cleanup_ctx.index(agents_ctx), switchboard_ctx)
    app.cleanup_ctx.append(people_ctx)
    return app


async def _people(app: web.Application, board: Switchboard, options: DemoOptions) -> None:
    """The demo province (agencies, localities, routing: loaded if missing), the console
    logins, the operators on their softphones, and the citizens who call."""
    added = await PostgresProvinceRepository(app[POOL]).load(read_province_file(None))
    logger.info("demo: province reference data loaded (%s)", added)
    auth = AuthService(PostgresUserRepository(app[POOL]), token_ttl=timedelta(hours=12))
    service = app[AGENTS]
    lines = [
        f"demo: supervisor login  demo / {await _demo_user(auth, 'demo', Role.SUPERVISOR)}",
        f"demo: administrator login  admin / {await _demo_user(auth, 'admin', Role.ADMIN)}",
        f"demo: agency login ({DEMO_AGENCY})  ubnd / "
        f"{await _demo_user(auth, 'ubnd', Role.AGENCY, DEMO_AGENCY)}",
    ]
    for n in range(options.operators):
        extension = f"op{101 + n}"
        board.add_softphone(
            Softphone(extension, ring_delay=(2.0, 6.0), talk_time=(25.0, 120.0), name=extension)
        )
        password = await _demo_user(auth, extension, Role.OPERATOR)
        user = await auth.authenticate((await auth.login(extension, password)).token or "")
        assert user is not None
        await service.login(user, extension, None)
        lines.append(f"demo: operator {extension} on PJSIP/{extension}  {extension} / {password}")
    queues = sorted(flow.queue for flow in app[MENU].lines.values())
    board.start_traffic(TrafficProfile(calls_per_hour=options.calls_per_hour))
    for line in lines:
        logger.info("%s", line)
    logger.info(
        "demo: consoles on http://%s/login (operator, wallboard, agency inbox, administration);"
        " citizens look up a ticket on http://%s/lookup",
        app[SETTINGS].http_bind,
        app[SETTINGS].http_bind,
    )
    logger.info(
        "demo: %d operators in %s; citizens call about %.0f times an hour",
        options.operators,
        queues,
        options.calls_per_hour,
    )


async def _demo_user(
    auth: AuthService, username: str, role: Role, agency_code: str | None = None
) -> str:
    """A fresh random password for a demo login (created if missing)."""
    password = secrets.token_urlsafe(9)
    if not await auth.set_password(username, password):
        await auth.add_user(username, password, role, agency_code)
    return password
