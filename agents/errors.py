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


class OperatorNotOnCall(AgentsError):
    """Listen, whisper and barge need a call to join."""

    error_id = "operator-not-on-call"
    status = 409


class SpyNotConnected(AgentsError):
    """The supervisor's softphone was rung but nobody is listening: it did not answer, was
    busy or not reachable, or the operator's call ended before it answered. ``error_id`` says
    which (``spy-<answer>``, ``spy-call-ended``); ``details`` names the softphone."""

    error_id = "spy-not-connected"
    status = 409

    def __init__(self, message: str, *, why: str, extension: str) -> None:
        super().__init__(message)
        self.error_id = f"spy-{why.replace('_', '-')}"
        self.details = {"extension": extension.split("/", 1)[-1]}


class CallNotFound(AgentsError):
    error_id = "call-not-found"
    status = 404


class CallNotLive(AgentsError):
    """The call is known but its caller is no longer on the line (or waits nowhere)."""

    error_id = "call-not-live"
    status = 409


class CallAlreadyOnLine(AgentsError):
    error_id = "call-already-on-line"
    status = 409


class NotOnThisCall(AgentsError):
    """Only the operator talking to the caller, or a supervisor, may move a call."""

    error_id = "not-on-this-call"
    status = 403
