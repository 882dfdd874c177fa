"""Placeholder prompt audio: every prompt text of the menu file, spoken by espeak-ng.

:func:`generate` writes ``<out>/<language>/hotline/<prompt id>.wav`` for every prompt under
``[prompts]`` in the menu file, in Vietnamese and English, as 8 kHz mono 16-bit PCM WAV
(Asterisk's ``wav`` format). Asterisk plays ``hotline/<prompt id>`` from the folder of the
channel's language. A studio recording saved under the same name replaces a placeholder; the
texts to record are the ones in ``ivr/menu.toml`` (or edited in the console:
:func:`with_overrides`). The command is ``python -m hotline.prompts``.

Needs the ``espeak-ng`` and ``sox`` programs; nothing else in the service uses them.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from ivr.errors import IvrError
from ivr.menu import MenuFile, PromptText

logger = logging.getLogger(__name__)

Language = Literal["vi", "en"]
LANGUAGES: Final[tuple[Language, ...]] = ("vi", "en")

DEFAULT_MENU: Final = Path(__file__).resolve().parent / "menu.toml"
DEFAULT_OUT: Final = Path("asterisk_conf") / "sounds"
SOUND_FOLDER: Final = "hotline"

SAMPLE_RATE: Final = 8000
SPEECH_RATE: Final = 150  # words per minute (espeak-ng -s)
GAIN_DB: Final = -3  # espeak-ng output peaks near full scale and clips after resampling

DIGIT_WORDS: Final[Mapping[Language, tuple[str, ...]]] = {
    "vi": ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"),
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"),
}

_DIGIT_RUN: Final = re.compile(r"[0-9]+")


class PromptError(IvrError):
    """A placeholder prompt could not be made (missing tool, unknown id, synthesis failed)."""

    error_id = "prompt-synthesis-failed"


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the two programs the generator runs."""

    espeak: str
    sox: str


def spell_digits(text: str, language: Language) -> str:
    """Replace every run of digits by its digit words: hotline numbers are read digit by digit.

    >>> spell_digits("Đường dây nóng 1022", "vi")
    'Đường dây nóng một không hai hai'
    """
    words = DIGIT_WORDS[language]
    return _DIGIT_RUN.sub(lambda match: " ".join(words[int(d)] for d in match.group()), text)


def find_tools() -> Tools:
    espeak = shutil.which("espeak-ng")
    sox = shutil.which("sox")
    missing = [name for name, path in (("espeak-ng", espeak), ("sox", sox)) if path is None]
    if espeak is None or sox is None:
        raise PromptError(
            f"{' and '.join(missing)} not found on PATH; install them "
            "(Debian/Ubuntu: apt-get install espeak-ng sox) or put studio recordings in place"
        )
    return Tools(espeak=espeak, sox=sox)


def prompt_path(out_dir: Path, language: Language, prompt_id: str) -> Path:
    return out_dir / language / SOUND_FOLDER / f"{prompt_id}.wav"


def synthesise(
    text: str, language: Language, target: Path, tools: Tools, *, rate: int = SPEECH_RATE
) -> None:
    """Speak ``text`` into ``target`` as 8 kHz mono 16-bit PCM WAV; the file appears atomically."""
    spoken = spell_digits(text, language)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.partial")
    with tempfile.TemporaryDirectory(prefix="hotline-prompt-") as tmp:
        text_file = Path(tmp) / "text.txt"
        raw = Path(tmp) / "espeak.wav"
        # The text goes through a file, not argv: it can never be read as an option.
        text_file.write_text(spoken, encoding="utf-8")
        _run([tools.espeak, "-v", language, "-s", str(rate), "-f", str(text_file), "-w", str(raw)])
        try:
            _run(
                [
                    tools.sox,
                    "-R",  # repeatable dither: the same text always gives the same bytes
                    str(raw),
                    "-r",
                    str(SAMPLE_RATE),
                    "-c",
                    "1",
                    "-b",
                    "16",
                    "-e",
                    "signed-integer",
                    "-t",
                    "wav",
                    str(partial),
                    "gain",
                    str(GAIN_DB),
                ]
            )
        except PromptError:
            partial.unlink(missing_ok=True)
            raise
    partial.replace(target)


def with_overrides(menu: MenuFile, overrides: Mapping[str, Mapping[str, str]]) -> MenuFile:
    """The menu with the edited texts (prompt id → language → text) in place of its own; an
    override of a prompt the menu no longer has is left out (and logged)."""
    prompts = dict(menu.prompts)
    for prompt_id, texts in overrides.items():
        if prompt_id not in prompts:
            logger.warning("edited text of %r ignored: the menu has no such prompt", prompt_id)
            continue
        prompts[prompt_id] = PromptText.model_validate({**prompts[prompt_id].model_dump(), **texts})
        logger.info("prompt %s: the text edited in the console (%s)", prompt_id, ", ".join(texts))
    return menu.model_copy(update={"prompts": prompts})


def generate(
    menu: MenuFile,
    out_dir: Path,
    tools: Tools,
    *,
    only: str | None = None,
    rate: int = SPEECH_RATE,
) -> list[Path]:
    """Write the placeholder audio of every prompt (or of ``only``) in every language."""
    if only is not None and only not in menu.prompts:
        raise PromptError(f"unknown prompt id {only!r}; the menu defines {sorted(menu.prompts)}")
    ids = [only] if only is not None else sorted(menu.prompts)
    written: list[Path] = []
    for prompt_id in ids:
        texts: Mapping[Language, str] = {
            "vi": menu.prompts[prompt_id].vi,
            "en": menu.prompts[prompt_id].en,
        }
        for language in LANGUAGES:
            target = prompt_path(out_dir, language, prompt_id)
            synthesise(texts[language], language, target, tools, rate=rate)
            logger.info("wrote %s", target)
            written.append(target)
    return written


def _run(argv: Sequence[str]) -> None:
    try:
        subprocess.run(argv, check=True, capture_output=True)
    except subprocess.CalledProcessError as err:
        stderr = err.stderr.decode("utf-8", "replace").strip() if err.stderr else ""
        raise PromptError(
            f"{Path(argv[0]).name} exited with status {err.returncode}: {stderr or 'no output'}"
        ) from err
    except OSError as err:
        raise PromptError(f"cannot run {argv[0]}: {err}") from err
