"""The ``hotline`` command line: one parser with a subcommand per task (the service, the demo,
the load simulation, migrations, users, reports, reference data, API keys, the speech model);
the back-office and speech commands add their own parsers (``hotline.cli_backoffice``,
``speech.cli``)."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp import web

from db.errors import DatabaseError
from db.pool import open_database
from db.users import PostgresUserRepository, UsernameTaken
from hotline import cli_backoffice
from hotline.app import build_app
from hotline.auth import AuthService, InvalidUser
from hotline.emulated.demo import STAFFED_FOR, DemoOptions, build_demo_app
from hotline.emulated.plan import SCENARIOS, SimulationOptions
from hotline.emulated.replay import ReplayOptions, replay
from hotline.emulated.simulate import simulate
from hotline.logs import configure_logging
from hotline.settings import Settings, SettingsError, load_settings
from ivr.errors import MenuError
from runtime import heap
from runtime.loop import new_event_loop, run_loop
from speech import cli as speech_cli
from speech.errors import SpeechError
from tickets.model import Role
from tickets.reports import parse_day
from tickets.scenario import END, START

logger = logging.getLogger("hotline")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline",
        description="Public hotlines 1022 and 115 next to Asterisk: the service and its tools.",
        epilog="Each command has its own --help. Settings: defaults < --config FILE < HOTLINE_* "
        "environment < flags (README.md, Configuration).",
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--data-dir", type=Path, help="embedded database, spool (HOTLINE_DATA_DIR)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (database, FastAGI, HTTP)")
    serve.add_argument("--agi-bind", help="host:port for FastAGI (default 127.0.0.1:4573)")
    serve.add_argument("--http-bind", help="host:port for HTTP (default 127.0.0.1:8080)")

    demo = commands.add_parser(
        "demo", help="the service with an emulated Asterisk, operators and callers (try it)"
    )
    demo.add_argument("--agi-bind", help="host:port for FastAGI (default 127.0.0.1:4573)")
    demo.add_argument("--http-bind", help="host:port for HTTP (default 127.0.0.1:8080)")
    demo.add_argument("--seed", type=int, default=1, help="the simulation's random seed")
    demo.add_argument(
        "--calls-per-hour",
        type=float,
        default=STAFFED_FOR,
        help=f"how often citizens call (default {STAFFED_FOR:.0f}: the rate the simulated "
        "operators are sized for by Erlang C; more shows an overloaded shift)",
    )

    simulate = commands.add_parser(
        "simulate", help="load the service through the emulator and print what became of calls"
    )
    simulate.add_argument("--seed", type=int, default=1, help="the simulation's random seed")
    simulate.add_argument("--hours", type=float, default=1.0, help="simulated hours of calls")
    simulate.add_argument("--calls", type=int, help="stop after this many calls")
    simulate.add_argument("--scale", type=float, default=60.0, help="simulated s per real s")
    simulate.add_argument("--scenario", default="seed", choices=sorted(SCENARIOS))
    simulate.add_argument("--calls-per-hour", type=float, default=120.0, help="at the peak hour")
    simulate.add_argument("--start-hour", type=int, default=8, choices=range(24), metavar="0..23")
    simulate.add_argument(
        "--operators-1022", type=int, default=7, choices=range(51), metavar="0..50"
    )
    simulate.add_argument(
        "--operators-115", type=int, default=5, choices=range(51), metavar="0..50"
    )
    simulate.add_argument("--aht-1022", type=float, default=240.0, help="mean handling time, s")
    simulate.add_argument("--aht-115", type=float, default=120.0, help="mean handling time, s")
    simulate.add_argument("--patience", type=float, default=120.0, help="callers' mean, s")
    simulate.add_argument("--no-progress", action="store_true", help="no progress bar")
    simulate.add_argument(
        "--instances",
        type=int,
        default=1,
        help="service instances and emulated PBXs, as many of each, on one database",
    )
    simulate.add_argument(
        "--into-configured-database",
        action="store_true",
        help="write into the configured database (its tickets are marked simulated and left "
        "out of reports) instead of a scratch database made and dropped for the run",
    )

    replay = commands.add_parser(
        "replay",
        help="play the seed province's months through the system; the report must equal the plan",
    )
    replay.add_argument("--from", dest="start", default=START.isoformat(), help="first day")
    replay.add_argument("--to", dest="end", default=END.isoformat(), help="last day")
    replay.add_argument("--seed", type=int, default=1, help="who does what (the plan's seed)")
    replay.add_argument(
        "--scale", type=float, default=ReplayOptions.scale, help="simulated s per real s"
    )
    replay.add_argument("--no-progress", action="store_true", help="no progress bar")

    commands.add_parser("migrate", help="apply pending database migrations and exit")

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="user_command", required=True
    )
    add = user.add_parser("add", help="create a user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--agency", help="agency code (agency role only)")
    add.add_argument("--password", help="the password (asked for when omitted)")
    cli_backoffice.add_parsers(commands)
    speech_cli.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "log_level": args.log_level,
        "agi_bind": getattr(args, "agi_bind", None),
        "http_bind": getattr(args, "http_bind", None),
    }
    try:
        settings = load_settings(config_file=args.config, overrides=overrides)
    except SettingsError as err:
        print(f"hotline: {err}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    try:
        if args.command == "serve":
            return serve(settings)
        if args.command == "demo":
            if args.calls_per_hour <= 0:
                print("hotline: --calls-per-hour: > 0", file=sys.stderr)
                return 2
            options = DemoOptions(args.seed, args.calls_per_hour)
            return serve(settings, build_demo_app(settings, options))
        if args.command == "simulate":
            return _simulate(settings, args)
        if args.command == "replay":
            return _replay(settings, args)
        if args.command == "migrate":
            return run_loop(_migrate(settings))
        if args.command in speech_cli.COMMANDS:
            return speech_cli.run(settings.vosk_model, args)
        if args.command in cli_backoffice.COMMANDS:
            return cli_backoffice.run(settings, args)
        return run_loop(_add_user(settings, args))
    except (MenuError, DatabaseError, InvalidUser, UsernameTaken, OSError, SpeechError) as err:
        print(f"hotline: {err}", file=sys.stderr)
        return 1


def serve(settings: Settings, app: web.Application | None = None) -> int:
    app = app or build_app(settings)
    app.on_startup.append(_settle_heap)  # after the cleanup contexts: the pool, the servers
    logger.info(
        "starting hotline: HTTP on http://%s, FastAGI on agi://%s/hotline, database %s",
        settings.http,
        settings.agi,
        "from HOTLINE_DATABASE_URL" if settings.database_url else f"embedded in {settings.pgdata}",
    )
    web.run_app(
        app,
        host=settings.http.host,
        port=settings.http.port,
        print=None,
        shutdown_timeout=10.0,
        access_log=None,
        loop=new_event_loop(),
    )
    logger.info("hotline stopped")
    return 0


async def _settle_heap(app: web.Application) -> None:
    heap.settle()


def _simulate(settings: Settings, args: argparse.Namespace) -> int:
    if args.hours <= 0 or args.scale <= 0 or args.calls_per_hour <= 0 or args.patience <= 0:
        print("hotline: --hours, --scale, --calls-per-hour, --patience: > 0", file=sys.stderr)
        return 2
    if args.aht_1022 <= 0 or args.aht_115 <= 0 or (args.calls is not None and args.calls < 1):
        print("hotline: --aht-1022, --aht-115 and --calls: > 0", file=sys.stderr)
        return 2
    if args.instances < 1:
        print("hotline: --instances: 1 or more", file=sys.stderr)
        return 2
    if args.log_level is None:  # the progress bar, not a log line per call
        logging.getLogger().setLevel(logging.WARNING)
    options = SimulationOptions(
        seed=args.seed,
        hours=args.hours,
        calls=args.calls,
        scale=args.scale,
        scenario=args.scenario,
        calls_per_hour=args.calls_per_hour,
        start_hour=args.start_hour,
        operators_1022=args.operators_1022,
        operators_115=args.operators_115,
        aht_1022=args.aht_1022,
        aht_115=args.aht_115,
        patience=args.patience,
        progress=not args.no_progress,
        instances=args.instances,
    )
    return simulate(settings, options, into_configured_database=args.into_configured_database)


def _replay(settings: Settings, args: argparse.Namespace) -> int:
    try:
        start, end = parse_day(args.start), parse_day(args.end)
    except ValueError as err:
        print(f"hotline: {err}", file=sys.stderr)
        return 2
    if not START <= start <= end <= END or args.scale <= 0:
        print(
            f"hotline: --from ≤ --to within {START:%d/%m/%Y}–{END:%d/%m/%Y} (the seed's months);"
            " --scale > 0",
            file=sys.stderr,
        )
        return 2
    if args.log_level is None:  # the progress bar, not a log line per call
        logging.getLogger().setLevel(logging.WARNING)
    options = ReplayOptions(start, end, args.seed, args.scale, progress=not args.no_progress)
    return replay(settings, options)


def _database(settings: Settings, *, migrate_schema: bool) -> Any:
    url = settings.database_url.get_secret_value() if settings.database_url else None
    return open_database(url, settings.pgdata, migrate_schema=migrate_schema)


async def _migrate(settings: Settings) -> int:
    async with _database(settings, migrate_schema=True):
        logger.info("database schema is up to date")
    return 0


async def _add_user(settings: Settings, args: argparse.Namespace) -> int:
    password = args.password or getpass.getpass(f"password for {args.name}: ")
    async with _database(settings, migrate_schema=settings.migrate_on_start) as pool:
        auth = AuthService(PostgresUserRepository(pool), token_ttl=timedelta(hours=1))
        user = await auth.add_user(args.name, password, Role(args.role), args.agency)
    print(f"user {user.username} ({user.role.value}) created")
    return 0
