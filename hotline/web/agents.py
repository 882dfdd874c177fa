"""Queues, operators, statistics and callbacks over HTTP. Each route states its roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web

from agents.service import AgentsService
from agents.stats import summarise
from hotline.keys import AGENTS, AGENTS_REPO, STAFFING
from hotline.web.errors import ApiError
from hotline.web.http import USER, json_object, requires
from hotline.web.openapi import describe
from tickets.codes import HOTLINE_TZ, plain_int
from tickets.erlang import StaffingTarget
from tickets.model import Role, User
from tickets.staffing import INTERVAL, IntervalCounts, StaffingPolicy, plan_staffing

STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
TAKES_CALLS = (Role.OPERATOR, Role.SUPERVISOR)
OVERSEES = (Role.SUPERVISOR, Role.ADMIN)


def agents_service(request: web.Request) -> AgentsService:
    service = request.app.get(AGENTS)
    if service is None:
        raise ApiError(503, "asterisk-unavailable", "no AMI connection is configured")
    return service


def _today_start() -> datetime:
    local = datetime.now(HOTLINE_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


@requires(*STAFF)
async def queues(request: web.Request) -> web.Response:
    service = agents_service(request)
    now = datetime.now(UTC)
    rows = await request.app[AGENTS_REPO].queue_intervals(_today_start(), now + timedelta(days=1))
    items = []
    for name in service.queues:
        view = service.model.queue_view(name, now) if name in service.model.queues else {}
        today = summarise([r for r in rows if r["queue"] == name])
        items.append({"name": name, **view, "today": today})
    abandoned = await request.app[AGENTS_REPO].abandoned_since(_today_start())
    return web.json_response(
        {
            "items": items,
            "abandoned_today": [
                {**a, "abandoned_at": a["abandoned_at"].isoformat()} for a in abandoned
            ],
            "asterisk_connected": service.connected,
        }
    )


@requires(*STAFF)
async def operators(request: web.Request) -> web.Response:
    service = agents_service(request)
    now = datetime.now(UTC)
    views = [service.model.operator_view(i, now) for i in sorted(service.model.operators)]
    return web.json_response({"items": views})


@requires(*TAKES_CALLS)
async def me(request: web.Request) -> web.Response:
    user: User = request[USER]
    session = await agents_service(request).session(user.id)
    if session is None:
        return web.json_response({"logged_in": False})
    return web.json_response(
        {
            "logged_in": True,
            "interface": session.interface,
            "queues": session.queues,
            "logged_in_at": session.logged_in_at.isoformat(),
        }
    )


@describe(
    body={
        "type": "object",
        "properties": {
            "extension": {"type": "string"},
            "queues": {"type": "array", "items": {"type": "string"}},
            "reason": {"type": "string"},
        },
    },
    responses={503: "no AMI connection"},
)
@requires(*TAKES_CALLS)
async def me_action(request: web.Request) -> web.Response:
    user: User = request[USER]
    service = agents_service(request)
    action = request.match_info["action"]
    body = await json_object(request)
    if action == "login":
        extension = str(body.get("extension", "")).strip()
        if not extension or not extension.replace("/", "").replace("-", "").isalnum():
            raise ApiError(400, "invalid-request", "extension: the softphone, e.g. op101")
        wanted = body.get("queues")
        if wanted is not None and not (
            isinstance(wanted, list) and all(isinstance(q, str) for q in wanted)
        ):
            raise ApiError(400, "invalid-request", "queues: a list of queue names")
        try:
            session = await service.login(user, extension, wanted or None)
        except ValueError as err:
            raise ApiError(400, "invalid-request", str(err)) from err
        return web.json_response({"interface": session.interface, "queues": session.queues})
    if action == "logout":
        await service.logout(user.id)
    else:
        await service.pause(user.id, action == "pause", str(body.get("reason", ""))[:80])
    return web.json_response({"ok": True})


@describe(
    body={"type": "object", "properties": {"reason": {"type": "string"}}},
    responses={404: "nobody is logged in there"},
)
@requires(*OVERSEES)
async def operator_action(request: web.Request) -> web.Response:
    service = agents_service(request)
    interface = request.match_info["interface"]
    session = await request.app[AGENTS_REPO].session_of_interface(interface)
    if session is None:
        raise ApiError(404, "operator-not-logged-in", f"nobody is logged in at {interface}")
    action = request.match_info["action"]
    if action == "logout":
        await service.logout(session.user_id)
    else:
        reason = str((await json_object(request)).get("reason", "Supervisor"))[:80]
        await service.pause(session.user_id, action == "pause", reason)
    return web.json_response({"ok": True})


def _time_param(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as err:
        raise ApiError(400, "invalid-request", f"{name}: an ISO 8601 date or time") from err
    return value if value.tzinfo else value.replace(tzinfo=HOTLINE_TZ)


@describe(
    query={
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
    }
)
@requires(*OVERSEES)
async def queue_stats(request: web.Request) -> web.Response:
    start = _time_param(request, "from", _today_start())
    end = _time_param(request, "to", datetime.now(UTC) + timedelta(minutes=15))
    if end <= start or end - start > timedelta(days=366):
        raise ApiError(400, "invalid-request", "from < to, at most a year apart")
    repository = request.app[AGENTS_REPO]
    rows = await repository.queue_intervals(start, end)
    per_operator = await repository.operator_intervals(start, end)
    queues = sorted({r["queue"] for r in rows})
    return web.json_response(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "queues": {q: summarise([r for r in rows if r["queue"] == q]) for q in queues},
            "intervals": [{**r, "interval_start": r["interval_start"].isoformat()} for r in rows],
            "operators": [
                {**r, "interval_start": r["interval_start"].isoformat()} for r in per_operator
            ],
            "occupancy": await repository.occupancy(start, end),
        }
    )


def _staffing_targets(request: web.Request) -> StaffingPolicy:
    """Queue → line from the menu file; per line the target of the settings, or of the query
    (``target`` as a share or a percentage, ``seconds``) for every line at once."""
    policy = request.app[STAFFING]
    raw_level, raw_seconds = request.query.get("target"), request.query.get("seconds")
    try:
        level = None if raw_level is None else float(raw_level)
        seconds = None if raw_seconds is None else int(raw_seconds)
    except ValueError as err:
        raise ApiError(400, "invalid-request", "target: a number, seconds: an integer") from err
    if level is not None and 1 < level < 100:
        level /= 100
    if level is not None and not 0 < level < 1:
        raise ApiError(400, "invalid-request", "target: between 0 and 1 (or 0 and 100 %)")
    if seconds is not None and not 0 < seconds <= 3600:
        raise ApiError(400, "invalid-request", "seconds: between 1 and 3600")
    targets = {
        line: StaffingTarget(
            target.level if level is None else level,
            target.seconds if seconds is None else seconds,
        )
        for line, target in policy.targets.items()
    }
    return StaffingPolicy(policy.queue_lines, targets)


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


@requires(*OVERSEES)
async def staffing(request: web.Request) -> web.Response:
    """Erlang C per queue and 15-minute interval: measured arrivals (callers who joined the
    queue) and handling time (talk time of completed calls; the period's when an interval has
    none) ⇒ operators needed for the line's target (``tickets.staffing.plan_staffing``)."""
    start = _time_param(request, "from", _today_start())
    end = _time_param(request, "to", datetime.now(UTC) + timedelta(minutes=15))
    if end <= start or end - start > timedelta(days=366):
        raise ApiError(400, "invalid-request", "from < to, at most a year apart")
    policy = _staffing_targets(request)
    rows = await request.app[AGENTS_REPO].queue_intervals(start, end)
    plan = plan_staffing((IntervalCounts.from_row(r) for r in rows), policy)
    intervals = [
        {
            "queue": i.queue,
            "line": i.line.value,
            "interval_start": i.interval_start.isoformat(),
            "received": i.received,
            "aht_seconds": _rounded(i.aht_seconds, 1),
            "aht_from": i.aht_from,
            "intensity_erlangs": _rounded(i.intensity_erlangs, 3),
            "operators_needed": i.operators_needed,
            "service_level": _rounded(i.service_level, 4),
            "asa_seconds": _rounded(i.asa_seconds, 1),
            "occupancy": _rounded(i.occupancy, 4),
        }
        for i in plan.intervals
    ]
    queues = {
        q.queue: {
            "line": q.line.value,
            "target": q.target.level,
            "seconds": q.target.seconds,
            "received": q.received,
            "aht_seconds": _rounded(q.aht_seconds, 1),
            "peak_operators_needed": q.peak_operators_needed,
        }
        for q in plan.queues
    }
    return web.json_response(
        {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "interval_minutes": int(INTERVAL.total_seconds() // 60),
            "targets": {
                line.value: {"target": t.level, "seconds": t.seconds}
                for line, t in policy.targets.items()
            },
            "queues": queues,
            "intervals": intervals,
        }
    )


@requires(*STAFF)
async def callbacks(request: web.Request) -> web.Response:
    items = await request.app[AGENTS_REPO].open_callbacks(limit=200, offset=0)
    return web.json_response({"items": [c.to_json() for c in items]})


@describe(
    body={"type": "object", "properties": {"reached": {"type": "boolean"}}},
    responses={404: "no such callback"},
)
@requires(*TAKES_CALLS)
async def callback_action(request: web.Request) -> web.Response:
    service = agents_service(request)
    user: User = request[USER]
    ident = request.match_info["callback"]
    number = plain_int(ident)
    if number is None:
        raise ApiError(404, "callback-not-found", f"no callback {ident}")
    if request.match_info["action"] == "call":
        callback = await service.call_back(number, user)
    else:
        reached = (await json_object(request)).get("reached")
        if not isinstance(reached, bool):
            raise ApiError(400, "invalid-request", 'expected {"reached": true|false}')
        callback = await service.callback_result(number, reached, user)
    return web.json_response(callback.to_json())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/api/v1/queues", queues)
    app.router.add_get("/api/v1/operators", operators)
    app.router.add_get("/api/v1/operators/me", me)
    app.router.add_post("/api/v1/operators/me/{action:login|logout|pause|unpause}", me_action)
    app.router.add_post(
        "/api/v1/operators/{interface:.+}/{action:logout|pause|unpause}", operator_action
    )
    app.router.add_get("/api/v1/stats/queues", queue_stats)
    app.router.add_get("/api/v1/stats/staffing", staffing)
    app.router.add_get("/api/v1/callbacks", callbacks)
    app.router.add_post("/api/v1/callbacks/{callback}/{action:call|result}", callback_action)
