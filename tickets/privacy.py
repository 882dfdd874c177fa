"""Callers' personal data in what readers outside the call centre see (Decree 13/2023): every
such reader — the agency console and API, Open311, the public lookup — shows text through
``redact``, and a shortened text through ``summary`` (masked first, cut after, so a number cut
at the boundary cannot escape).

Masked are phone-length numbers, wherever they stand: a run of at least nine digits, alone or
glued to letters (``sdt0905123471``), written with spaces, dots, dashes or brackets between
groups (``0905.123.471``, ``+84 905 123 471``, ``(0236) 3822 123``), and the same numbers read out
in words, as a transcript spells them (``không chín không năm một hai ba bốn bảy một``).
The first and last three digits stay, as in a masked caller number (``090****471``). Ticket codes
(``1022-24-000123``) and sums of money (``150.000.000 đồng``) are left as they are. Recording
paths (the server's files) are blanked."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PHONE_DIGITS = 9  # a Vietnamese number read without its leading 0; 10 (mobile) or 11 with it
KEEP = 3  # digits shown at each end
HIDDEN = "***"  # stands for the masked middle of a number read out in words

# Keys of event data and ticket fields that hold a path on the server (recordings).
RECORDING_KEYS = frozenset(
    {
        "file",
        "recording",
        "call_recording",
        "description_recording",
        "location_recording",
        "transcript_archive",
    }
)

_TICKET_CODE = r"(?<![0-9])(?:1022|115)-[0-9]{2}-[0-9]{6,}(?![0-9])"
# Digits with at most three of these between groups: "0905 123 471", "(0236) 3822-123".
_DIGIT_RUN = r"[0-9](?:[ \u00a0.\-()]{0,3}[0-9])*"
_NUMBERS = re.compile(f"(?P<code>{_TICKET_CODE})|(?P<run>{_DIGIT_RUN})")
_MONEY = re.compile(r"[1-9][0-9]{0,2}(?P<sep>[.,])[0-9]{3}(?:(?P=sep)[0-9]{3})+")
_CURRENCY = re.compile(
    r"\s?(?:đồng|đ|vnđ|vnd|dong|triệu|trieu|tỷ|tỉ|ty|nghìn|nghin|ngàn|ngan)(?![^\W\d_])",
    re.IGNORECASE,
)

# How Vietnamese speakers read digits (and Vosk's Vietnamese vocabulary writes them), with the
# unaccented spellings of messages typed without diacritics. One by one: "không chín không
# năm"; in pairs: "ba tư" (34), "bảy mốt" (71), "hai lăm"/"hai nhăm" (25); "linh"/"lẻ" for a
# zero after a hundred ("chín trăm linh năm", 905).
_DIGIT_WORDS = {
    "không": "0", "khong": "0", "linh": "0", "lẻ": "0", "le": "0",
    "một": "1", "mot": "1", "mốt": "1",
    "hai": "2",
    "ba": "3",
    "bốn": "4", "bon": "4", "tư": "4", "tu": "4",
    "năm": "5", "nam": "5", "lăm": "5", "lam": "5", "nhăm": "5", "nham": "5",
    "sáu": "6", "sau": "6",
    "bảy": "7", "bẩy": "7", "bay": "7",
    "tám": "8", "tam": "8",
    "chín": "9", "chin": "9",
}  # fmt: skip
_TEN = frozenset({"mười", "muoi"})  # 10-19: "mười hai" (12), "mười" alone (10)
_HUNDRED = frozenset({"trăm", "tram"})  # "chín trăm" (900), "chín trăm linh năm" (905)
_NUMBER_WORDS = frozenset(_DIGIT_WORDS) | _TEN | _HUNDRED | {"mươi"}  # "ba mươi tư" (34)
_TOKENS = re.compile(f"(?P<code>{_TICKET_CODE})|(?P<word>[^\\W\\d_]+)|(?P<digits>[0-9]+)")
_GAP = re.compile(r"[\s,.\-–]{1,3}")  # what may separate the words of one number


def mask_text(text: str) -> str:
    """``text`` with every phone-length number masked, in digits or in words."""
    text = unicodedata.normalize("NFC", text)
    return _mask_spoken(_NUMBERS.sub(_mask_digits, text))


def summary(text: str | None, limit: int) -> str | None:
    """At most ``limit`` characters of ``text``, masked before it is cut."""
    return None if text is None else mask_text(text)[:limit]


def redact(value: Any) -> Any:
    """``value`` (text, or JSON of objects and lists) as a reader outside the call centre may
    see it: numbers masked in every text, recording paths blanked (``None``)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: None if key in RECORDING_KEYS else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value


def _mask_digits(match: re.Match[str]) -> str:
    found = match.group(0)
    if match.group("code") is not None:
        return found
    digits = sum(c.isdigit() for c in found)
    if digits < PHONE_DIGITS:
        return found
    if _MONEY.fullmatch(found) and _CURRENCY.match(match.string, match.end()):
        return found
    out = []
    seen = 0
    for char in found:
        if char.isdigit():
            seen += 1
            out.append(char if seen <= KEEP or seen > digits - KEEP else "*")
        else:
            out.append(char)
    return "".join(out)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    text: str  # lower case
    number: bool  # a number word or digits
    word: bool  # a number word (not digits)


def _tokens(text: str) -> Iterator[_Token]:
    for match in _TOKENS.finditer(text):
        lowered = match.group(0).lower()
        number = match.group("digits") is not None or lowered in _NUMBER_WORDS
        word = match.group("word") is not None and lowered in _NUMBER_WORDS
        yield _Token(match.start(), match.end(), lowered, number and not match["code"], word)


def _runs(text: str) -> Iterator[list[_Token]]:
    """Runs of number tokens separated by nothing but spaces and light punctuation."""
    run: list[_Token] = []
    for token in _tokens(text):
        joined = run and _GAP.fullmatch(text[run[-1].end : token.start]) is not None
        if token.number and (joined or not run):
            run.append(token)
            continue
        if run:
            yield run
        run = [token] if token.number else []
    if run:
        yield run


def _digit_counts(run: list[_Token]) -> list[int]:
    """How many digits each token of a run may stand for, never fewer than it does: a digit
    word one, "mươi" one (the 0 of "ba mươi"), "mười" and "trăm" two ("mười" is 10, "chín
    trăm" 900); speech is ambiguous ("bảy mươi một" is 71, or 70 then 1), so count high."""
    counts = []
    for token in run:
        if token.text in _TEN or token.text in _HUNDRED:
            counts.append(2)
        elif token.word:
            counts.append(1)
        else:
            counts.append(len(token.text))
    return counts


def _mask_spoken(text: str) -> str:
    """Numbers read out in words (and words mixed with digit groups) of phone length."""
    spans: list[tuple[int, int]] = []
    for run in _runs(text):
        if not any(t.word for t in run):
            continue  # digits alone were handled as digits
        counts = _digit_counts(run)
        if sum(counts) < PHONE_DIGITS:
            continue
        head = 0
        while head < len(run) and sum(counts[: head + 1]) <= KEEP:
            head += 1
        tail = len(run)
        while tail > head and sum(counts[tail - 1 :]) <= KEEP:
            tail -= 1
        spans.append((run[head].start, run[tail - 1].end))
    for start, end in reversed(spans):
        text = text[:start] + HIDDEN + text[end:]
    return text
