"""Vosk decoding, synchronous: runs inside a worker process (transcripts) or a worker thread
(spoken menu choices), never on the event loop.

Audio is fed in a fixed chunk size (results depend on it), always as 16 kHz mono s16. The
free-form recognizer is created once and reused (a new one costs ~1.6 s on its first
utterance); grammar recognizers are created per utterance (0.5 ms, and no adaptation state
carried from one caller to the next).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import vosk

from speech.audio import RECOGNITION_RATE, SAMPLE_WIDTH
from speech.transcript import Word

CHUNK_FRAMES = 4000  # 0.25 s at 16 kHz


@dataclass(frozen=True)
class Decoded:
    text: str
    words: tuple[Word, ...]
    audio_seconds: float
    decode_seconds: float


class VoskEngine:
    def __init__(self, model: Any, *, unk: bool, chunk_frames: int = CHUNK_FRAMES) -> None:
        self._model = model
        self._unk = unk
        self._chunk = chunk_frames * SAMPLE_WIDTH
        self._free: Any = None
        self._free_fed = 0.0  # seconds already fed: a reused recognizer's times run on

    def warm_up(self) -> None:
        """Pay the free-form recognizer's first-utterance cost now, not on a caller's audio."""
        self.transcribe(b"\x00\x00" * RECOGNITION_RATE)

    def transcribe(self, pcm: bytes, rate: int = RECOGNITION_RATE) -> Decoded:
        if rate != RECOGNITION_RATE:
            return self._decode(self._recognizer(rate), pcm, rate, 0.0)
        if self._free is None:
            self._free = self._recognizer(rate)
        decoded = self._decode(self._free, pcm, rate, self._free_fed)
        self._free_fed += decoded.audio_seconds
        return decoded

    def recognise(self, pcm: bytes, words: Sequence[str], rate: int = RECOGNITION_RATE) -> Decoded:
        """Decode against a grammar of ``words``, plus ``[unk]`` when the model has it (then
        speech outside the grammar comes back as ``[unk]`` instead of the nearest word)."""
        grammar = json.dumps([*words, "[unk]"] if self._unk else list(words), ensure_ascii=False)
        return self._decode(self._recognizer(rate, grammar), pcm, rate, 0.0)

    def _recognizer(self, rate: int, grammar: str | None = None) -> Any:
        if grammar is None:
            recognizer = vosk.KaldiRecognizer(self._model, float(rate))
        else:
            recognizer = vosk.KaldiRecognizer(self._model, float(rate), grammar)
        recognizer.SetWords(True)
        return recognizer

    def _decode(self, recognizer: Any, pcm: bytes, rate: int, offset: float) -> Decoded:
        started = time.perf_counter()
        texts: list[str] = []
        words: list[Word] = []

        def collect(raw: str) -> None:
            result = json.loads(raw)
            if result.get("text"):
                texts.append(result["text"])
            words.extend(
                Word(
                    w["word"],
                    round(float(w["start"]) - offset, 3),
                    round(float(w["end"]) - offset, 3),
                    round(float(w["conf"]), 3),
                )
                for w in result.get("result", ())
            )

        for at in range(0, len(pcm), self._chunk):
            if recognizer.AcceptWaveform(pcm[at : at + self._chunk]):
                collect(recognizer.Result())
        collect(recognizer.FinalResult())
        recognizer.Reset()
        return Decoded(
            text=" ".join(texts),
            words=tuple(words),
            audio_seconds=len(pcm) / (SAMPLE_WIDTH * rate),
            decode_seconds=time.perf_counter() - started,
        )
