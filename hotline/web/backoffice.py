"""Back-office routes: ticket lifecycle, duplicates and merge, transfer, 115 dispatch, the
administrator's reference data (audited), and the reports (JSON and a Vietnamese HTML page).
Handlers parse, check the role, call ``tickets.service.BackofficeService`` and render."""

from __future__ import annotations

import asyncio
import html
from collections.abc import AsyncIterator
from dataclasses import asdict
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, TypeVar

from aiohttp import web

from db.backoffice import PostgresBackofficeStore
from db.province import PostgresProvinceRepository
from db.reports import PostgresReportRepository
from hotline.tasks import TaskManager
from hotline.web.errors import ApiError
from hotline.web.http import MAX_PAGE, POOL, USER, int_param, json_object, requires
from hotline.web.openapi import describe
from tickets.agencies import AGENCY_KINDS, Agency, Holiday, RoutingRule
from tickets.dispatch import Attempt, Outcome, Point
from tickets.errors import InvalidRequest
from tickets.lifecycle import Closure
from tickets.model import Category, Line, Role, User
from tickets.phone import mask_phone, mask_phones
from tickets.reports import Lang, Report, label, period_text, rows, section_title
from tickets.reports import to_json as report_json
from tickets.routing import Router
from tickets.service import BackofficeService, TicketState

STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
AGENCY_SIDE = (Role.AGENCY, Role.SUPERVISOR, Role.ADMIN)
EVERYONE = tuple(Role)
MANAGERS = (Role.SUPERVISOR, Role.ADMIN)
MAX_REPORT_DAYS = 3660

E = TypeVar("E", bound=StrEnum)


def _service(request: web.Request) -> BackofficeService:
    return BackofficeService(PostgresBackofficeStore(request.app[POOL]))


async def _ticket_id(request: web.Request) -> int:
    ident = request.match_info["ticket"]
    ticket_id = await PostgresBackofficeStore(request.app[POOL]).ticket_ids_for(ident)
    if ticket_id is None:
        raise ApiError(404, "ticket-not-found", f"no ticket {ident}")
    return ticket_id


def _text(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"{name} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(f"{name} must be a non-empty string")
    return value.strip()


def _enum(kind: type[E], value: str | None, name: str) -> E:
    try:
        return kind(value or "")
    except ValueError as err:
        raise InvalidRequest(f"{name}: unknown value {value!r}") from err


def state_json(ticket: TicketState, viewer: User) -> dict[str, Any]:
    full = viewer.role is not Role.AGENCY
    return {
        "id": ticket.id,
        "code": ticket.code,
        "line": ticket.line.value,
        "category": ticket.category.value,
        "subcategory": ticket.subcategory,
        "status": ticket.status.value,
        "locality": ticket.locality,
        "agency_code": ticket.agency_code,
        "caller_phone": ticket.caller_phone if full else mask_phone(ticket.caller_phone),
        "deadline_at": ticket.deadline_at.isoformat() if ticket.deadline_at else None,
        "merged_into": ticket.merged_into,
    }


def attempt_json(attempt: Attempt | None) -> dict[str, Any] | None:
    if attempt is None:
        return None
    return {
        "seq": attempt.seq,
        "facility": attempt.facility_code,
        "sent_at": attempt.sent_at.isoformat(),
        "due_at": attempt.due_at.isoformat(),
        "result": attempt.result.value,
    }


def _reply(ticket: TicketState, request: web.Request) -> web.Response:
    return web.json_response(state_json(ticket, request[USER]))


# ---------------------------------------------------------------- lifecycle


@describe(
    body={
        "type": "object",
        "required": ["category"],
        "properties": {
            "category": {"type": "string"},
            "subcategory": {"type": "string"},
            "locality": {"type": "string"},
            "description": {"type": "string"},
            "location": {"type": "string"},
            "lat": {"type": "number"},
            "long": {"type": "number"},
        },
    }
)
@requires(*STAFF)
async def classify(request: web.Request) -> web.Response:
    body = await json_object(request)
    category = _enum(Category, _text(body, "category"), "category")
    lat, long = body.get("lat"), body.get("long")
    point = None
    if lat is not None or long is not None:
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (lat, long)):
            raise InvalidRequest("lat and long must both be numbers")
        assert isinstance(lat, int | float)
        assert isinstance(long, int | float)
        if not (-90 <= lat <= 90 and -180 <= long <= 180):
            raise InvalidRequest("lat/long out of range")
        point = Point(float(lat), float(long))
    ticket = await _service(request).classify(
        request[USER],
        await _ticket_id(request),
        category,
        _text(body, "subcategory", required=False),
        _text(body, "locality", required=False),
        description=_text(body, "description", required=False),
        location=_text(body, "location", required=False),
        point=point,
    )
    return _reply(ticket, request)


