"""Text that every later reader can carry: PostgreSQL (no NUL), XML 1.0 (no C0 control but tab,
line feed and carriage return; no lone surrogate, no U+FFFE/U+FFFF), an SMS or a CSV file (no
DEL or C1 control either). Input is checked against this once, where it enters
(``hotline.web.inputs``); a writer that must never fail (Open311's XML) replaces what came in
some other way."""

from __future__ import annotations

import re

from tickets.errors import InvalidRequest

_UNCARRIABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


class UncarriableText(InvalidRequest):
    error_id = "invalid-characters"


def check_text(text: str, where: str) -> str:
    """``text``, or ``UncarriableText`` naming ``where`` and the first bad character."""
    found = _UNCARRIABLE.search(text)
    if found is not None:
        raise UncarriableText(
            f"{where}: U+{ord(found.group()):04X} is not allowed"
            " (control characters other than tab and line breaks, lone surrogates)"
        )
    return text


def carriable(text: str) -> str:
    """``text`` with every character a reader cannot carry replaced by U+FFFD."""
    return _UNCARRIABLE.sub(REPLACEMENT, text)
