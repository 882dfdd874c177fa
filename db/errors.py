"""Errors of the database layer, each with a stable id."""

from __future__ import annotations


class DatabaseError(Exception):
    error_id = "database-error"


class DatabaseNewerThanCode(DatabaseError):
    error_id = "database-newer-than-code"


class SchemaOutOfDate(DatabaseError):
    error_id = "schema-out-of-date"


class DatabaseUnavailable(DatabaseError):
    """The server cannot be reached or the connection broke; worth retrying later."""

    error_id = "database-unavailable"
