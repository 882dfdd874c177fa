"""Console texts in Vietnamese (the default) and English: one TOML file per page under
``locales/`` with a ``[vi]`` and an ``[en]`` table of the same keys; ``common.toml`` holds what
every page shows, ``errors.toml`` the API's errors by ``error_id``, ``events.toml`` the
timeline's event kinds. A key is ``<file>.<name>``, e.g. ``operator.title``."""

from __future__ import annotations

import tomllib
from enum import StrEnum
from functools import cache
from importlib import resources


class Lang(StrEnum):
    VI = "vi"
    EN = "en"


DEFAULT_LANG = Lang.VI


class MissingText(Exception):
    """A locale file whose two languages do not have the same keys."""


@cache
def catalog() -> dict[Lang, dict[str, str]]:
    texts: dict[Lang, dict[str, str]] = {lang: {} for lang in Lang}
    for entry in sorted(resources.files("hotline.web").joinpath("locales").iterdir(), key=str):
        if not entry.name.endswith(".toml"):
            continue
        page = entry.name.removesuffix(".toml")
        tables = tomllib.loads(entry.read_text(encoding="utf-8"))
        keys = {lang: set(tables.get(lang.value, {})) for lang in Lang}
        if keys[Lang.VI] != keys[Lang.EN]:
            odd = sorted(keys[Lang.VI] ^ keys[Lang.EN])
            raise MissingText(f"locales/{entry.name}: keys not in both [vi] and [en]: {odd}")
        for lang in Lang:
            for key, text in tables[lang.value].items():
                texts[lang][f"{page}.{key}"] = str(text)
    return texts


def text(key: str, lang: Lang) -> str:
    """The text of ``key``; an unknown key shows itself, so a gap is visible, not blank."""
    return catalog()[lang].get(key, key)


# Texts every page's script may need: the shell's, API errors by ``error_id``, and the
# timeline's events (``tickets.events.EventKind``).
SHARED = ("common", "errors", "events")


def page_texts(lang: Lang, *pages: str) -> dict[str, str]:
    """The texts a page's script needs: the shared ones and its own."""
    prefixes = tuple(f"{p}." for p in (*SHARED, *pages))
    return {k: v for k, v in catalog()[lang].items() if k.startswith(prefixes)}