@describe(body={"type": "object", "properties": {"agency": {"type": "string"}}})
@requires(*STAFF)
async def forward(request: web.Request) -> web.Response:
    body = await json_object(request)
    ticket = await _service(request).forward(
        request[USER], await _ticket_id(request), _text(body, "agency", required=False)
    )
    return _reply(ticket, request)


@requires(*AGENCY_SIDE)
async def accept(request: web.Request) -> web.Response:
    ticket = await _service(request).accept(request[USER], await _ticket_id(request))
    return _reply(ticket, request)


@describe(
    body={
        "type": "object",
        "required": ["response"],
        "properties": {"response": {"type": "string"}},
    }
)
@requires(*AGENCY_SIDE)
async def respond(request: web.Request) -> web.Response:
    body = await json_object(request)
    response = _text(body, "response")
    assert response is not None
    ticket = await _service(request).respond(request[USER], await _ticket_id(request), response)
    return _reply(ticket, request)


@describe(body={"type": "object", "properties": {"closure": {"type": "string"}}})
@requires(*STAFF)
async def close(request: web.Request) -> web.Response:
    body = await json_object(request)
    raw = _text(body, "closure", required=False)
    closure = None if raw is None else _enum(Closure, raw, "closure")
    ticket = await _service(request).close(request[USER], await _ticket_id(request), closure)
    return _reply(ticket, request)


@describe(
    body={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}}
)
@requires(*STAFF)
async def reopen(request: web.Request) -> web.Response:
    body = await json_object(request)
    reason = _text(body, "reason")
    assert reason is not None
    ticket = await _service(request).reopen(request[USER], await _ticket_id(request), reason)
    return _reply(ticket, request)


@describe(
    body={
        "type": "object",
        "required": ["agency", "reason"],
        "properties": {"agency": {"type": "string"}, "reason": {"type": "string"}},
    }
)
@requires(*MANAGERS)
async def reassign(request: web.Request) -> web.Response:
    body = await json_object(request)
    agency, reason = _text(body, "agency"), _text(body, "reason")
    assert agency is not None
    assert reason is not None
    ticket = await _service(request).reassign(
        request[USER], await _ticket_id(request), agency, reason
    )
    return _reply(ticket, request)


@requires(*EVERYONE)
async def timeline(request: web.Request) -> web.Response:
    ticket_id = await _ticket_id(request)
    await _service(request).ticket(ticket_id, request[USER])  # agency users: own tickets only
    events = await PostgresBackofficeStore(request.app[POOL]).timeline(ticket_id)
    if request[USER].role is Role.AGENCY:  # event data may quote the caller's number
        events = mask_phones(events)
    return web.json_response({"events": events})


@requires(*STAFF)
async def duplicates(request: web.Request) -> web.Response:
    found = await _service(request).duplicates(request[USER], await _ticket_id(request))
    return web.json_response({"candidates": [asdict(s) for s in found]})


@describe(body={"type": "object", "required": ["into"], "properties": {"into": {"type": "string"}}})
@requires(*STAFF)
async def merge(request: web.Request) -> web.Response:
    body = await json_object(request)
    into = body.get("into")
    if not isinstance(into, int):
        raise InvalidRequest("into must be a ticket id")
    ticket = await _service(request).merge(request[USER], await _ticket_id(request), into)
    return _reply(ticket, request)


@requires(*STAFF)
async def transfer(request: web.Request) -> web.Response:
    ticket = await _service(request).transfer(request[USER], await _ticket_id(request))
    return web.json_response(state_json(ticket, request[USER]), status=201)


@requires(*MANAGERS)
async def escalate(request: web.Request) -> web.Response:
    escalated = await _service(request).escalate_overdue()
    return web.json_response({"escalated": [t.code for t in escalated]})


# ---------------------------------------------------------------- 115 dispatch


@requires(*STAFF)
async def dispatch(request: web.Request) -> web.Response:
    attempt = await _service(request).dispatch(request[USER], await _ticket_id(request))
    return web.json_response({"pending": attempt_json(attempt)}, status=201)


@describe(
    body={
        "type": "object",
        "required": ["accepted"],
        "properties": {"accepted": {"type": "boolean"}, "reason": {"type": "string"}},
    }
)
@requires(*STAFF)
async def dispatch_answer(request: web.Request) -> web.Response:
    body = await json_object(request)
    accepted = body.get("accepted")
    if not isinstance(accepted, bool):
        raise InvalidRequest("accepted must be true or false")
    reason = _text(body, "reason", required=False)
    following = await _service(request).answer_dispatch(
        request[USER], await _ticket_id(request), accepted, reason
    )
    return web.json_response({"pending": attempt_json(following)})


