"""``python -m hotline.prompts``: make the placeholder prompt audio (``ivr.prompts``) from the
menu file's texts, or with ``--database-url`` (default ``HOTLINE_DATABASE_URL``) from the texts
an administrator edited in the console (table ``prompt_texts``) in their place. The IVR keeps
playing whatever files are in place, so an edited text is heard once the files are made again.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from db.admin import overrides_at as stored_overrides
from db.errors import DatabaseError
from ivr.errors import MenuError
from ivr.menu import load_menu
from ivr.prompts import (
    DEFAULT_MENU,
    DEFAULT_OUT,
    SPEECH_RATE,
    PromptError,
    find_tools,
    generate,
    with_overrides,
)
from runtime.loop import run_loop

logger = logging.getLogger(__name__)


async def read_overrides(database_url: str) -> dict[str, dict[str, str]]:
    """The edited texts stored in the database, prompt id → language → text."""
    try:
        rows = await stored_overrides(database_url)
    except DatabaseError as err:
        raise PromptError(f"cannot read the edited prompt texts from the database: {err}") from err
    found: dict[str, dict[str, str]] = {}
    for row in rows:
        found.setdefault(row.key, {})[row.lang] = row.text
    return found


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m hotline.prompts",
        description="Make placeholder prompt audio (espeak-ng + sox) from the menu file's texts.",
    )
    parser.add_argument(
        "--menu",
        type=Path,
        default=DEFAULT_MENU,
        help="menu file with the [prompts] texts (default: the packaged ivr/menu.toml)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help="sounds folder; files go to OUT/<vi|en>/hotline/<id>.wav "
        "(default: asterisk_conf/sounds, relative to the current directory)",
    )
    parser.add_argument("--only", metavar="ID", help="make this one prompt only")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("HOTLINE_DATABASE_URL"),
        help="use the prompt texts edited in the administrator console, stored in this "
        "database (default: HOTLINE_DATABASE_URL; unset: the menu file's texts only)",
    )
    parser.add_argument(
        "--rate",
        type=int,
        default=SPEECH_RATE,
        help=f"speaking rate in words per minute (default: {SPEECH_RATE})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        tools = find_tools()
        menu = load_menu(args.menu)
        if args.database_url:
            menu = with_overrides(menu, run_loop(read_overrides(args.database_url)))
        written = generate(menu, args.out, tools, only=args.only, rate=args.rate)
    except (PromptError, MenuError) as err:
        logger.error("%s", err)  # a clear message for the administrator, no traceback
        return 1
    logger.info("%d prompt files under %s", len(written), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
