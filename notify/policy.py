"""Delivery policy: exponential backoff with jitter, quiet hours, and reading a citizen's reply."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone
from enum import StrEnum

from notify.templates import strip_diacritics

VIETNAM = timezone(timedelta(hours=7), "ICT")  # no daylight saving time


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt ``n`` (1-based) failed ⇒ wait ``min(cap, base·2^(n-1))``, the upper half of it
    fixed and the lower half random, so that many instances do not retry in step."""

    base: float = 30.0
    cap: float = 3600.0
    max_attempts: int = 8

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        ceiling = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        return ceiling / 2 + rng() * ceiling / 2

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


@dataclass(frozen=True)
class QuietHours:
    """Non-urgent messages wait for the morning (Vietnam time); ``start == end`` disables."""

    start: int = 22
    end: int = 7

    def release_at(self, now: datetime) -> datetime | None:
        """When a message due ``now`` may go out, or ``None`` when it may go now."""
        if self.start == self.end:
            return None
        local = now.astimezone(VIETNAM)
        hour = local.hour
        quiet = (
            self.start <= hour < self.end
            if self.start < self.end
            else hour >= self.start or hour < self.end
        )
        if not quiet:
            return None
        release = datetime.combine(local.date(), time(self.end), VIETNAM)
        if release <= local:
            release += timedelta(days=1)
        return release


class Reply(StrEnum):
    SATISFIED = "satisfied"
    UNSATISFIED = "unsatisfied"
    OPT_OUT = "opt_out"
    UNKNOWN = "unknown"


OPT_OUT_WORDS = frozenset({"TC", "TU CHOI", "TUCHOI", "HUY", "STOP", "DUNG"})


def parse_reply(text: str) -> Reply:
    """``1`` satisfied, ``2`` not satisfied, ``TC``/``HUY``/``STOP`` opt out (accents, case and
    trailing punctuation ignored); anything else is not understood."""
    words = strip_diacritics(text).upper().replace(".", " ").replace(",", " ").split()
    if not words:
        return Reply.UNKNOWN
    if " ".join(words) in OPT_OUT_WORDS or words[0] in OPT_OUT_WORDS:
        return Reply.OPT_OUT
    if words[0] == "1":
        return Reply.SATISFIED
    if words[0] == "2":
        return Reply.UNSATISFIED
    return Reply.UNKNOWN
