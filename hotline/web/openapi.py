"""The OpenAPI 3.1 document, built from the router itself so no route can be left out: the
summary is the handler's docstring, the roles come from ``requires``/``page``, and what a
handler reads (query parameters, body) and answers is declared next to it with ``describe``."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from tickets.model import Role

DOC_ATTRIBUTE = "hotline_openapi"
ROLES_ATTRIBUTE = "hotline_roles"  # set by ``requires`` and ``page``
PAGE_ATTRIBUTE = "hotline_page"  # set by ``page``: HTML for a browser session
OPENAPI_PATH = "/api/v1/openapi.json"
# Routes that are not an API: files and the socket's upgrade are documented as such.
SKIPPED = frozenset({"static"})

F = TypeVar("F", bound=Callable[..., Any])

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error_id", "message"],
    "properties": {
        "error_id": {"type": "string"},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}


def describe(
    *,
    query: dict[str, dict[str, Any]] | None = None,
    required_query: tuple[str, ...] = (),
    body: dict[str, Any] | None = None,
    body_type: str = "application/json",
    responses: dict[int, str] | None = None,
    produces: str = "application/json",
    tag: str | None = None,
) -> Callable[[F], F]:
    """Declare what a handler reads and answers: ``query`` maps names to JSON schemas,
    ``body`` is the request body's schema, ``responses`` the statuses beyond the usual ones."""

    def attach(handler: F) -> F:
        setattr(
            handler,
            DOC_ATTRIBUTE,
            {
                "query": query or {},
                "required_query": required_query,
                "body": body,
                "body_type": body_type,
                "responses": responses or {},
                "produces": produces,
                "tag": tag,
            },
        )
        return handler

    return attach


def roles_of(handler: object) -> frozenset[Role] | None:
    """The roles a route admits (``None``: a public route)."""
    roles: frozenset[Role] | None = getattr(handler, ROLES_ATTRIBUTE, None)
    return roles


def _doc(handler: object) -> dict[str, Any]:
    found: dict[str, Any] = getattr(handler, DOC_ATTRIBUTE, None) or {}
    wrapped = getattr(handler, "__wrapped__", None)
    if not found and wrapped is not None:
        return _doc(wrapped)
    return found


def _path_schemas(info: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A parameter whose route pattern is a list of words (``{action:login|logout}``) is an
    enum; any other is a string."""
    pattern = info.get("pattern")
    schemas: dict[str, dict[str, Any]] = {}
    if pattern is None:
        return schemas
    for name, body in re.findall(r"\(\?P<(\w+)>([^()]*)\)", pattern.pattern):
        words = body.split("|")
        if all(re.fullmatch(r"[\w.-]+(?:\\?/[\w.-]+)*", w) for w in words):
            schemas[name] = {"type": "string", "enum": [w.replace("\\", "") for w in words]}
        else:
            schemas[name] = {"type": "string"}
    return schemas


def _operation(
    method: str, path: str, handler: Any, path_schemas: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    doc = _doc(handler)
    if getattr(handler, PAGE_ATTRIBUTE, False):
        doc = {**doc, "tag": "pages", "produces": "text/html"}
    roles = roles_of(handler)
    summary = (inspect.getdoc(handler) or handler.__name__.replace("_", " ")).split("\n\n")[0]
    module = handler.__module__.rsplit(".", 1)[-1]
    operation: dict[str, Any] = {
        "operationId": f"{method.lower()}_{re.sub(r'[^0-9A-Za-z]+', '_', path).strip('_')}",
        "summary": " ".join(summary.split()),
        "tags": [doc.get("tag") or module],
        "parameters": [
            {
                "name": name,
                "in": "path",
                "required": True,
                "schema": path_schemas.get(name, {"type": "string"}),
            }
            for name in re.findall(r"\{(\w+)\}", path)
        ]
        + [
            {
                "name": name,
                "in": "query",
                "required": name in doc.get("required_query", ()),
                "schema": schema,
            }
            for name, schema in doc.get("query", {}).items()
        ],
        "responses": {
            "200": {
                "description": "OK",
                "content": {doc.get("produces", "application/json"): {"schema": {}}},
            },
            "default": {
                "description": "An error",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        },
    }
    for status, text in doc.get("responses", {}).items():
        operation["responses"][str(status)] = {"description": text}
    if roles is not None:
        operation["security"] = [{"bearer": []}, {"session": []}]
        operation["x-roles"] = sorted(role.value for role in roles)
        operation["responses"]["401"] = {"description": "not logged in"}
        operation["responses"]["403"] = {"description": "this role may not do this"}
    else:
        operation["security"] = []
    if doc.get("body") is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {doc.get("body_type", "application/json"): {"schema": doc["body"]}},
        }
    return operation


def build_document(app: web.Application) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in app.router.routes():
        resource = route.resource
        if resource is None or resource.name in SKIPPED or route.method == "HEAD":
            continue
        info = resource.get_info()
        path = info.get("formatter") or info.get("path")
        if path is None:
            continue
        paths.setdefault(path, {})[route.method.lower()] = _operation(
            route.method, path, route.handler, _path_schemas(info)
        )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hotline",
            "version": "1",
            "description": "Citizen hotline 1022 and medical emergency line 115: tickets, "
            "queues and operators, the back office, notifications, and the consoles' pages. "
            "Errors are always {error_id, message}; lists take limit and offset.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "hotline_session"},
            },
            "schemas": {"Error": ERROR_SCHEMA},
        },
    }


OPENAPI = web.AppKey("openapi", dict[str, Any])


async def openapi_document(request: web.Request) -> web.Response:
    """This document (public: it describes the API, it holds no data)."""
    return web.json_response(request.app[OPENAPI])


async def _build(app: web.Application) -> None:
    app[OPENAPI] = build_document(app)


def add_routes(app: web.Application) -> None:
    """Call last: the document is built at startup from every route then registered."""
    app.router.add_get(OPENAPI_PATH, openapi_document)
    app.on_startup.append(_build)
