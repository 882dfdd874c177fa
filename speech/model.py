"""The Vosk model directory: loading it (only ever from a path: ``Model(lang=…)`` and
``Model(model_name=…)`` go to the network) and checking what it can do.

The checks an administrator needs at startup, and ``hotline model check PATH`` prints:
it loads; runtime grammars are supported (``graph/HCLr.fst`` + ``graph/Gr.fst``; a static
``HCLG.fst`` graph silently ignores grammars); ``[unk]`` is in the vocabulary (out-of-grammar
speech is rejected instead of forced onto a menu word); ``--allow-upsample`` in
``conf/mfcc.conf`` (informative: we resample telephone audio to 16 kHz ourselves).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import vosk

from speech.errors import ModelError

logger = logging.getLogger(__name__)

REQUIRED = ("am/final.mdl", "conf/mfcc.conf", "conf/model.conf")


@dataclass(frozen=True)
class ModelReport:
    path: Path
    name: str
    load_seconds: float
    grammar: bool
    static_graph: bool
    unk: bool
    allow_upsample: bool

    def lines(self) -> list[str]:
        return [
            f"model {self.name} at {self.path}: loads ({self.load_seconds:.1f} s)",
            "runtime grammars (spoken menu choices): "
            + (
                "yes (graph/HCLr.fst + graph/Gr.fst)"
                if self.grammar
                else "NO: static graph/HCLG.fst, grammars would be ignored; menus stay DTMF-only"
            ),
            "[unk] in the vocabulary: "
            + ("yes" if self.unk else "no (speech outside the menu words cannot be rejected)"),
            "--allow-upsample in conf/mfcc.conf: "
            + ("yes" if self.allow_upsample else "no (harmless: audio is resampled to 16 kHz)"),
        ]


def model_name(path: Path) -> str:
    """``vosk-model-small-vn-0.4``; a directory merely called ``model`` gets its parent's name."""
    return f"{path.parent.name}/{path.name}" if path.name == "model" else path.name


def open_model(path: Path) -> tuple[Any, ModelReport]:
    """Load the model at ``path`` and report its capabilities; ``ModelError`` when unusable."""
    path = path.expanduser().resolve()
    if not path.is_dir():
        raise ModelError(f"Vosk model directory {path} does not exist")
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    graph = path / "graph"
    grammar = (graph / "HCLr.fst").is_file() and (graph / "Gr.fst").is_file()
    static_graph = (graph / "HCLG.fst").is_file()
    if not grammar and not static_graph:
        missing.append("graph/HCLG.fst or graph/HCLr.fst + graph/Gr.fst")
    if missing:
        raise ModelError(f"{path} is not a Vosk model directory: missing {', '.join(missing)}")
    vosk.SetLogLevel(-1)
    started = time.perf_counter()
    try:
        model = vosk.Model(model_path=str(path))
    except Exception as err:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelError(f"Vosk cannot load the model in {path}: {err}") from err
    load_seconds = time.perf_counter() - started
    mfcc = (path / "conf" / "mfcc.conf").read_text(encoding="utf-8", errors="replace")
    report = ModelReport(
        path=path,
        name=model_name(path),
        load_seconds=load_seconds,
        grammar=grammar,
        static_graph=static_graph and not grammar,
        unk=model.vosk_model_find_word("[unk]") != -1,
        allow_upsample="--allow-upsample=true" in mfcc,
    )
    return model, report


def missing_words(model: Any, words: Iterable[str]) -> list[str]:
    """Grammar words (each word of a phrase) that are not in the model's vocabulary."""
    missing = []
    for phrase in words:
        for word in phrase.split():
            if model.vosk_model_find_word(word) == -1 and word not in missing:
                missing.append(word)
    return missing
