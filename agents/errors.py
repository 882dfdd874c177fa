"""Errors of the operator/queue side, each with a stable id and the HTTP status it maps to
(translated with every other domain error in ``hotline.web.errors``)."""

from __future__ import annotations

from tickets.errors import DomainError


class AgentsError(DomainError):
    error_id = "agents-error"
    status = 500


class AsteriskUnavailable(AgentsError):
    error_id = "asterisk-unavailable"
    status = 503


class AsteriskRefused(AgentsError):
    """Asterisk answered ``Response: Error``; the message is Asterisk's."""

    error_id = "asterisk-refused"
    status = 409


class NotLoggedIn(AgentsError):
    error_id = "operator-not-logged-in"
    status = 409


class CallbackNotFound(AgentsError):
    error_id = "callback-not-found"
    status = 404
