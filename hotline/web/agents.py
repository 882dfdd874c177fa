"""Queues, operators, statistics and callbacks over HTTP. Each route states its roles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from agents.service import AgentsService
from agents.stats import summarise
from db.agents import PostgresAgentsRepository
from hotline.web.errors import ApiError
from hotline.web.http import USER, requires
from tickets.codes import HOTLINE_TZ
from tickets.model import Role, User

AGENTS = web.AppKey("agents", AgentsService)
AGENTS_REPO = web.AppKey("agents_repository", PostgresAgentsRepository)

STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
TAKES_CALLS = (Role.OPERATOR, Role.SUPERVISOR)
OVERSEES = (Role.SUPERVISOR, Role.ADMIN)


def _service(request: web.Request) -> AgentsService:
    service = request.app.get(AGENTS)
    if service is None:
        raise ApiError(503, "asterisk-unavailable", "no AMI connection is configured")
    return service


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError as err:
        raise ApiError(400, "invalid-request", "the body must be JSON") from err
    if not isinstance(body, dict):
        raise ApiError(400, "invalid-request", "the body must be a JSON object")
    return body


def _today_start() -> datetime:
    local = datetime.now(HOTLINE_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


@requires(*STAFF)
async def queues(request: web.Request) -> web.Response:
    service = _service(request)
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
    service = _service(request)
    now = datetime.now(UTC)
    views = [service.model.operator_view(i, now) for i in sorted(service.model.operators)]
    return web.json_response({"items": views})


@requires(*TAKES_CALLS)
async def me(request: web.Request) -> web.Response:
    user: User = request[USER]
    session = await _service(request).session(user.id)
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


@requires(*TAKES_CALLS)
async def me_action(request: web.Request) -> web.Response:
    user: User = request[USER]
    service = _service(request)
    action = request.match_info["action"]
    body = await _body(request)
    if action == "login":
        extension = str(body.get("extension", "")).strip()
        if not extension or not extension.replace("/", "").replace("-", "").isalnum():
            raise ApiError(400, "invalid-request", "extension: the softphone, e.g. op101")
        wanted = body.get("queues")
        try:
            session = await service.login(user, extension, list(wanted) if wanted else None)
        except ValueError as err:
            raise ApiError(400, "invalid-request", str(err)) from err
        return web.json_response({"interface": session.interface, "queues": session.queues})
    if action == "logout":
        await service.logout(user.id)
    else:
        await service.pause(user.id, action == "pause", str(body.get("reason", ""))[:80])
    return web.json_response({"ok": True})


@requires(*OVERSEES)
async def operator_action(request: web.Request) -> web.Response:
    service = _service(request)
    interface = request.match_info["interface"]
    session = await request.app[AGENTS_REPO].session_of_interface(interface)
    if session is None:
        raise ApiError(404, "operator-not-logged-in", f"nobody is logged in at {interface}")
    action = request.match_info["action"]
    if action == "logout":
        await service.logout(session.user_id)
    else:
        reason = str((await _body(request)).get("reason", "Supervisor"))[:80]
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


@requires(*STAFF)
async def callbacks(request: web.Request) -> web.Response:
    items = await request.app[AGENTS_REPO].open_callbacks(limit=200, offset=0)
    return web.json_response({"items": [c.to_json() for c in items]})


@requires(*TAKES_CALLS)
async def callback_action(request: web.Request) -> web.Response:
    service = _service(request)
    user: User = request[USER]
    ident = request.match_info["callback"]
    if not ident.isdigit() or len(ident) > 18:
        raise ApiError(404, "callback-not-found", f"no callback {ident}")
    if request.match_info["action"] == "call":
        callback = await service.call_back(int(ident), user)
    else:
        reached = (await _body(request)).get("reached")
        if not isinstance(reached, bool):
            raise ApiError(400, "invalid-request", 'expected {"reached": true|false}')
        callback = await service.callback_result(int(ident), reached, user)
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
    app.router.add_get("/api/v1/callbacks", callbacks)
    app.router.add_post("/api/v1/callbacks/{callback}/{action:call|result}", callback_action)
