"""``hotline model check [PATH]``: what the service checks and logs about a Vosk model at
start-up, for an administrator installing one (PATH defaults to ``HOTLINE_VOSK_MODEL``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from speech.errors import ModelError
from speech.model import missing_words, open_model

COMMANDS = frozenset({"model"})


def add_parsers(commands: Any) -> None:
    model = commands.add_parser("model", help="Vosk speech model").add_subparsers(
        dest="model_command", required=True
    )
    check = model.add_parser("check", help="load a model directory and report what it supports")
    check.add_argument("path", nargs="?", type=Path, help="model directory (HOTLINE_VOSK_MODEL)")
    check.add_argument(
        "--words", help="comma-separated words or phrases to look up in the vocabulary"
    )


def run(vosk_model: Path | None, args: argparse.Namespace) -> int:
    path = args.path or vosk_model
    if path is None:
        print("hotline: no model: give PATH or set HOTLINE_VOSK_MODEL", file=sys.stderr)
        return 2
    try:
        model, report = open_model(path)
    except ModelError as err:
        print(f"hotline: {err}", file=sys.stderr)
        return 1
    for line in report.lines():
        print(line)
    if args.words:
        phrases = [w.strip() for w in args.words.split(",") if w.strip()]
        missing = missing_words(model, phrases)
        print("words not in the vocabulary: " + (", ".join(missing) if missing else "none"))
    return 0
