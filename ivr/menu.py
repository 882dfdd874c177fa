"""The declarative menu file (TOML): lines, their menus and recordings, and every prompt text."""

from __future__ import annotations

import tomllib
import unicodedata
from pathlib import Path
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ivr.errors import MenuError
from tickets.model import Category, Line


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RecordingFormat(_Strict):
    format: Literal["wav", "gsm", "ulaw", "alaw", "sln"] = "wav"
    escape_digits: str = Field(default="#", pattern=r"^[0-9*#]*$")
    beep: bool = True


class RecordStep(_Strict):
    prompt: str
    purpose: Literal["description", "location"]
    max_seconds: int = Field(gt=0, le=600)
    silence_seconds: int = Field(ge=0, le=60)
    thanks: str = ""


class MenuOption(_Strict):
    digit: str = Field(pattern=r"^[0-9*#]$")
    category: Category
    record: RecordStep | None = None
    # Words or phrases a caller may say instead of the key, in the speech model's language
    # (spoken menu choices need HOTLINE_VOSK_MODEL; the key always works).
    speech: list[str] = []

    @field_validator("speech")
    @classmethod
    def _normalise_speech(cls, phrases: list[str]) -> list[str]:
        return [" ".join(unicodedata.normalize("NFC", p).casefold().split()) for p in phrases]


class Menu(_Strict):
    prompt: str
    invalid: str
    operator: str
    timeout_ms: int = Field(gt=0, le=60_000)
    max_attempts: int = Field(gt=0, le=10)
    options: list[MenuOption]
    # No key within timeout_ms and the options have speech words ⇒ listen this long (with
    # silence detection) for a spoken choice; a key pressed meanwhile still counts.
    listen_seconds: int = Field(default=3, ge=1, le=3)
    listen_silence_seconds: int = Field(default=1, ge=1, le=3)
    listen_beep: bool = True

    @model_validator(mode="after")
    def _distinct_digits(self) -> Menu:
        digits = [o.digit for o in self.options]
        if len(set(digits)) != len(digits):
            raise ValueError(f"menu digits must be distinct, got {digits}")
        phrases = self.spoken_phrases()
        if len(set(phrases)) != len(phrases):
            raise ValueError(f"menu speech phrases must be distinct, got {phrases}")
        return self

    def option(self, digit: str) -> MenuOption | None:
        return next((o for o in self.options if o.digit == digit), None)

    def spoken_phrases(self) -> list[str]:
        return [p for o in self.options for p in o.speech if p]

    def spoken_option(self, phrase: str) -> MenuOption | None:
        return next((o for o in self.options if phrase in o.speech), None)


class LineFlow(_Strict):
    queue: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    greeting: str
    connecting: str
    category: Category = Category.UNCLASSIFIED
    menu: Menu | None = None
    record: RecordStep | None = None


class PromptText(_Strict):
    vi: str
    en: str


class MenuFile(_Strict):
    recording: RecordingFormat = RecordingFormat()
    apology: str = "apology"  # played when the backend fails mid-call, before the queue
    lines: dict[Line, LineFlow]
    prompts: dict[str, PromptText]

    @model_validator(mode="after")
    def _prompts_exist(self) -> MenuFile:
        missing = sorted(p for p in self.referenced_prompts() if p not in self.prompts)
        if missing:
            raise ValueError(f"prompts used but not defined under [prompts]: {missing}")
        if set(self.lines) != set(Line):
            raise ValueError(f"every line needs a flow: {[line.value for line in Line]}")
        return self

    def referenced_prompts(self) -> set[str]:
        used = {self.apology}
        for flow in self.lines.values():
            used |= {flow.greeting, flow.connecting}
            records = [flow.record] if flow.record else []
            if flow.menu:
                used |= {flow.menu.prompt, flow.menu.invalid, flow.menu.operator}
                records += [o.record for o in flow.menu.options if o.record]
            for record in records:
                used |= {record.prompt, record.thanks} - {""}
        return used


def load_menu(path: Path) -> MenuFile:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        return MenuFile.model_validate(data)
    except OSError as err:
        raise MenuError(f"cannot read menu file {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise MenuError(f"menu file {path} is not valid TOML: {err}") from err
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'file'}: {e['msg']}" for e in err.errors()
        )
        raise MenuError(f"menu file {path} is invalid: {problems}") from err
