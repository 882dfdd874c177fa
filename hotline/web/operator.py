"""The operator console: one page (``/operator``) for the person taking calls, and the two
read-only routes it needs beyond the shared API: the operator's current call (what the screen pop
showed, for a page that reconnects after the call may have ended) and the 115 dispatch state of a
ticket (the facilities asked, by name, the pending request's due time, milestones and outcome)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hotline.keys import AGENTS_REPO, BACKOFFICE, BACKOFFICE_STORE, PROVINCE
from hotline.web.agents import agents_service
from hotline.web.errors import ApiError
from hotline.web.http import USER, requires, ticket_id_of
from hotline.web.openapi import describe
from hotline.web.pages import page, render
from tickets.dispatch import MILESTONES, Attempt, DispatchResult, Outcome
from tickets.model import Line, Role, User
from tickets.phone import national_phone

TAKES_CALLS = (Role.OPERATOR, Role.SUPERVISOR)
STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)

# What Asterisk records as the pause reason (the supervisors read it on the wallboard): always
# the Vietnamese words, whatever language the operator's screen is in.
PAUSE_REASONS = (
    ("break", "Nghỉ giải lao"),
    ("lunch", "Ăn trưa"),
    ("meeting", "Họp"),
    ("paperwork", "Công việc hành chính"),
    ("training", "Đào tạo"),
)


@page(*TAKES_CALLS)
async def operator_console(request: web.Request) -> web.Response:
    """The operator console (HTML); the softphone field offers the one used last."""
    last = await request.app[AGENTS_REPO].last_interface(request[USER].id)
    return render(
        request,
        "operator.html",
        page="operator",
        title_key="operator.title",
        user=request[USER],
        data={"pause_reasons": [{"key": k, "reason": r} for k, r in PAUSE_REASONS]},
        pause_reasons=PAUSE_REASONS,
        last_extension=last.split("/", 1)[-1] if last else "",
    )


@describe(responses={503: "no AMI connection"})
@requires(*TAKES_CALLS)
async def my_call(request: web.Request) -> web.Response:
    """The operator's softphone, state and the call it is connected to now (with its ticket)."""
    service = agents_service(request)
    user: User = request[USER]
    session = await service.session(user.id)
    if session is None:
        return web.json_response({"logged_in": False, "operator": None, "call": None})
    now = datetime.now(UTC)
    interface = session.interface
    operator = (
        service.model.operator_view(interface, now)
        if interface in service.model.operators
        else None
    )
    call: dict[str, Any] | None = None
    live = service.model.call_of(interface)
    if live is not None:
        pop = await request.app[AGENTS_REPO].screen_pop(live.uniqueid) or {}
        phone = pop.get("caller_phone")
        call = {
            **pop,
            "uniqueid": live.uniqueid,
            "queue": live.queue,
            "answered_at": live.answered_at.isoformat(),
            "caller_phone_national": national_phone(phone) if phone else None,
        }
    return web.json_response(
        {"logged_in": True, "interface": interface, "operator": operator, "call": call}
    )


def _attempt_json(
    attempt: Attempt, names: dict[str, tuple[str, str]], reasons: dict[int, str]
) -> dict[str, Any]:
    name_vi, name_en = names.get(attempt.facility_code, (attempt.facility_code,) * 2)
    return {
        "seq": attempt.seq,
        "facility": attempt.facility_code,
        "name_vi": name_vi,
        "name_en": name_en,
        "sent_at": attempt.sent_at.isoformat(),
        "due_at": attempt.due_at.isoformat(),
        "result": attempt.result.value,
        "reason": reasons.get(attempt.seq),
    }


@describe(responses={404: "no such ticket", 409: "not a 115 ticket"})
@requires(*STAFF)
async def dispatch_state(request: web.Request) -> web.Response:
    """A 115 ticket's dispatch: the facilities asked (with names), milestones and outcome."""
    store = request.app[BACKOFFICE_STORE]
    ticket_id = await ticket_id_of(request)
    ticket = await request.app[BACKOFFICE].ticket(ticket_id, request[USER])
    if ticket.line is not Line.MEDICAL:
        raise ApiError(409, "not-115", f"{ticket.code} is not a 115 ticket")
    province = await request.app[PROVINCE].province()
    names = {f.code: (f.name_vi, f.name_en) for f in province.facilities}
    events = [e for e in await store.timeline(ticket_id) if e["ticket"] == ticket.code]
    reasons = {
        int(e["data"]["seq"]): str(e["data"]["reason"])
        for e in events
        if e["kind"] == "dispatch_declined" and e["data"].get("reason")
    }
    stamps = {e["kind"]: e for e in events}
    attempts = [_attempt_json(a, names, reasons) for a in await store.attempts(ticket_id)]
    completed = stamps.get("completed")
    return web.json_response(
        {
            "code": ticket.code,
            "status": ticket.status.value,
            "attempts": attempts,
            "pending": next(
                (a for a in attempts if a["result"] == DispatchResult.PENDING.value), None
            ),
            "accepted": next(
                (a for a in attempts if a["result"] == DispatchResult.ACCEPTED.value), None
            ),
            "no_vehicle": "dispatch_failed" in stamps,
            "milestones": {
                kind: stamps[kind]["at"] if kind in stamps else None for kind in MILESTONES
            },
            "outcome": completed["data"].get("outcome") if completed else None,
            "completed_at": completed["at"] if completed else None,
            "outcomes": [o.value for o in Outcome],
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/operator", operator_console)
    app.router.add_get("/api/v1/operators/me/call", my_call)
    app.router.add_get("/api/v1/tickets/{ticket}/dispatch", dispatch_state)
