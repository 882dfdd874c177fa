"""What runs inside a transcription worker process (spawned, so each loads its own model).

The engine is per-process state, set once by ``init_worker`` (the pool's initializer) and used
by every job this process runs. Results and errors cross back to the service by pickling:
only plain dataclasses and ``SpeechError`` subclasses.
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from speech.audio import load_for_recognition
from speech.engine import VoskEngine
from speech.model import open_model
from speech.transcript import TranscriptResult


@dataclass
class _Worker:
    engine: VoskEngine
    model: str


_worker: _Worker | None = None  # this process's engine (see the module docstring)


def init_worker(model_path: str) -> None:
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the service decides when workers stop
    model, report = open_model(Path(model_path))
    engine = VoskEngine(model, unk=report.unk)
    engine.warm_up()
    _worker = _Worker(engine, report.name)


def ready() -> int:
    """Run once per worker at start-up: by then the initializer has loaded and warmed it."""
    return os.getpid()


def transcribe_file(audio_path: str) -> TranscriptResult:
    """Decode only: the archive copy is written elsewhere (``speech.archive``), so a worker is
    free for the next recording as soon as this one is decoded."""
    assert _worker is not None, "init_worker did not run in this process"
    pcm = load_for_recognition(Path(audio_path))
    decoded = _worker.engine.transcribe(pcm.data, pcm.rate)
    return TranscriptResult(
        text=decoded.text,
        words=decoded.words,
        audio_seconds=round(decoded.audio_seconds, 3),
        decode_seconds=round(decoded.decode_seconds, 3),
        model=_worker.model,
    )
