"""Errors of the IVR, each with a stable id."""

from __future__ import annotations


class IvrError(Exception):
    error_id = "ivr-error"


class CallerHungUp(IvrError):
    """The caller is gone; the flow stops and the call is recorded as abandoned in the IVR."""

    error_id = "caller-hung-up"


class PbxSilent(IvrError):
    """Asterisk stopped answering commands: the session is closed, nothing more is sent, and
    the ticket stays as last saved (Asterisk's dialplan, not the IVR, moves the caller on)."""

    error_id = "pbx-silent"


class MenuError(IvrError):
    """The menu file is missing, malformed or inconsistent."""

    error_id = "menu-invalid"
