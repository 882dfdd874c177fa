"""Fields of a request's JSON body or query, checked: a bad one is the client's 400
(``InvalidRequest``), never a 500."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, TypeVar

from tickets.errors import InvalidRequest

E = TypeVar("E", bound=StrEnum)


def text_field(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """A non-empty string, stripped; ``None`` when absent and not required."""
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{name} must be a non-empty string")
    return value.strip()


def required_text(body: dict[str, Any], name: str) -> str:
    text = text_field(body, name)
    assert text is not None
    return text


def enum_field(kind: type[E], value: str | None, name: str) -> E:
    try:
        return kind(value or "")
    except ValueError as err:
        raise InvalidRequest(f"{name}: unknown value {value!r}") from err
