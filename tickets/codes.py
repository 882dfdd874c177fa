"""Ticket codes a citizen can read out on the phone: ``<line>-<yy>-<nnnnnn>``."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from tickets.model import Line

HOTLINE_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CODE_PATTERN = re.compile(r"^(1022|115)-(\d{2})-(\d{6,})$")


def format_code(line: Line, year: int, number: int) -> str:
    return f"{line.value}-{year % 100:02d}-{number:06d}"


def plain_int(text: str) -> int | None:
    """A whole number ≥ 0 in ASCII digits that fits a bigint (an id, a limit), else ``None``:
    ``"²"`` passes ``str.isdigit`` but not ``int``."""
    if text.isascii() and text.isdigit() and len(text) <= 18:
        return int(text)
    return None


def is_ticket_code(text: str) -> bool:
    return CODE_PATTERN.match(text) is not None


def code_year(moment: datetime) -> int:
    """The year a ticket is numbered in: the calendar year at the hotline, not in UTC."""
    return moment.astimezone(HOTLINE_TZ).year
