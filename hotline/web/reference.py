"""The reference data over HTTP: agencies, localities, categories and their deadlines, routing
rules (and a preview of where a ticket would go), holidays; the administrator's changes are
audited and listed."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Any

from aiohttp import web

from hotline.keys import PROVINCE
from hotline.web.errors import ApiError
from hotline.web.fields import enum_field, required_text, text_field
from hotline.web.http import MAX_PAGE, USER, int_param, json_object, requires
from hotline.web.openapi import describe
from tickets.agencies import AGENCY_KINDS, Agency, Holiday, RoutingRule
from tickets.errors import InvalidRequest
from tickets.model import Category, Role
from tickets.routing import Router

STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
EVERYONE = tuple(Role)


@requires(*EVERYONE)
async def list_agencies(request: web.Request) -> web.Response:
    province = await request.app[PROVINCE].province()
    return web.json_response({"items": [asdict(a) for a in province.agencies]})


@requires(*EVERYONE)
async def list_localities(request: web.Request) -> web.Response:
    province = await request.app[PROVINCE].province()
    return web.json_response({"items": [asdict(loc) for loc in province.localities]})


@requires(*EVERYONE)
async def list_categories(request: web.Request) -> web.Response:
    province = await request.app[PROVINCE].province()
    return web.json_response(
        {
            "categories": [{**asdict(c), "code": c.code.value} for c in province.categories],
            "subcategories": [
                {**asdict(s), "category": s.category.value} for s in province.subcategories
            ],
        }
    )


@describe(
    query={
        "category": {"type": "string"},
        "subcategory": {"type": "string"},
        "locality": {"type": "string"},
    },
    required_query=("category",),
)
@requires(*STAFF)
async def route_preview(request: web.Request) -> web.Response:
    province = await request.app[PROVINCE].province()
    category = enum_field(Category, request.query.get("category"), "category")
    decision = Router.of(province).route(
        category, request.query.get("subcategory"), request.query.get("locality")
    )
    return web.json_response({"agency": decision.agency_code, "fallback": decision.fallback})


@describe(
    body={
        "type": "object",
        "required": ["kind", "name_vi", "name_en"],
        "properties": {
            "kind": {"type": "string"},
            "name_vi": {"type": "string"},
            "name_en": {"type": "string"},
            "locality": {"type": "string"},
            "active": {"type": "boolean"},
        },
    }
)
@requires(Role.ADMIN)
async def put_agency(request: web.Request) -> web.Response:
    body = await json_object(request)
    code = request.match_info["code"]
    province = await request.app[PROVINCE].province()
    locality = text_field(body, "locality", required=False)
    if locality is not None and locality not in {loc.code for loc in province.localities}:
        raise InvalidRequest(f"unknown locality {locality!r}")
    kind = required_text(body, "kind")
    name_vi, name_en = required_text(body, "name_vi"), required_text(body, "name_en")
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise InvalidRequest("active must be true or false")
    if kind not in AGENCY_KINDS:
        raise InvalidRequest(f"kind must be one of {sorted(AGENCY_KINDS)}")
    agency = Agency(code, kind, name_vi, name_en, locality, active)
    await request.app[PROVINCE].save_agency(request[USER].username, agency)
    return web.json_response(asdict(agency))


@describe(
    body={
        "type": "object",
        "required": ["category", "agency"],
        "properties": {
            "category": {"type": "string"},
            "subcategory": {"type": "string"},
            "locality": {"type": "string"},
            "agency": {"type": "string"},
        },
    }
)
@requires(Role.ADMIN)
async def put_rule(request: web.Request) -> web.Response:
    body = await json_object(request)
    province = await request.app[PROVINCE].province()
    category = enum_field(Category, required_text(body, "category"), "category")
    subcategory = text_field(body, "subcategory", required=False)
    locality = text_field(body, "locality", required=False)
    agency = required_text(body, "agency")
    if subcategory is not None and subcategory not in {s.code for s in province.subcategories}:
        raise InvalidRequest(f"unknown subcategory {subcategory!r}")
    if locality is not None and locality not in {loc.code for loc in province.localities}:
        raise InvalidRequest(f"unknown locality {locality!r}")
    if agency not in {a.code for a in province.agencies}:
        raise InvalidRequest(f"unknown agency {agency!r}")
    rule = RoutingRule(category, subcategory, locality, agency)
    await request.app[PROVINCE].save_rule(request[USER].username, rule)
    return web.json_response({**asdict(rule), "category": category.value})


@describe(
    body={
        "type": "object",
        "required": ["name_vi", "name_en"],
        "properties": {"name_vi": {"type": "string"}, "name_en": {"type": "string"}},
    }
)
@requires(Role.ADMIN)
async def put_holiday(request: web.Request) -> web.Response:
    body = await json_object(request)
    try:
        day = date.fromisoformat(request.match_info["day"])
    except ValueError as err:
        raise InvalidRequest("the day must be YYYY-MM-DD") from err
    name_vi, name_en = required_text(body, "name_vi"), required_text(body, "name_en")
    holiday = Holiday(day, name_vi, name_en)
    await request.app[PROVINCE].set_holiday(request[USER].username, holiday)
    return web.json_response({"day": day.isoformat(), "name_vi": name_vi, "name_en": name_en})


@describe(
    body={
        "type": "object",
        "required": ["deadline_days"],
        "properties": {"deadline_days": {"type": "integer"}},
    }
)
@requires(Role.ADMIN)
async def put_deadline(request: web.Request) -> web.Response:
    body = await json_object(request)
    category = enum_field(Category, request.match_info["code"], "category")
    days = _deadline_days(body)
    await request.app[PROVINCE].set_category_deadline(request[USER].username, category, days)
    return web.json_response({"category": category.value, "deadline_days": days})


@describe(
    body={
        "type": "object",
        "required": ["deadline_days"],
        "properties": {"deadline_days": {"type": ["integer", "null"]}},
    },
    responses={404: "no such subcategory"},
)
@requires(Role.ADMIN)
async def put_subcategory_deadline(request: web.Request) -> web.Response:
    """A subcategory's own deadline in working days (``null``: its category's)."""
    body = await json_object(request)
    code = request.match_info["code"]
    days = _deadline_days(body)
    if not await request.app[PROVINCE].set_subcategory_deadline(request[USER].username, code, days):
        raise ApiError(404, "subcategory-not-found", f"no subcategory {code!r}")
    return web.json_response({"subcategory": code, "deadline_days": days})


def _deadline_days(body: dict[str, Any]) -> int | None:
    days = body.get("deadline_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
        raise InvalidRequest("deadline_days must be a positive integer or null")
    return days


@describe(
    query={
        "entity": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 200},
        "offset": {"type": "integer", "minimum": 0},
    }
)
@requires(Role.ADMIN)
async def audit_trail(request: web.Request) -> web.Response:
    """The administrators' changes, newest first."""
    limit = int_param(request, "limit", 50, 1, MAX_PAGE)
    offset = int_param(request, "offset", 0, 0, 10_000_000)
    items = await request.app[PROVINCE].audit_trail(
        request.query.get("entity"), limit=limit, offset=offset
    )
    return web.json_response({"items": items, "limit": limit, "offset": offset})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/agencies", list_agencies)
    app.router.add_put("/api/v1/agencies/{code}", put_agency)
    app.router.add_get("/api/v1/localities", list_localities)
    app.router.add_get("/api/v1/categories", list_categories)
    app.router.add_put("/api/v1/categories/{code}/deadline", put_deadline)
    app.router.add_put("/api/v1/subcategories/{code}/deadline", put_subcategory_deadline)
    app.router.add_get("/api/v1/routing", route_preview)
    app.router.add_put("/api/v1/routing-rules", put_rule)
    app.router.add_put("/api/v1/holidays/{day}", put_holiday)
    app.router.add_get("/api/v1/audit", audit_trail)
