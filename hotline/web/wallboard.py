"""The supervisor wallboard: one page (``/wallboard``) read from across the room, fed by the
shared queue, operator and statistics routes, plus two read-only statistics of its own: tickets
per category and month, and operators logged in per queue and 15-minute interval."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from aiohttp import web

from db.stats import month_starts
from hotline.keys import MENU, SETTINGS, STATS
from hotline.web.errors import ApiError
from hotline.web.http import USER, requires
from hotline.web.openapi import describe
from hotline.web.operator import PAUSE_REASONS
from hotline.web.pages import page, render
from tickets.codes import HOTLINE_TZ, plain_int
from tickets.model import Category, Line, Role
from tickets.staffing import INTERVAL

OVERSEES = (Role.SUPERVISOR, Role.ADMIN)
MAX_MONTHS = 36
SUPERVISOR_REASON = "Giám sát viên yêu cầu"  # what Asterisk records, as on the operator console


@page(*OVERSEES)
async def wallboard(request: web.Request) -> web.Response:
    """The supervisor wallboard (HTML)."""
    settings = request.app[SETTINGS]
    reasons = [("supervisor", SUPERVISOR_REASON), *PAUSE_REASONS]
    flows = request.app[MENU].lines
    queues = [(flows[line].queue, line.value) for line in Line if line in flows]
    return render(
        request,
        "wallboard.html",
        page="wallboard",
        title_key="wallboard.title",
        user=request[USER],
        data={
            "queue_lines": dict(queues),
            "service_levels": [settings.service_level_1, settings.service_level_2],
            "categories": [c.value for c in Category],
        },
        queues=queues,
        pause_reasons=reasons,
    )


def _months(request: web.Request) -> int:
    raw = request.query.get("months", "12")
    months = plain_int(raw)
    if months is None or not 1 <= months <= MAX_MONTHS:
        raise ApiError(400, "invalid-request", f"months: a whole number from 1 to {MAX_MONTHS}")
    return months


def _lines(request: web.Request) -> list[str]:
    raw = request.query.get("line")
    if raw is None:
        return [line.value for line in Line]
    if raw not in {line.value for line in Line}:
        raise ApiError(400, "invalid-request", "line: 1022 or 115")
    return [raw]


@describe(
    query={
        "months": {"type": "integer", "minimum": 1, "maximum": MAX_MONTHS, "default": 12},
        "line": {"type": "string", "enum": [line.value for line in Line]},
    }
)
@requires(*OVERSEES)
async def categories_per_month(request: web.Request) -> web.Response:
    """Tickets per category and calendar month (Asia/Ho_Chi_Minh), this month included."""
    months = _months(request)
    lines = _lines(request)
    today = datetime.now(HOTLINE_TZ).date()
    starts = month_starts(today, months)
    end = date(today.year + today.month // 12, today.month % 12 + 1, 1)
    counts = await request.app[STATS].tickets_per_month(starts[0], end, lines)
    labels = [f"{d.year:04d}-{d.month:02d}" for d in starts]
    table = {c.value: dict.fromkeys(labels, 0) for c in Category}
    for count in counts:
        table.setdefault(count.category, dict.fromkeys(labels, 0))[count.month] = count.tickets
    return web.json_response(
        {
            "months": labels,
            "time_zone": HOTLINE_TZ.key,
            "lines": lines,
            "categories": [
                {"category": name, "counts": list(per.values()), "total": sum(per.values())}
                for name, per in table.items()
            ],
            "total": sum(c.tickets for c in counts),
        }
    )


def _day(request: web.Request) -> date:
    raw = request.query.get("date")
    if raw is None:
        return datetime.now(HOTLINE_TZ).date()
    try:
        return date.fromisoformat(raw)
    except ValueError as err:
        raise ApiError(400, "invalid-request", "date: YYYY-MM-DD") from err


@describe(query={"date": {"type": "string", "format": "date"}})
@requires(*OVERSEES)
async def logged_in_per_interval(request: web.Request) -> web.Response:
    """Operators logged in per queue and 15-minute interval of one local day (default today)."""
    day = _day(request)
    if not date(2000, 1, 1) <= day <= date(2999, 12, 31):
        raise ApiError(400, "invalid-request", "date: out of range")
    start = datetime(day.year, day.month, day.day, tzinfo=HOTLINE_TZ).astimezone(UTC)
    end = (
        datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=HOTLINE_TZ)
    ).astimezone(UTC)
    rows = await request.app[STATS].logged_in_per_interval(start, end)
    return web.json_response(
        {
            "date": day.isoformat(),
            "interval_minutes": int(INTERVAL.total_seconds() // 60),
            "items": [
                {
                    "queue": r.queue,
                    "interval_start": r.interval_start.isoformat(),
                    "operators": r.operators,
                }
                for r in rows
            ],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/wallboard", wallboard)
    app.router.add_get("/api/v1/stats/categories", categories_per_month)
    app.router.add_get("/api/v1/stats/logged-in", logged_in_per_interval)
