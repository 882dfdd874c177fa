"""What a call flow needs from the telephony side; ``ivr/agi.py`` implements it over FastAGI."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Recording:
    path: Path
    seconds: float
    ended_by: str  # "dtmf", "timeout" (silence or max length) or "hangup"
    digit: str | None = None  # the key that ended it (ended_by "dtmf")


class Caller(Protocol):
    """The person on the line. Every method raises ``CallerHungUp`` once they are gone."""

    async def answer(self) -> None: ...

    async def play(self, prompt: str) -> None: ...

    async def ask(self, prompt: str, *, timeout_ms: int) -> str | None:
        """Play ``prompt`` and wait for one key; ``None`` when no key was pressed."""
        ...

    async def record(
        self,
        path: Path,
        *,
        max_seconds: int,
        silence_seconds: int,
        beep: bool,
        escape_digits: str | None = None,
    ) -> Recording | None:
        """Record into ``path`` (no extension); ``None`` when Asterisk could not write it.
        ``escape_digits`` (default: the menu file's) end the recording early."""
        ...

    async def set_variable(self, name: str, value: str) -> None: ...

    async def get_variable(self, name: str) -> str | None: ...


class SpeechRecognizer(Protocol):
    """Spoken menu choices (``speech/grammar.py``). Bounded: returns within its own timeout."""

    async def recognise(self, audio: Path, phrases: Sequence[str]) -> str | None:
        """The one phrase of ``phrases`` heard in ``audio``; ``None`` if none, or on any error."""
        ...
