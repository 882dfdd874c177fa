"""``hotline demo``: the whole service with the switchboard emulator in place of Asterisk,
simulated operators logged in on softphones and simulated citizens calling 1022 and 115 at a
watchable rate — on the embedded database unless ``HOTLINE_DATABASE_URL`` is set.

The emulator listens for AMI on a free loopback port with a secret made for this run; the demo
logins (a supervisor and one user per operator) get fresh random passwords, printed once."""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiohttp import web
from pydantic import SecretStr

from db.province import PostgresProvinceRepository
from db.users import PostgresUserRepository
from hotline.app import DATABASE_URL, POOL, agents_ctx, build_app
from hotline.auth import AuthService
from hotline.keys import AGENTS, MENU, SETTINGS
from hotline.settings import Settings
from ivr.server import SECRET_VARIABLE
from switchboard import Clock, QueueLogConfig, Softphone, Switchboard
from switchboard.manager_conf import manager_conf_grants
from switchboard.traffic import TrafficProfile
from tickets.agencies import load_province as read_province_file
from tickets.erlang import Staffing, StaffingTarget, agents_needed, traffic_intensity
from tickets.model import Line, Role
from tickets.staffing import line_targets

logger = logging.getLogger(__name__)

SOUNDS = Path(__file__).resolve().parents[2] / "asterisk_conf" / "sounds"
BACKEND_GRANTS = manager_conf_grants()["hotline-backend"]  # as asterisk_conf/manager.conf
BOARD = web.AppKey("switchboard", Switchboard)
DEMO_AGENCY = "UBND-Q-HC"  # a district committee of the demo province


# The shift the demo staffs: citizens call this often at most, 20 % of them 115 (the traffic
# profile's share); each call keeps an operator busy for the ringing, the talk and the queue's
# 15 s wrap-up (asterisk_conf/queues.conf).
STAFFED_FOR = 120.0  # calls an hour
RING = (2.0, 6.0)  # seconds a simulated operator lets the phone ring
TALK = (30.0, 90.0)  # seconds a simulated conversation lasts
WRAP_UP = 15.0
BUSY_PER_CALL = sum(RING) / 2 + sum(TALK) / 2 + WRAP_UP
SHARE_115 = TrafficProfile().share_115
YOUR_SEAT = "op100"  # a softphone no simulated operator uses: the person trying the demo
YOUR_LOGIN = "operator"
SUPERVISOR_PHONE = "sup201"  # answers for the supervisor trying listen / whisper / barge
PICK_UP = 3.0  # seconds those two phones ring before "you" pick up


@dataclass(frozen=True)
class DemoOptions:
    seed: int = 1
    calls_per_hour: float = STAFFED_FOR  # more shows an overloaded shift, on purpose


