"""Placeholder prompts: digit spelling, and the committed audio Asterisk will play.

These tests read the committed WAV files only; they need neither espeak-ng nor sox.
"""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from hotline import prompts
from ivr.menu import load_menu
from ivr.prompts import DEFAULT_MENU, LANGUAGES, Language, prompt_path, spell_digits

SOUNDS = Path(__file__).resolve().parent.parent / "asterisk_conf" / "sounds"


def _played_prompts() -> list[str]:
    """Every prompt the packaged menu uses, plus the dialplan's apology on backend failure."""
    return sorted(load_menu(DEFAULT_MENU).referenced_prompts() | {"apology"})


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("1022", "vi", "một không hai hai"),
        ("115", "vi", "một một năm"),
        ("Đường dây nóng 1022 của tỉnh.", "vi", "Đường dây nóng một không hai hai của tỉnh."),
        ("1022", "en", "one zero two two"),
        ("115", "en", "one one five"),
        (
            "press 1. To speak to an operator, press 0.",
            "en",
            "press one. To speak to an operator, press zero.",
        ),
        ("9876543210", "vi", "chín tám bảy sáu năm bốn ba hai một không"),
    ],
)
def test_given_text_with_digits_when_spelled_then_each_digit_becomes_its_word(
    text: str, language: Language, expected: str
) -> None:
    assert spell_digits(text, language) == expected


@pytest.mark.parametrize("language", LANGUAGES)
def test_given_text_without_digits_when_spelled_then_text_is_unchanged(language: Language) -> None:
    text = "Xin vui lòng giữ máy, tổng đài viên sẽ trả lời bạn trong giây lát."
    assert spell_digits(text, language) == text


def test_given_packaged_menu_when_listing_prompts_then_apology_is_included() -> None:
    played = _played_prompts()
    assert {"apology", "welcome_1022", "welcome_115", "menu_1022"} <= set(played)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("prompt_id", _played_prompts())
def test_given_packaged_menu_when_prompt_is_played_then_committed_wav_is_8khz_mono_16bit(
    prompt_id: str, language: Language
) -> None:
    path = prompt_path(SOUNDS, language, prompt_id)
    assert path.is_file(), f"missing {path}; run `python -m hotline.prompts` and commit the result"
    with wave.open(str(path), "rb") as wav:
        assert wav.getframerate() == 8000
        assert wav.getnchannels() == 1
        assert wav.getsampwidth() == 2
        assert wav.getcomptype() == "NONE"
        assert wav.getnframes() > 8000 // 2, "shorter than half a second: not a spoken prompt"


def test_given_no_espeak_on_path_when_main_runs_then_it_fails_with_exit_code_1(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(shutil, "which", lambda _name: None)

    code = prompts.main(["--out", str(tmp_path)])

    assert code == 1
    assert "espeak-ng and sox not found" in caplog.text
    assert not any(tmp_path.iterdir())
