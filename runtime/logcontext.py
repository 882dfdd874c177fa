"""The call and the ticket a log line is about, set where the work starts (or where the ticket
becomes known) and read by the log filter that ``hotline.logs`` installs; any layer may set
them."""

from __future__ import annotations

from contextvars import ContextVar

call_id: ContextVar[str] = ContextVar("call_id", default="-")
ticket_code: ContextVar[str] = ContextVar("ticket_code", default="-")