@requires(*MANAGERS)
async def dispatch_timeouts(request: web.Request) -> web.Response:
    moved = await _service(request).expire_dispatches()
    return web.json_response({"timed_out": moved})


@describe(body={"type": "object", "required": ["kind"], "properties": {"kind": {"type": "string"}}})
@requires(*STAFF)
async def milestone(request: web.Request) -> web.Response:
    body = await json_object(request)
    kind = _text(body, "kind")
    assert kind is not None
    ticket = await _service(request).milestone(request[USER], await _ticket_id(request), kind)
    return _reply(ticket, request)


@describe(
    body={"type": "object", "required": ["outcome"], "properties": {"outcome": {"type": "string"}}}
)
@requires(*STAFF)
async def complete(request: web.Request) -> web.Response:
    body = await json_object(request)
    outcome = _enum(Outcome, _text(body, "outcome"), "outcome")
    ticket = await _service(request).complete(request[USER], await _ticket_id(request), outcome)
    return _reply(ticket, request)


# ---------------------------------------------------------------- reference data


def _province_repo(request: web.Request) -> PostgresProvinceRepository:
    return PostgresProvinceRepository(request.app[POOL])


@requires(*EVERYONE)
async def list_agencies(request: web.Request) -> web.Response:
    province = await _province_repo(request).province()
    return web.json_response({"items": [asdict(a) for a in province.agencies]})


@requires(*EVERYONE)
async def list_localities(request: web.Request) -> web.Response:
    province = await _province_repo(request).province()
    return web.json_response({"items": [asdict(loc) for loc in province.localities]})


@requires(*EVERYONE)
async def list_categories(request: web.Request) -> web.Response:
    province = await _province_repo(request).province()
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
    province = await _province_repo(request).province()
    category = _enum(Category, request.query.get("category"), "category")
    router = Router(
        province.rules,
        {loc.code: loc.parent_code for loc in province.localities},
        province.coordinator,
    )
    decision = router.route(
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
    province = await _province_repo(request).province()
    locality = _text(body, "locality", required=False)
    if locality is not None and locality not in {loc.code for loc in province.localities}:
        raise InvalidRequest(f"unknown locality {locality!r}")
    kind = _text(body, "kind")
    name_vi, name_en = _text(body, "name_vi"), _text(body, "name_en")
    assert kind is not None
    assert name_vi is not None
    assert name_en is not None
    active = body.get("active", True)
    if not isinstance(active, bool):
        raise InvalidRequest("active must be true or false")
    if kind not in AGENCY_KINDS:
        raise InvalidRequest(f"kind must be one of {sorted(AGENCY_KINDS)}")
    agency = Agency(code, kind, name_vi, name_en, locality, active)
    await _province_repo(request).save_agency(request[USER].username, agency)
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
    province = await _province_repo(request).province()
    category = _enum(Category, _text(body, "category"), "category")
    subcategory = _text(body, "subcategory", required=False)
    locality = _text(body, "locality", required=False)
    agency = _text(body, "agency")
    if subcategory is not None and subcategory not in {s.code for s in province.subcategories}:
        raise InvalidRequest(f"unknown subcategory {subcategory!r}")
    if locality is not None and locality not in {loc.code for loc in province.localities}:
        raise InvalidRequest(f"unknown locality {locality!r}")
    if agency not in {a.code for a in province.agencies}:
        raise InvalidRequest(f"unknown agency {agency!r}")
    assert agency is not None
    rule = RoutingRule(category, subcategory, locality, agency)
    await _province_repo(request).save_rule(request[USER].username, rule)
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
    name_vi, name_en = _text(body, "name_vi"), _text(body, "name_en")
    assert name_vi is not None
    assert name_en is not None
    holiday = Holiday(day, name_vi, name_en)
    await _province_repo(request).set_holiday(request[USER].username, holiday)
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
    category = _enum(Category, request.match_info["code"], "category")
    days = body.get("deadline_days")
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or days < 1):
        raise InvalidRequest("deadline_days must be a positive integer or null")
    await _province_repo(request).set_category_deadline(request[USER].username, category, days)
    return web.json_response({"category": category.value, "deadline_days": days})


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
    items = await _province_repo(request).audit_trail(
        request.query.get("entity"), limit=limit, offset=offset
    )
    return web.json_response({"items": items, "limit": limit, "offset": offset})


# ---------------------------------------------------------------- reports


def _period(request: web.Request) -> tuple[date, date, tuple[Line, ...]]:
    try:
        start = date.fromisoformat(request.query["from"])
        end = date.fromisoformat(request.query["to"])
    except (KeyError, ValueError) as err:
        raise InvalidRequest("from and to are required, as YYYY-MM-DD") from err
    if end < start or end - start > timedelta(days=MAX_REPORT_DAYS):
        raise InvalidRequest("to must not be before from, and the period at most ten years")
    raw = request.query.get("line")
    lines = (Line.CITIZEN, Line.MEDICAL) if raw is None else (_enum(Line, raw, "line"),)
    return start, end, lines


