"""Errors of the database layer, each with a stable id; they are the storage errors the ports
declare (``tickets.errors``), so a service catches them without importing this layer."""

from __future__ import annotations

from tickets.errors import StorageError, StorageUnavailable


class DatabaseError(StorageError):
    error_id = "database-error"


class DatabaseNewerThanCode(DatabaseError):
    error_id = "database-newer-than-code"


class SchemaOutOfDate(DatabaseError):
    error_id = "schema-out-of-date"


class DatabaseUnavailable(DatabaseError, StorageUnavailable):
    """The server cannot be reached or the connection broke; worth retrying later."""

    error_id = "database-unavailable"
