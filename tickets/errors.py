"""Errors of the ticket domain. Each has a stable ``error_id`` and the HTTP status the web layer
answers with (translated in one place: ``hotline.web.errors.error_middleware``)."""

from __future__ import annotations


class StorageError(Exception):
    """The storage behind a port refused or failed an operation; ``db.errors.DatabaseError``
    is the one real kind. Services catch this, never the database layer's own errors."""

    error_id = "storage-error"


class StorageUnavailable(StorageError):
    """The storage cannot be reached or the connection broke; worth retrying later."""

    error_id = "storage-unavailable"


class StorageRefused(StorageError):
    """The storage refuses this data for good (it cannot hold it, or a constraint says no):
    storing it again would fail again."""

    error_id = "storage-refused"


class DomainError(Exception):
    error_id = "domain-error"
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        # values a console puts in its own words for the error (errors.toml), e.g. a phone
        self.details: dict[str, str] = {}


class InvalidRequest(DomainError):
    error_id = "invalid-request"
    status = 400


class NotFound(DomainError):
    error_id = "not-found"
    status = 404


class TicketNotFound(NotFound):
    error_id = "ticket-not-found"


class AgencyNotFound(NotFound):
    error_id = "agency-not-found"


class LocalityNotFound(NotFound):
    error_id = "locality-not-found"


class CategoryNotFound(NotFound):
    error_id = "category-not-found"


class FacilityNotFound(NotFound):
    error_id = "facility-not-found"


class InvalidTransition(DomainError):
    """The action is not allowed in the ticket's current status."""

    error_id = "invalid-transition"
    status = 409


class NotYourTicket(DomainError):
    """An agency user acting on a ticket that is not (or no longer) its agency's."""

    error_id = "ticket-not-found"
    status = 404


class NoFacilityAvailable(DomainError):
    error_id = "no-facility-available"
    status = 409


class SnapshotRefused(DomainError):
    """A call snapshot that may not be stored (``tickets.intake.save_action``): it would mix
    another session into a call already stored under the same uniqueid."""

    error_id = "snapshot-refused"
    status = 409


class ProvinceDataError(DomainError):
    """The province file (agencies, localities, routing, holidays) is inconsistent."""

    error_id = "invalid-province-data"
    status = 400