async def _report(request: web.Request, start: date, end: date, lines: tuple[Line, ...]) -> Report:
    """The report with its staffing section: queue → line from the menu file, the Erlang C
    targets from the settings."""
    from agents.staffing import StaffingPolicy
    from hotline.app import MENU, SETTINGS  # hotline.app imports this module

    staffing = StaffingPolicy.from_config(request.app[SETTINGS], request.app[MENU].lines)
    return await PostgresReportRepository(request.app[POOL]).report(start, end, lines, staffing)


@requires(*MANAGERS)
async def report_api(request: web.Request) -> web.Response:
    start, end, lines = _period(request)
    return web.json_response(report_json(await _report(request, start, end, lines)))


_PAGE_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1b1b}"
    "table{border-collapse:collapse;min-width:36rem}"
    "th,td{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "tr.h th{background:#f2f4f7;padding-top:1rem}"
)


def report_page(report: Report, lang: Lang) -> str:
    """The same rows as ``hotline report``, as a self-contained HTML page."""
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{lang.value}"><head><meta charset="utf-8">',
        f"<title>{html.escape(label('title', lang))}</title>",
        f"<style>{_PAGE_CSS}</style></head><body>",
        f"<h1>{html.escape(label('title', lang))}</h1>",
        f"<p>{html.escape(period_text(report, lang))}</p>",
        "<table>",
        f"<thead><tr><th>{html.escape(label('figure', lang))}</th>"
        f"<th>{html.escape(label('value', lang))}</th>"
        f"<th>{html.escape(label('share', lang))}</th></tr></thead><tbody>",
    ]
    section = None
    for row in rows(report):
        if row.section != section:
            section = row.section
            title = html.escape(section_title(section, lang))
            out.append(f'<tr class="h"><th colspan="3">{title}</th></tr>')
        share = row.share_text(lang)
        text = html.escape(label(row.key, lang).strip())
        out.append(
            f'<tr data-key="{row.section}.{row.key}"><td>{text}</td>'
            f'<td class="n">{html.escape(row.value_text(lang))}</td>'
            f'<td class="n">{html.escape(share)}</td></tr>'
        )
    out.append("</tbody></table></body></html>")
    return "\n".join(out)


@requires(*MANAGERS)
async def report_html(request: web.Request) -> web.Response:
    start, end, lines = _period(request)
    lang = _enum(Lang, request.query.get("lang", Lang.VI.value), "lang")
    report = await _report(request, start, end, lines)
    return web.Response(text=report_page(report, lang), content_type="text/html", charset="utf-8")


async def backoffice_ctx(app: web.Application) -> AsyncIterator[None]:
    """The sweeper (escalation of overdue tickets, 115 dispatch timeouts) while the app runs."""
    stop = asyncio.Event()
    tasks = TaskManager()
    tasks.start(
        BackofficeService(PostgresBackofficeStore(app[POOL])).run_sweeper(stop),
        name="backoffice-sweeper",
    )
    try:
        yield
    finally:
        stop.set()
        await tasks.close()


def add_backoffice_routes(app: web.Application) -> None:
    ticket = "/api/v1/tickets/{ticket}"
    for action, handler in (
        ("classify", classify),
        ("forward", forward),
        ("accept", accept),
        ("respond", respond),
        ("close", close),
        ("reopen", reopen),
        ("reassign", reassign),
        ("merge", merge),
        ("transfer", transfer),
        ("dispatch", dispatch),
        ("dispatch/answer", dispatch_answer),
        ("milestones", milestone),
        ("complete", complete),
    ):
        app.router.add_post(f"{ticket}/{action}", handler)
    app.router.add_get(f"{ticket}/timeline", timeline)
    app.router.add_get(f"{ticket}/duplicates", duplicates)
    app.router.add_post("/api/v1/backoffice/escalations", escalate)
    app.router.add_post("/api/v1/backoffice/dispatch-timeouts", dispatch_timeouts)
    app.router.add_get("/api/v1/agencies", list_agencies)
    app.router.add_put("/api/v1/agencies/{code}", put_agency)
    app.router.add_get("/api/v1/localities", list_localities)
    app.router.add_get("/api/v1/categories", list_categories)
    app.router.add_put("/api/v1/categories/{code}/deadline", put_deadline)
    app.router.add_get("/api/v1/routing", route_preview)
    app.router.add_put("/api/v1/routing-rules", put_rule)
    app.router.add_put("/api/v1/holidays/{day}", put_holiday)
    app.router.add_get("/api/v1/audit", audit_trail)
    app.router.add_get("/api/v1/reports", report_api)
    app.router.add_get("/reports", report_html)
