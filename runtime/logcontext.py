"""The call (or ticket) a log line is about, set where the work starts and read by the log
filter that ``hotline.logs`` installs; any layer may set it."""

from __future__ import annotations

from contextvars import ContextVar

call_id: ContextVar[str] = ContextVar("call_id", default="-")
