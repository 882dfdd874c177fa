"""The period report for managers: the console page (``/reports``: a date-range form, the
figures, the charts a planning office reads, print-friendly), its CSV (``/reports.csv``) and the
JSON (``/api/v1/reports``), all with the staffing section built from the composition root's
``StaffingPolicy``."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from aiohttp import web

from hotline.keys import PROVINCE, REPORTS, STAFFING
from hotline.web.fields import enum_field
from hotline.web.http import USER, requires
from hotline.web.i18n import Lang as PageLang
from hotline.web.i18n import text
from hotline.web.openapi import describe
from hotline.web.pages import LANG_KEY, page, render
from tickets.codes import HOTLINE_TZ
from tickets.errors import InvalidRequest
from tickets.model import Line, Role
from tickets.reports import (
    Lang,
    Report,
    check_period,
    label,
    last_full_month,
    parse_day,
    period_text,
    rows,
    section_title,
    to_csv,
)
from tickets.reports import to_json as report_json

MANAGERS = (Role.SUPERVISOR, Role.ADMIN)
Period = tuple[date, date, tuple[Line, ...]]
PERIOD_QUERY: dict[str, dict[str, Any]] = {
    "from": {"type": "string", "description": "first day: dd/mm/yyyy or yyyy-mm-dd"},
    "to": {"type": "string", "description": "last day: dd/mm/yyyy or yyyy-mm-dd"},
    "line": {"type": "string", "enum": [line.value for line in Line]},
}


def _period(request: web.Request, *, default: bool = False) -> Period:
    """The period asked for; without ``from`` and ``to`` (and ``default``) the last full
    month. ``InvalidRequest`` (400) for a malformed day or period."""
    raw_from, raw_to = request.query.get("from", ""), request.query.get("to", "")
    try:
        if default and not raw_from and not raw_to:
            start, end = last_full_month(datetime.now(HOTLINE_TZ).date())
        else:
            start, end = parse_day(raw_from), parse_day(raw_to)
        check_period(start, end)
    except ValueError as err:
        raise InvalidRequest(f"from, to: {err}") from err
    raw = request.query.get("line") or None
    lines = (Line.CITIZEN, Line.MEDICAL) if raw is None else (enum_field(Line, raw, "line"),)
    return start, end, lines


async def _report(request: web.Request, period: Period) -> Report:
    return await request.app[REPORTS].report(*period, request.app[STAFFING])


@describe(query=PERIOD_QUERY, required_query=("from", "to"))
@requires(*MANAGERS)
async def report_api(request: web.Request) -> web.Response:
    """The period report as JSON: its figures (rows), staffing, months and agencies."""
    return web.json_response(report_json(await _report(request, _period(request))))


def _page(request: web.Request, *, status: int = 200, **context: Any) -> web.Response:
    return render(
        request,
        "reports.html",
        page="reports",
        title_key="reports.title",
        user=request[USER],
        status=status,
        **context,
    )


def _shown(day: date, lang: PageLang) -> str:
    return day.strftime("%d/%m/%Y") if lang is PageLang.VI else day.isoformat()


@describe(query=PERIOD_QUERY, produces="text/html", responses={400: "not a period"}, tag="pages")
@page(*MANAGERS)
async def report_page(request: web.Request) -> web.Response:
    """The reports page: the form (the last full month by default), the figures and charts;
    a malformed period is said on the page, in its language."""
    lang = request[LANG_KEY]
    report_lang = Lang(lang.value)
    try:
        period = _period(request, default=True)
    except InvalidRequest:
        return _page(
            request,
            status=400,
            form={"from": request.query.get("from", ""), "to": request.query.get("to", "")},
            line=request.query.get("line", ""),
            error=text("reports.bad_period", lang),
            report=None,
        )
    start, end, lines = period
    report = await _report(request, period)
    province = await request.app[PROVINCE].province()
    targets = {
        line.value: {"level": target.level, "seconds": target.seconds}
        for line, target in request.app[STAFFING].targets.items()
    }
    table = [
        {
            "section": row.section,
            "title": section_title(row.section, report_lang),
            "key": row.key,
            "label": label(row.key, report_lang).strip(),
            "value": row.value_text(report_lang),
            "share": row.share_text(report_lang),
        }
        for row in rows(report)
    ]
    return _page(
        request,
        form={"from": _shown(start, lang), "to": _shown(end, lang)},
        line=lines[0].value if len(lines) == 1 else "",
        error=None,
        report=report,
        period=period_text(report, report_lang),
        table=table,
        query={"from": start.isoformat(), "to": end.isoformat(), "lang": lang.value}
        | ({"line": lines[0].value} if len(lines) == 1 else {}),
        data={
            "report": report_json(report),
            "targets": targets,
            "agencies": {a.code: {"vi": a.name_vi, "en": a.name_en} for a in province.agencies},
            "categories": {
                c.code.value: {"vi": c.name_vi, "en": c.name_en} for c in province.categories
            },
        },
    )


@describe(
    query={**PERIOD_QUERY, "lang": {"type": "string", "enum": ["vi", "en"]}},
    required_query=("from", "to"),
    produces="text/csv",
    responses={400: "not a period"},
    tag="pages",
)
@page(*MANAGERS)
async def report_csv(request: web.Request) -> web.Response:
    """The period report as CSV (the figures, then month by month and agency by agency), labels
    in the page's language; a download, opening in Excel with its Vietnamese intact (a UTF-8
    byte order mark: without one Excel reads the file in the machine's ANSI code page)."""
    period = _period(request)
    report = await _report(request, period)
    name = f"bao-cao-{period[0].isoformat()}-{period[1].isoformat()}.csv"
    return web.Response(
        text="\ufeff" + to_csv(report, Lang(request[LANG_KEY].value)),
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "private, no-store",
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/reports", report_api)
    app.router.add_get("/reports", report_page)
    app.router.add_get("/reports.csv", report_csv)
