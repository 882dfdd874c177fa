"""Back-office commands of ``hotline``: ``report``, ``scenario load``, ``province load``,
``apikey add|revoke``. ``hotline.cli`` adds these parsers and hands the parsed arguments here."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from db.apikeys import ApiKeyNameTaken, PostgresApiKeyRepository
from db.pool import open_database
from db.province import load_province
from db.reports import PostgresReportRepository
from db.scenario import ScenarioAlreadyLoaded, load_scenario
from hotline.settings import Settings
from ivr.menu import load_menu
from runtime.loop import run_loop
from tickets.agencies import load_province as read_province_file
from tickets.errors import DomainError
from tickets.model import Line
from tickets.reports import Lang, check_period, format_table, parse_day, to_csv
from tickets.scenario import DEFAULT_SEED, END, START, generate
from tickets.staffing import StaffingPolicy

COMMANDS = frozenset({"report", "scenario", "province", "apikey"})


def _day(text: str) -> date:
    try:
        return parse_day(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from err


def add_parsers(commands: Any) -> None:
    report = commands.add_parser("report", help="print the report for a period (and export CSV)")
    report.add_argument(
        "--from", dest="start", type=_day, required=True, help="dd/mm/yyyy or yyyy-mm-dd"
    )
    report.add_argument("--to", dest="end", type=_day, required=True, help="the last day, too")
    report.add_argument("--line", choices=[line.value for line in Line], help="one line only")
    report.add_argument("--csv", type=Path, help="also write the figures to this CSV file")
    report.add_argument(
        "--from-rows",
        action="store_true",
        help="count over the tickets and calls themselves instead of the daily rollups"
        " (slow on a large database; a cross-check of the rollups)",
    )
    report.add_argument("--lang", choices=[lang.value for lang in Lang], default=Lang.VI.value)

    filler = (
        "a fast filler for benchmarks and screenshots: tickets written in their final states,"
        " bypassing the IVR, queues, lifecycle, outbox and survey (the report's figures are"
        " proven by hotline replay)"
    )
    scenario = commands.add_parser(
        "scenario", help="the seed's 7 months as a filler", description=filler
    ).add_subparsers(dest="scenario_command", required=True)
    load = scenario.add_parser(
        "load",
        help=f"load the province and the scenario ({START} – {END}) into the database",
        description=filler,
    )
    load.add_argument("--seed", type=int, default=DEFAULT_SEED)
    load.add_argument("--province", type=Path, help="province file (default: the demo province)")

    province = commands.add_parser("province", help="reference data").add_subparsers(
        dest="province_command", required=True
    )
    province_load = province.add_parser(
        "load", help="load localities, agencies, routing, holidays, facilities (idempotent)"
    )
    province_load.add_argument("file", type=Path, nargs="?", help="default: the demo province")

    apikey = commands.add_parser("apikey", help="Open311 API keys").add_subparsers(
        dest="apikey_command", required=True
    )
    apikey.add_parser("add", help="create a key (printed once)").add_argument("name")
    apikey.add_parser("revoke", help="revoke a key").add_argument("name")


def run(settings: Settings, args: argparse.Namespace) -> int:
    try:
        return run_loop(_run(settings, args))
    except (DomainError, ScenarioAlreadyLoaded, ApiKeyNameTaken) as err:
        print(f"hotline: {err}", file=sys.stderr)
        return 1


def _open(settings: Settings) -> Any:
    url = settings.database_url.get_secret_value() if settings.database_url else None
    return open_database(url, settings.pgdata, migrate_schema=settings.migrate_on_start)


async def _run(settings: Settings, args: argparse.Namespace) -> int:
    async with _open(settings) as pool:
        if args.command == "report":
            try:
                check_period(args.start, args.end)
            except ValueError as err:
                print(f"hotline: --from, --to: {err}", file=sys.stderr)
                return 2
            lines = (Line(args.line),) if args.line else (Line.CITIZEN, Line.MEDICAL)
            # Queue → line from the menu file, the Erlang C targets from the settings.
            staffing = StaffingPolicy.from_config(settings, load_menu(settings.menu_file).lines)
            report = await PostgresReportRepository(pool, from_rows=args.from_rows).report(
                args.start, args.end, lines, staffing
            )
            lang = Lang(args.lang)
            print(format_table(report, lang), end="")
            if args.csv:
                args.csv.write_text(to_csv(report, lang), encoding="utf-8")
            return 0
        if args.command == "scenario":
            province = read_province_file(args.province)
            scenario = generate(province, args.seed)
            async with pool.acquire() as conn:
                await load_province(conn, province)
                count = await load_scenario(conn, scenario)
            print(f"scenario {args.seed}: {count} tickets, {len(scenario.calls)} calls loaded")
            return 0
        if args.command == "province":
            async with pool.acquire() as conn:
                added = await load_province(conn, read_province_file(args.file))
            print(", ".join(f"{name}: {n}" for name, n in added.items()) + " added")
            return 0
        keys = PostgresApiKeyRepository(pool)
        if args.apikey_command == "add":
            key = await keys.add(args.name)
            print(f"API key for {args.name} (shown only now): {key}")
            return 0
        if not await keys.revoke(args.name):
            print(f"hotline: no active API key named {args.name!r}", file=sys.stderr)
            return 1
        print(f"API key {args.name} revoked")
        return 0
