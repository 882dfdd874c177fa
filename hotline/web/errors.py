"""One error body for every failure: ``{"error_id": "...", "message": "..."}``, with
``"details"`` when a console needs values to say it in its own words."""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.typedefs import Handler

from db.errors import DATABASE_DOWN
from hotline.web.inputs import check_address
from tickets.errors import DomainError

logger = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        error_id: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_id = error_id
        self.message = message
        self.headers = headers or {}


RETRY_AFTER = "5"  # seconds a client should wait after a 503


def error_body(
    status: int,
    error_id: str,
    message: str,
    headers: dict[str, str] | None = None,
    details: dict[str, str] | None = None,
) -> web.Response:
    body: dict[str, object] = {"error_id": error_id, "message": message}
    if details:
        body["details"] = details
    return web.json_response(body, status=status, headers=headers)


def unavailable(error_id: str, message: str) -> web.Response:
    return error_body(503, error_id, message, {"Retry-After": RETRY_AFTER})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        check_address(request)
        return await handler(request)
    except ApiError as err:
        return error_body(err.status, err.error_id, err.message, err.headers)
    except DomainError as err:
        return error_body(err.status, err.error_id, err.message, details=err.details)
    except web.HTTPException as err:
        if err.status < 400:
            raise
        error_id = err.reason.lower().replace(" ", "-")
        return error_body(err.status, error_id, err.reason)
    except DATABASE_DOWN as err:
        logger.warning("%s %s: database unavailable (%s)", request.method, request.path, err)
        return unavailable("database-unavailable", "the database is not answering; try again")
    except TimeoutError:
        logger.warning("%s %s: timed out", request.method, request.path, exc_info=True)
        return unavailable("timed-out", "a service this request needs did not answer in time")
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_body(500, "internal-error", "internal error")
