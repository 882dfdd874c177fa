"""What a call flow needs from the telephony side; ``ivr/agi.py`` implements it over FastAGI."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Recording:
    path: Path
    seconds: float
    ended_by: str  # "dtmf", "timeout" (silence or max length) or "hangup"


class Caller(Protocol):
    """The person on the line. Every method raises ``CallerHungUp`` once they are gone."""

    async def answer(self) -> None: ...

    async def play(self, prompt: str) -> None: ...

    async def ask(self, prompt: str, *, timeout_ms: int) -> str | None:
        """Play ``prompt`` and wait for one key; ``None`` when no key was pressed."""
        ...

    async def record(
        self, path: Path, *, max_seconds: int, silence_seconds: int, beep: bool
    ) -> Recording | None:
        """Record into ``path`` (no extension); ``None`` when Asterisk could not write it."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def get_variable(self, name: str) -> str | None: ...
