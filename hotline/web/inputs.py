"""The web boundary's one check of what a client sends: every text of a JSON body, a form, the
query and the path must be text a later reader can carry (``tickets.text``), and a JSON body
nests at most ``MAX_DEPTH`` levels; anything else is the client's 400 with the usual body
before a handler sees it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from tickets.errors import InvalidRequest
from tickets.text import check_text

MAX_DEPTH = 32
RAW_QUERY_ATTRIBUTE = "reads_raw_query"
F = TypeVar("F", bound=Callable[..., Any])


def check_json(value: Any, where: str = "body") -> Any:
    """``value`` when every key and string in it is carriable and it nests at most
    ``MAX_DEPTH`` deep (walked without recursion: a hostile body cannot exhaust the stack)."""
    stack: list[tuple[Any, str, int]] = [(value, where, 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidRequest(f"{where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(item, str):
            check_text(item, path)
        elif isinstance(item, dict):
            for key, child in item.items():
                check_text(key, f"{path}: a key")
                stack.append((child, f"{path}.{key}", depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
    return value


def parse_json(raw: str | bytes) -> Any:
    """A JSON body, checked; one that is not JSON (or nests past the parser's own limit) is a
    400, never a 500."""
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise InvalidRequest("the body must be JSON") from err
    return check_json(value)


def reads_raw_query(handler: F) -> F:
    """For a handler that decodes its own query (Kannel's MO: text in the sender's coding) and
    cleans what it decoded; the boundary then leaves that query alone."""
    setattr(handler, RAW_QUERY_ATTRIBUTE, True)
    return handler


def check_address(request: web.Request) -> None:
    """The path, and the query unless the handler reads it raw."""
    check_text(request.path, "the path")
    if getattr(request.match_info.handler, RAW_QUERY_ATTRIBUTE, False):
        return
    for name, value in request.query.items():
        check_text(name, "the query")
        check_text(value, f"the query parameter {name}")
