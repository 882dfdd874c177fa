"""Constant-time comparison of a secret with what a client presented, whatever its characters:
``hmac.compare_digest`` raises on text that is not ASCII, and a header or query may carry
anything (a lone surrogate too)."""

from __future__ import annotations

import hmac


def same_secret(expected: str | bytes, presented: str | bytes) -> bool:
    return hmac.compare_digest(_bytes(expected), _bytes(presented))


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