def team_sizes(
    calls_per_hour: float, targets: Mapping[Line, StaffingTarget]
) -> dict[Line, Staffing]:
    """Operators per line by Erlang C for ``calls_per_hour`` (the line's share of it), each
    call keeping an operator ``BUSY_PER_CALL`` seconds, to reach the line's target."""
    shares = {Line.CITIZEN: 1.0 - SHARE_115, Line.MEDICAL: SHARE_115}
    return {
        line: agents_needed(
            traffic_intensity(calls_per_hour * share, 3600.0, BUSY_PER_CALL),
            BUSY_PER_CALL,
            targets[line].level,
            targets[line].seconds,
        )
        for line, share in shares.items()
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build_demo_app(settings: Settings, options: DemoOptions) -> web.Application:
    secret = secrets.token_hex(12)
    port = free_port()
    url = SecretStr(f"ami://hotline:{secret}@127.0.0.1:{port}")
    settings = settings.model_copy(update={"ami_url": url})
    app = build_app(settings)
    board = Switchboard(
        agi_host=settings.agi.host,
        agi_port=settings.agi.port,
        recordings_dir=settings.recordings,
        sounds_dir=SOUNDS if SOUNDS.is_dir() else None,
        ami_users={"hotline": (secret, BACKEND_GRANTS)},
        clock=Clock(scale=1.0),
        seed=options.seed,
    )
    if settings.agi_secret is not None:  # as in the PBX's hotline-agi-secret.conf
        board.globals[SECRET_VARIABLE] = settings.agi_secret.get_secret_value()
    app[BOARD] = board

    async def switchboard_ctx(app: web.Application) -> AsyncIterator[None]:
        # extconfig.conf's realtime queue_log: into the service's database, and to a file
        board.queue_log.config = QueueLogConfig(
            database_url=app[DATABASE_URL], file=settings.data_dir / "queue_log"
        )
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
    logins, one team of simulated operators per line sized by Erlang C, a free seat and a
    supervisor's softphone for the person trying it, and the citizens who call."""
    added = await PostgresProvinceRepository(app[POOL]).load(read_province_file(None))
    if any(added.values()):
        logger.info("demo: province reference data loaded (%s)", added)
    else:  # a second start: "loaded ({'categories': 0, …})" read as an empty province
        logger.info("demo: province reference data already in the database")
    users = PostgresUserRepository(app[POOL])
    auth = AuthService(users, token_ttl=timedelta(hours=12))
    service = app[AGENTS]
    settings = app[SETTINGS]
    targets = line_targets(settings)
    queues = {line: flow.queue for line, flow in app[MENU].lines.items()}
    teams = team_sizes(STAFFED_FOR, targets)
    first = {Line.CITIZEN: 101, Line.MEDICAL: 151}
    for line, staffing in teams.items():
        for n in range(staffing.agents):
            extension = f"op{first[line] + n}"
            board.add_softphone(
                Softphone(extension, ring_delay=RING, talk_time=TALK, name=extension)
            )
            await _demo_user(auth, extension, Role.OPERATOR)
            found = await users.credentials(extension)
            assert found is not None
            await service.login(found.user, extension, [queues[line]])
    board.add_softphone(
        Softphone(YOUR_SEAT, ring_delay=PICK_UP, talk_time=(180.0, 300.0), name="Bạn / You")
    )
    board.add_softphone(
        Softphone(SUPERVISOR_PHONE, ring_delay=PICK_UP, talk_time=3600.0, name="Giám sát")
    )
    lines = [
        f"demo: supervisor login  demo / {await _demo_user(auth, 'demo', Role.SUPERVISOR)}"
        f"  (softphone {SUPERVISOR_PHONE} for listen / whisper / barge on the wallboard; it"
        f" picks up after {PICK_UP:.0f} s)",
        f"demo: administrator login  admin / {await _demo_user(auth, 'admin', Role.ADMIN)}",
        f"demo: agency login ({DEMO_AGENCY})  ubnd / "
        f"{await _demo_user(auth, 'ubnd', Role.AGENCY, DEMO_AGENCY)}  (its inbox gets what"
        " you forward to it from your seat, e.g. a field report of noise in Quận Hải Châu: the"
        " simulated operators answer calls but forward no ticket)",
        f"demo: your operator seat  {YOUR_LOGIN} / "
        f"{await _demo_user(auth, YOUR_LOGIN, Role.OPERATOR)}  on softphone {YOUR_SEAT}"
        f" (no simulated operator uses it: calls ring on your screen, picked up after"
        f" {PICK_UP:.0f} s, and last 3 to 5 minutes)",
    ]
    board.start_traffic(TrafficProfile(calls_per_hour=options.calls_per_hour))
    for text in lines:
        logger.info("%s", text)
    logger.info(
        "demo: consoles on http://%s/login (operator, wallboard, agency inbox, administration);"
        " citizens look up a ticket on http://%s/lookup",
        settings.http_bind,
        settings.http_bind,
    )
    logger.info("demo: %s", staffing_text(teams, targets, STAFFED_FOR))
    if options.calls_per_hour > STAFFED_FOR:
        needed = team_sizes(options.calls_per_hour, targets)
        logger.warning(
            "demo: citizens call %.0f times an hour, more than the shift is staffed for: Erlang C"
            " would need %d operators on 1022 and %d on 115; expect queues to grow and"
            " callbacks to pile up (an overloaded shift, on purpose)",
            options.calls_per_hour,
            needed[Line.CITIZEN].agents,
            needed[Line.MEDICAL].agents,
        )
    else:
        logger.info("demo: citizens call about %.0f times an hour", options.calls_per_hour)


def staffing_text(
    teams: Mapping[Line, Staffing], targets: Mapping[Line, StaffingTarget], rate: float
) -> str:
    parts = [
        f"{line.value}: {teams[line].agents} simulated operators for"
        f" {targets[line].level:.0%} within {targets[line].seconds} s"
        f" ({teams[line].service_level:.1%} expected)"
        for line in (Line.CITIZEN, Line.MEDICAL)
    ]
    return (
        f"staffed by Erlang C for {rate:.0f} calls an hour ({SHARE_115:.0%} on 115,"
        f" {BUSY_PER_CALL:.0f} s of an operator per call): " + "; ".join(parts)
    )


async def _demo_user(
    auth: AuthService, username: str, role: Role, agency_code: str | None = None
) -> str:
    """A fresh random password for a demo login (created if missing)."""
    password = secrets.token_urlsafe(9)
    if not await auth.set_password(username, password):
        await auth.add_user(username, password, role, agency_code)
    return password
