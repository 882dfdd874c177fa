"""Spoken menu choices: a short utterance decoded against the menu's words (a Vosk grammar),
in a small thread pool of this process (grammar decoding is ~0.04 × real time and Vosk
releases the GIL), bounded by a timeout. Any failure or timeout means "no spoken choice" and
the IVR carries on as if no key was pressed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from speech.audio import load_for_recognition
from speech.engine import VoskEngine
from speech.model import missing_words

logger = logging.getLogger(__name__)


class GrammarRecognizer:
    """The IVR's ``SpeechRecognizer`` port over a model loaded in this process."""

    def __init__(self, model: Any, *, unk: bool, timeout: float, threads: int = 2) -> None:
        self._model = model
        self._engine = VoskEngine(model, unk=unk)
        self._timeout = timeout
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="speech-grammar")
        self._unknown: set[str] = set()

    def check_vocabulary(self, phrases: Sequence[str]) -> list[str]:
        """Words of ``phrases`` the model does not know; phrases using them are left out."""
        missing = missing_words(self._model, phrases)
        self._unknown.update(missing)
        return missing

    def usable(self, phrases: Sequence[str]) -> list[str]:
        return [p for p in phrases if not any(w in self._unknown for w in p.split())]

    async def recognise(self, audio: Path, phrases: Sequence[str]) -> str | None:
        usable = self.usable(phrases)
        if not usable:
            return None
        loop = asyncio.get_running_loop()
        try:
            text = await asyncio.wait_for(
                loop.run_in_executor(self._executor, self._decode, audio, tuple(usable)),
                self._timeout,
            )
        except TimeoutError:
            logger.warning("spoken menu choice not recognised within %.1f s", self._timeout)
            return None
        except Exception as err:
            logger.warning("spoken menu choice could not be recognised: %s", err)
            return None
        if text in usable:
            return text
        if text:
            logger.info("spoken menu choice not understood: heard %r", text)
        return None

    def _decode(self, audio: Path, phrases: tuple[str, ...]) -> str:
        pcm = load_for_recognition(audio)
        return self._engine.recognise(pcm.data, phrases, pcm.rate).text

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
