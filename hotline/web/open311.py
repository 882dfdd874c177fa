"""Open311 GeoReport v2 under ``/open311/v2/``: services, service definitions, requests (GET
public and rate-limited; POST with an ``api_key``). Field names exactly as the spec; JSON
answers are arrays (a single request too); errors are ``[{"code", "description"}]``."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree as ET

from aiohttp import web

from db.open311 import CLOSED_STATUSES, NewRequest, PublicRequest
from hotline.keys import API_KEYS, OPEN311, PROVINCE
from hotline.web.errors import ApiError
from hotline.web.http import PUBLIC_LIMIT, client_address, read_form
from hotline.web.i18n import Lang, text
from hotline.web.openapi import describe
from tickets.agencies import Locality, Province
from tickets.codes import HOTLINE_TZ, is_ticket_code
from tickets.errors import DomainError
from tickets.model import Category
from tickets.phone import normalize_phone
from tickets.privacy import mask_text
from tickets.text import carriable

logger = logging.getLogger(__name__)

ROOT = "/open311/v2"
MAX_WINDOW = timedelta(days=90)
MAX_RESULTS = 1000
MAX_DESCRIPTION = 4000
# Services offered to other systems: the field-report subcategories and two categories.
PLAIN_SERVICES = (Category.ADMIN_PROCEDURE, Category.INFORMATION)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Open311Error(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _fmt(request: web.Request) -> str:
    return request.match_info.get("fmt", "json")


def _render(
    request: web.Request, root: str, item: str, items: list[dict[str, Any]], status: int = 200
) -> web.Response:
    if _fmt(request) == "json":
        return web.json_response(items, status=status)
    top = ET.Element(root)
    for entry in items:
        top.append(_element(item, entry))
    body = ET.tostring(top, encoding="unicode", xml_declaration=False)
    return web.Response(
        text='<?xml version="1.0" encoding="utf-8"?>' + body,
        content_type="text/xml",
        charset="utf-8",
        status=status,
    )


def _element(name: str, value: Any) -> ET.Element:
    element = ET.Element(name)
    if isinstance(value, dict):
        for key, child in value.items():
            element.append(_element(key, child))
    elif isinstance(value, list):
        singular = name[:-1] if name.endswith("s") else name
        for child in value:
            element.append(_element(singular, child))
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = carriable(str(value))  # well-formed whatever was stored
    return element


def open311(handler: Handler) -> Handler:
    """Rate limit, and errors in the Open311 shape."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            if not request.app[PUBLIC_LIMIT].allow(f"open311:{client_address(request)}"):
                raise Open311Error(429, "too many requests; slow down")
            return await handler(request)
        except Open311Error as err:
            return _render(
                request,
                "errors",
                "error",
                [{"code": err.status, "description": err.description}],
                err.status,
            )
        except (ApiError, DomainError) as err:
            status = err.status
            return _render(
                request, "errors", "error", [{"code": status, "description": err.message}], status
            )

    return wrapper


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(HOTLINE_TZ).isoformat()


def _services(province: Province) -> list[dict[str, Any]]:
    names = {c.code: c for c in province.categories}
    out = []
    for category in PLAIN_SERVICES:
        info = names.get(category)
        if info is None:  # a province whose reference data lacks it offers no such service
            continue
        out.append(
            {
                "service_code": category.value,
                "service_name": info.name_vi,
                "description": info.name_en,
                "metadata": True,
                "type": "realtime",
                "keywords": category.value,
                "group": info.name_vi,
            }
        )
    field = names.get(Category.FIELD_REPORT)
    field_group = field.name_vi if field else Category.FIELD_REPORT.value
    for sub in province.subcategories:
        if sub.category is Category.FIELD_REPORT:
            out.append(
                {
                    "service_code": sub.code,
                    "service_name": sub.name_vi,
                    "description": sub.name_en,
                    "metadata": True,
                    "type": "realtime",
                    "keywords": f"field_report,{sub.code}",
                    "group": field_group,
                }
            )
    return out


def _service_of(province: Province, code: str) -> tuple[Category, str | None] | None:
    for category in PLAIN_SERVICES:
        if code == category.value:
            return category, None
    for sub in province.subcategories:
        if sub.code == code and sub.category is Category.FIELD_REPORT:
            return Category.FIELD_REPORT, sub.code
    return None


async def _province(request: web.Request) -> Province:
    return await request.app[PROVINCE].province()


@open311
async def services(request: web.Request) -> web.Response:
    return _render(request, "services", "service", _services(await _province(request)))


