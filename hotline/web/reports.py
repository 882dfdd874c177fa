"""The period report for managers: JSON (``/api/v1/reports``) and the HTML page (``/reports``),
with the staffing section built from the composition root's ``StaffingPolicy``."""

from __future__ import annotations

from datetime import date, timedelta

from aiohttp import web

from hotline.keys import REPORTS, STAFFING
from hotline.web.fields import enum_field
from hotline.web.http import requires
from hotline.web.report_page import report_page
from tickets.errors import InvalidRequest
from tickets.model import Line, Role
from tickets.reports import Lang, Report
from tickets.reports import to_json as report_json

MANAGERS = (Role.SUPERVISOR, Role.ADMIN)
MAX_REPORT_DAYS = 3660


def _period(request: web.Request) -> tuple[date, date, tuple[Line, ...]]:
    try:
        start = date.fromisoformat(request.query["from"])
        end = date.fromisoformat(request.query["to"])
    except (KeyError, ValueError) as err:
        raise InvalidRequest("from and to are required, as YYYY-MM-DD") from err
    if end < start or end - start > timedelta(days=MAX_REPORT_DAYS):
        raise InvalidRequest("to must not be before from, and the period at most ten years")
    raw = request.query.get("line")
    lines = (Line.CITIZEN, Line.MEDICAL) if raw is None else (enum_field(Line, raw, "line"),)
    return start, end, lines


async def _report(request: web.Request, period: tuple[date, date, tuple[Line, ...]]) -> Report:
    return await request.app[REPORTS].report(*period, request.app[STAFFING])


@requires(*MANAGERS)
async def report_api(request: web.Request) -> web.Response:
    return web.json_response(report_json(await _report(request, _period(request))))


@requires(*MANAGERS)
async def report_html(request: web.Request) -> web.Response:
    period = _period(request)
    lang = enum_field(Lang, request.query.get("lang", Lang.VI.value), "lang")
    report = await _report(request, period)
    return web.Response(text=report_page(report, lang), content_type="text/html", charset="utf-8")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/reports", report_api)
    app.router.add_get("/reports", report_html)
