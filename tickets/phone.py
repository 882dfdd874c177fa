"""Caller numbers: Asterisk gives ``0901234567``, ``84901234567`` or ``+84…``; we store E.164."""

from __future__ import annotations

import phonenumbers

REGION = "VN"


def normalize_phone(raw: str | None) -> str | None:
    """E.164 (``+84901234567``) for a plausible number, ``None`` for anonymous or junk."""
    if not raw:
        return None
    digits = raw.strip()
    if digits.startswith("84") and not digits.startswith("+"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_phone(e164: str) -> str:
    """``+84901234567`` → ``0901234567`` (how people in Vietnam write it)."""
    number = phonenumbers.parse(e164, REGION)
    if phonenumbers.region_code_for_number(number) != REGION:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).replace(
        " ", ""
    )


def mask_phone(e164: str | None) -> str | None:
    """Hide the middle digits for roles that may not see a caller's number: ``090****567``."""
    if e164 is None:
        return None
    national = national_phone(e164)
    if len(national) <= 6:
        return "*" * len(national)
    return national[:3] + "*" * (len(national) - 6) + national[-3:]
