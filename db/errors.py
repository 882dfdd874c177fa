"""Errors of the database layer, each with a stable id; they are the storage errors the ports
declare (``tickets.errors``), so a service catches them without importing this layer. And which
driver errors mean that the database is out of reach rather than that it refused something."""

from __future__ import annotations

import asyncpg

from tickets.errors import StorageError, StorageRefused, StorageUnavailable


class DatabaseError(StorageError):
    error_id = "database-error"


class DatabaseNewerThanCode(DatabaseError):
    error_id = "database-newer-than-code"


class SchemaOutOfDate(DatabaseError):
    error_id = "schema-out-of-date"


class DatabaseUnavailable(DatabaseError, StorageUnavailable):
    """The server cannot be reached or the connection broke; worth retrying later."""

    error_id = "database-unavailable"


class DataRefused(DatabaseError, StorageRefused):
    """The database refuses this data for good (a data exception or a constraint): storing it
    again will fail again."""

    error_id = "data-refused"


# The server is out of reach, as the driver says it: a connection that broke (InterfaceError, or
# class 08), a server shutting down, starting up or in recovery (class 57), out of connection
# slots or disk (class 53); and no connection at all (db.pool turns its OSError or timeout
# into DatabaseUnavailable).
DATABASE_DOWN: tuple[type[Exception], ...] = (
    DatabaseUnavailable,
    asyncpg.InterfaceError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InsufficientResourcesError,
)
# Where only the database is talked to: also no route, refused, reset (OSError) and no answer in
# time (TimeoutError).
UNAVAILABLE: tuple[type[Exception], ...] = (OSError, TimeoutError, *DATABASE_DOWN)
# Anything the database can answer with, out of reach or not.
ANY_DATABASE_ERROR: tuple[type[Exception], ...] = (*UNAVAILABLE, asyncpg.PostgresError)
