"""Value objects of a transcription, shared by the workers, the service and the repository."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Word:
    word: str
    start: float  # seconds from the start of the recording
    end: float
    conf: float

    def to_json(self) -> dict[str, Any]:
        return {"word": self.word, "start": self.start, "end": self.end, "conf": self.conf}


@dataclass(frozen=True)
class TranscriptResult:
    text: str
    words: tuple[Word, ...]
    audio_seconds: float
    decode_seconds: float
    model: str