@open311
async def service_definition(request: web.Request) -> web.Response:
    province = await _province(request)
    code = request.match_info["code"]
    if _service_of(province, code) is None:
        raise Open311Error(404, f"no service {code!r}")
    localities = [
        {"key": loc.code, "name": loc.name_vi}
        for loc in province.localities
        if loc.kind != "province"
    ]
    definition = {
        "service_code": code,
        "attributes": [
            {
                "variable": True,
                "code": "locality",
                "datatype": "singlevaluelist",
                "required": False,
                "datatype_description": "Phường, quận nơi xảy ra sự việc",
                "order": 1,
                "description": "Địa bàn (ward or district)",
                "values": localities,
            }
        ],
    }
    if _fmt(request) == "json":
        return web.json_response(definition)
    root = ET.Element("service_definition")
    ET.SubElement(root, "service_code").text = code
    attributes = ET.SubElement(root, "attributes")
    for attribute in definition["attributes"]:
        attributes.append(_element("attribute", attribute))
    return web.Response(
        text='<?xml version="1.0" encoding="utf-8"?>' + ET.tostring(root, encoding="unicode"),
        content_type="text/xml",
        charset="utf-8",
    )


def _place(province: Province, code: str | None) -> tuple[str | None, Locality | None]:
    """The ward or district (``Phường Hải Châu 1, Quận Hải Châu``): where a request is,
    published instead of the caller's address, with the unit's own coordinates."""
    localities = {loc.code: loc for loc in province.localities}
    locality = localities.get(code) if code else None
    names = []
    unit = locality
    while unit is not None and unit.kind != "province":
        names.append(unit.name_vi)
        unit = localities.get(unit.parent_code) if unit.parent_code else None
    return (", ".join(names) or None), locality


def _request_json(item: PublicRequest, province: Province) -> dict[str, Any]:
    """Only what may be published: the service, the status in words, the agency, the ward or
    district, the dates and the operator's public summary, masked (``tickets.privacy``)."""
    names: dict[str, str] = {c.code.value: c.name_vi for c in province.categories}
    names |= {s.code: s.name_vi for s in province.subcategories}
    service_code = item.subcategory or item.category.value
    closed = item.status in CLOSED_STATUSES
    address, locality = _place(province, item.locality)
    return {
        "service_request_id": item.code,
        "status": "closed" if closed else "open",
        "status_notes": text(f"lookup.status_{item.status}", Lang.VI),
        "service_name": names.get(service_code, service_code),
        "service_code": service_code,
        "description": mask_text(item.public_summary) if item.public_summary else None,
        "agency_responsible": item.agency_name,
        "service_notice": None,
        "requested_datetime": _iso(item.created_at),
        "updated_datetime": _iso(item.closed_at if closed and item.closed_at else item.updated_at),
        "expected_datetime": _iso(item.deadline_at),
        "address": address,
        "address_id": locality.code if locality else None,
        "zipcode": None,
        "lat": locality.lat if locality else None,
        "long": locality.long if locality else None,
        "media_url": None,
    }


