"""Errors of the IVR, each with a stable id."""

from __future__ import annotations


class IvrError(Exception):
    error_id = "ivr-error"


class CallerHungUp(IvrError):
    """The caller is gone; the flow stops and the call is recorded as abandoned in the IVR."""

    error_id = "caller-hung-up"


class MenuError(IvrError):
    """The menu file is missing, malformed or inconsistent."""

    error_id = "menu-invalid"
