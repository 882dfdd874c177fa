"""Possible duplicates: the same category and locality within a few days, with similar text.

Candidates come from the repository (same category and locality within ``window``); this module
scores them on the words of the description (Vietnamese compared without diacritics, so
"ngập" and "ngap" match) and keeps those above a threshold, best first.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

DEFAULT_WINDOW = timedelta(days=3)
DEFAULT_THRESHOLD = 0.35
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Candidate:
    ticket_id: int
    code: str
    created_at: datetime
    text: str


@dataclass(frozen=True)
class Suggestion:
    ticket_id: int
    code: str
    score: float


def fold(text: str) -> str:
    """Lower case without diacritics; đ → d."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> set[str]:
    return set(_WORD.findall(fold(text)))


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the folded word sets of two texts (0 when either is empty)."""
    left, right = words(a), words(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


def suggest(
    text: str,
    candidates: Iterable[Candidate],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    limit: int = 5,
) -> list[Suggestion]:
    scored = [
        Suggestion(c.ticket_id, c.code, round(similarity(text, c.text), 3)) for c in candidates
    ]
    kept = [s for s in scored if s.score >= threshold]
    kept.sort(key=lambda s: (-s.score, s.ticket_id))
    return kept[:limit]