def _moment(text: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as err:
        raise Open311Error(
            400, f"{name} must be W3C/ISO 8601, e.g. 2020-01-01T00:00:00+07:00"
        ) from err
    if moment.tzinfo is None:
        raise Open311Error(400, f"{name} needs a time zone (Z or +07:00)")
    return moment


@describe(
    query={
        "service_request_id": {"type": "string"},
        "service_code": {"type": "string"},
        "start_date": {"type": "string", "format": "date-time"},
        "end_date": {"type": "string", "format": "date-time"},
        "status": {"type": "string"},
    }
)
@open311
async def list_requests(request: web.Request) -> web.Response:
    repository = request.app[OPEN311]
    province = await _province(request)
    query = request.query
    ids = [i for i in query.get("service_request_id", "").split(",") if i]
    if ids:
        found = await repository.by_codes(ids[:MAX_RESULTS])
        return _render(
            request, "service_requests", "request", [_request_json(r, province) for r in found]
        )
    now = datetime.now(UTC)
    end = _moment(query["end_date"], "end_date") if "end_date" in query else now
    start = (
        _moment(query["start_date"], "start_date") if "start_date" in query else end - MAX_WINDOW
    )
    if end < start:
        raise Open311Error(400, "end_date is before start_date")
    if end - start > MAX_WINDOW:
        raise Open311Error(400, "the date window may be at most 90 days")
    categories: list[str] | None = None
    subcategories: list[str] | None = None
    if query.get("service_code"):
        categories, subcategories = [], []
        for code in query["service_code"].split(","):
            service = _service_of(province, code)
            if service is None:
                raise Open311Error(400, f"unknown service_code {code!r}")
            if service[1] is None:
                categories.append(service[0].value)
            else:
                subcategories.append(service[1])
    statuses = {s for s in query.get("status", "").split(",") if s}
    if statuses - {"open", "closed"}:
        raise Open311Error(400, "status must be open, closed or both")
    closed = None if len(statuses) != 1 else statuses == {"closed"}
    found = await repository.search(
        start=start,
        end=end,
        categories=categories,
        subcategories=subcategories,
        closed=closed,
        limit=MAX_RESULTS,
    )
    return _render(
        request, "service_requests", "request", [_request_json(r, province) for r in found]
    )


@open311
async def get_request(request: web.Request) -> web.Response:
    code = request.match_info["id"]
    found = await request.app[OPEN311].by_codes([code]) if is_ticket_code(code) else []
    if not found:
        raise Open311Error(404, f"no service request {code!r}")
    province = await _province(request)
    return _render(request, "service_requests", "request", [_request_json(found[0], province)])


def _float(form: Any, name: str) -> float | None:
    raw = form.get(name)
    if raw in (None, ""):
        return None
    try:
        return float(raw)
    except ValueError as err:
        raise Open311Error(400, f"{name} must be a number") from err


@describe(
    body={
        "type": "object",
        "required": ["api_key", "service_code"],
        "properties": {
            "api_key": {"type": "string"},
            "service_code": {"type": "string"},
            "lat": {"type": "number"},
            "long": {"type": "number"},
            "address_string": {"type": "string"},
            "address_id": {"type": "string"},
            "description": {"type": "string"},
            "phone": {"type": "string"},
            "first_name": {"type": "string"},
            "last_name": {"type": "string"},
        },
    },
    body_type="application/x-www-form-urlencoded",
    responses={403: "invalid api_key"},
)
@open311
async def create_request(request: web.Request) -> web.Response:
    form = await read_form(request)
    key = str(form.get("api_key", ""))
    client = await request.app[API_KEYS].owner(key) if key else None
    if client is None:
        raise Open311Error(403, "Invalid api_key received -- can't proceed with create_request.")
    province = await _province(request)
    code = str(form.get("service_code", ""))
    service = _service_of(province, code)
    if service is None:
        raise Open311Error(400 if not code else 404, f"service_code {code!r} is not a service")
    lat, long = _float(form, "lat"), _float(form, "long")
    if (lat is None) != (long is None):
        raise Open311Error(400, "lat and long go together")
    if lat is not None and long is not None and not (-90 <= lat <= 90 and -180 <= long <= 180):
        raise Open311Error(400, "lat/long out of range")
    address = str(form.get("address_string", "")).strip() or None
    address_id = str(form.get("address_id", "")).strip() or None
    if lat is None and address is None and address_id is None:
        raise Open311Error(
            400, "a location is required: lat and long, address_string or address_id"
        )
    description = str(form.get("description", "")).strip() or None
    if description is not None and len(description) > MAX_DESCRIPTION:
        raise Open311Error(400, f"description is limited to {MAX_DESCRIPTION} characters")
    locality = str(form.get("attribute[locality]", "")).strip() or None
    if locality is not None and locality not in {loc.code for loc in province.localities}:
        raise Open311Error(400, f"attribute[locality]: unknown locality {locality!r}")
    raw_phone = str(form.get("phone", "")).strip()
    contact = {
        name: str(form[name]).strip()
        for name in ("email", "first_name", "last_name", "device_id", "account_id", "media_url")
        if str(form.get(name, "")).strip()
    }
    new = NewRequest(
        category=service[0],
        subcategory=service[1],
        description=description,
        address=address or address_id,
        lat=lat,
        long=long,
        locality=locality,
        caller_phone=normalize_phone(raw_phone),
        caller_raw=raw_phone,
        client=client,
        contact=contact,
    )
    ticket_code = await request.app[OPEN311].create(new, datetime.now(UTC))
    logger.info("open311 request %s created by %s", ticket_code, client)
    notice = "Tổng đài 1022 đã tiếp nhận; mã phản ánh " + ticket_code
    return _render(
        request,
        "service_requests",
        "request",
        [
            {
                "service_request_id": ticket_code,
                "service_notice": notice,
                "account_id": contact.get("account_id"),
            }
        ],
        status=201,
    )


def add_routes(app: web.Application) -> None:
    fmt = "{fmt:json|xml}"
    app.router.add_get(f"{ROOT}/services.{fmt}", services)
    app.router.add_get(f"{ROOT}/services/{{code}}.{fmt}", service_definition)
    app.router.add_get(f"{ROOT}/requests.{fmt}", list_requests)
    app.router.add_post(f"{ROOT}/requests.{fmt}", create_request)
    app.router.add_get(f"{ROOT}/requests/{{id}}.{fmt}", get_request)
