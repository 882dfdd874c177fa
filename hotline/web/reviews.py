"""Quality review of calls over HTTP: the review page (``/reviews``: supervisors work through the
week's queue, play the whole call, score it and read the trends; an operator reads the reviews of
their own calls, plays them and answers once), the criteria the administrator edits, the queue,
the reviews, flags, and the whole-call recording (MixMonitor's file) of a call. Supervisors and
administrators see everyone's reviews; an operator only their own; agencies none."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from hotline.keys import REVIEWS
from hotline.web.calls import recording_response
from hotline.web.errors import ApiError
from hotline.web.http import MAX_PAGE, USER, int_param, json_object, requires
from hotline.web.openapi import describe
from hotline.web.pages import page, render
from tickets.codes import HOTLINE_TZ, plain_int
from tickets.errors import InvalidRequest
from tickets.model import Line, Role, User
from tickets.reports import check_period, parse_day
from tickets.reviews import (
    CallNotFound,
    CallNotReviewable,
    FlagReason,
    ReviewNotFound,
    ReviewReason,
    parse_criteria,
    parse_notes,
    parse_settings,
    score_review,
    week_of,
)

STAFF = (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)
OVERSEES = (Role.SUPERVISOR, Role.ADMIN)
DEFAULT_DAYS = 91  # the reviews and trends shown without a period: the last thirteen weeks

CRITERION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "name_vi", "name_en", "kind", "weight"],
    "properties": {
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]{0,39}$"},
        "name_vi": {"type": "string", "maxLength": 200},
        "name_en": {"type": "string", "maxLength": 200},
        "kind": {"type": "string", "enum": ["scale", "yes_no"]},
        "weight": {"type": "integer", "minimum": 1, "maximum": 100},
    },
}
PERIOD_QUERY: dict[str, dict[str, Any]] = {
    "from": {"type": "string", "description": "first day: dd/mm/yyyy or yyyy-mm-dd"},
    "to": {"type": "string", "description": "last day: dd/mm/yyyy or yyyy-mm-dd"},
}


def _period(request: web.Request) -> tuple[datetime, datetime]:
    """``from`` and ``to`` (days, both included, in the hotline's time zone); by default the
    last thirteen weeks up to today."""
    today = datetime.now(HOTLINE_TZ).date()
    try:
        end = parse_day(request.query["to"]) if "to" in request.query else today
        start = (
            parse_day(request.query["from"])
            if "from" in request.query
            else end - timedelta(days=DEFAULT_DAYS)
        )
        check_period(start, end)
    except ValueError as err:
        raise InvalidRequest(f"from, to: {err}") from err
    if not date(2000, 1, 1) <= start <= end <= date(2999, 12, 30):
        raise InvalidRequest("from, to: out of range")
    return (
        datetime.combine(start, time(), HOTLINE_TZ),
        datetime.combine(end + timedelta(days=1), time(), HOTLINE_TZ),
    )


def _week(request: web.Request) -> date:
    raw = request.query.get("week")
    if raw is None:
        return datetime.now(HOTLINE_TZ).date()
    try:
        day = parse_day(raw)
    except ValueError as err:
        raise InvalidRequest(f"week: {err}") from err
    if not date(2000, 1, 1) <= day <= date(2999, 12, 24):
        raise InvalidRequest("week: out of range")
    return day


def _review_id(request: web.Request) -> int:
    number = plain_int(request.match_info["review"])
    if number is None or number > 2**62:
        raise ReviewNotFound(f"no review {request.match_info['review']}")
    return number


def _own(user: User, review: dict[str, Any] | None, ident: int) -> dict[str, Any]:
    """The review when this user may read it: an operator only a review of their own call."""
    if review is None or (user.role is Role.OPERATOR and review["operator"] != user.username):
        raise ReviewNotFound(f"no review {ident}")
    return review


# ---------------------------------------------------------------- page


@page(*STAFF)
async def reviews_page(request: web.Request) -> web.Response:
    """Quality review (HTML): the week's queue, scoring and trends for supervisors; an
    operator's own reviews."""
    user: User = request[USER]
    return render(
        request,
        "reviews.html",
        page="reviews",
        title_key="reviews.title",
        user=user,
        data={
            "lines": [line.value for line in Line],
            "reasons": [r.value for r in ReviewReason],
            "today": datetime.now(HOTLINE_TZ).date().isoformat(),
        },
        oversees=user.role in OVERSEES,
    )


# ---------------------------------------------------------------- criteria


async def _configuration(request: web.Request) -> dict[str, Any]:
    settings, criteria = await request.app[REVIEWS].configuration()
    return {
        "sample_size": settings.sample_size,
        "dispatch_target_seconds": settings.dispatch_target_seconds,
        "lines": {line.value: [c.as_json() for c in criteria if c.line is line] for line in Line},
    }


@requires(*OVERSEES)
async def get_criteria(request: web.Request) -> web.Response:
    """The criteria of each line (switched-off ones too, with ``active`` false), the sample
    drawn per operator and week, and the 115 dispatch target."""
    return web.json_response(await _configuration(request))


@describe(
    body={
        "type": "object",
        "required": ["sample_size", "dispatch_target_seconds", "lines"],
        "properties": {
            "sample_size": {"type": "integer", "minimum": 0, "maximum": 100},
            "dispatch_target_seconds": {"type": "integer", "minimum": 10, "maximum": 86400},
            "lines": {
                "type": "object",
                "properties": {
                    line.value: {"type": "array", "items": CRITERION_SCHEMA} for line in Line
                },
            },
        },
    },
)
@requires(Role.ADMIN)
async def put_criteria(request: web.Request) -> web.Response:
    """Set the sample size, the 115 dispatch target and, for each line given, its criteria in
    order (a criterion left out is switched off; its past scores stay). Audited."""
    body = await json_object(request)
    settings = parse_settings(body)
    lines = body.get("lines")
    if not isinstance(lines, dict) or not set(lines) <= {line.value for line in Line}:
        raise InvalidRequest('lines: an object with "1022" and/or "115"')
    criteria = {Line(name): parse_criteria(Line(name), items) for name, items in lines.items()}
    await request.app[REVIEWS].configure(request[USER].username, settings, criteria)
    return web.json_response(await _configuration(request))


# ---------------------------------------------------------------- queue and reviews


@describe(query={"week": {"type": "string", "description": "a day of the week (Monday–Sunday)"}})
@requires(*OVERSEES)
async def review_queue(request: web.Request) -> web.Response:
    """The week's calls to review: each operator's random sample of answered calls, calls
    flagged by their operator or for a complaint, 115 calls dispatched later than the target;
    with the review of each already reviewed."""
    start, end = week_of(_week(request))
    items = await request.app[REVIEWS].queue(start, end)
    return web.json_response(
        {"week": start.date().isoformat(), "items": items, "total": len(items)}
    )


@describe(
    body={
        "type": "object",
        "required": ["scores"],
        "properties": {
            "scores": {
                "type": "object",
                "description": "criterion code → value (0–5, or 0/1 for a yes/no criterion)",
                "additionalProperties": {"type": "integer", "minimum": 0, "maximum": 5},
            },
            "notes": {"type": "string", "maxLength": 4000},
        },
    },
    responses={
        201: "reviewed",
        404: "no such call",
        409: "already reviewed, or no operator of ours answered the call",
    },
)
@requires(*OVERSEES)
async def create_review(request: web.Request) -> web.Response:
    """Score an answered call against its line's active criteria, with notes; the ticket's
    timeline gets a ``reviewed`` event that links here."""
    repository = request.app[REVIEWS]
    uniqueid = request.match_info["uniqueid"]
    body = await json_object(request)
    call = await repository.call(uniqueid)
    if call is None:
        raise CallNotFound(f"no call {uniqueid}")
    _, criteria = await repository.configuration()
    scores, score = score_review([c for c in criteria if c.line is call.line], body.get("scores"))
    notes = parse_notes(body.get("notes"))
    if call.answered_at is None:
        raise CallNotReviewable(f"call {uniqueid} was not answered by an operator")
    week = week_of(call.answered_at.astimezone(HOTLINE_TZ).date())
    found = await repository.queue(*week, uniqueid=call.uniqueid)
    reasons = found[0]["reasons"] if found else []
    review = await repository.create(call, request[USER].username, scores, score, notes, reasons)
    return web.json_response(review, status=201)


@describe(
    query={
        **PERIOD_QUERY,
        "operator": {"type": "string", "description": "an operator's user name"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
    },
    responses={403: "an operator asking for someone else's reviews"},
)
@requires(*STAFF)
async def list_reviews(request: web.Request) -> web.Response:
    """Reviews made in the period, newest first, with their scores; an operator gets only the
    reviews of their own calls."""
    user: User = request[USER]
    operator = request.query.get("operator") or None
    if user.role is Role.OPERATOR:
        if operator not in (None, user.username):
            raise ApiError(403, "forbidden", "an operator reads only their own reviews")
        operator = user.username
    start, end = _period(request)
    limit = int_param(request, "limit", 100, 1, MAX_PAGE)
    items = await request.app[REVIEWS].reviews(start, end, operator, limit=limit)
    return web.json_response({"items": items, "total": len(items)})


@describe(responses={404: "no such review (an operator: none of their calls)"})
@requires(*STAFF)
async def get_review(request: web.Request) -> web.Response:
    """One review with its scores."""
    ident = _review_id(request)
    review = await request.app[REVIEWS].review(ident)
    return web.json_response(_own(request[USER], review, ident))


@describe(
    body={
        "type": "object",
        "required": ["answer"],
        "properties": {"answer": {"type": "string", "maxLength": 4000}},
    },
    responses={404: "no review of this operator's calls", 409: "already answered"},
)
@requires(Role.OPERATOR)
async def answer_review(request: web.Request) -> web.Response:
    """The operator's answer to a review of their call; once."""
    body = await json_object(request)
    text = parse_notes(body.get("answer"), "answer", required=True)
    review = await request.app[REVIEWS].answer(_review_id(request), request[USER].username, text)
    return web.json_response(review)


@describe(query=PERIOD_QUERY | {"operator": {"type": "string"}})
@requires(*OVERSEES)
async def review_trends(request: web.Request) -> web.Response:
    """Average score per operator and week, and each criterion's average (percent of its best
    value) per operator, over the period; ``week_starts``: the Mondays of the period's weeks."""
    start, end = _period(request)
    operator = request.query.get("operator") or None
    trends = await request.app[REVIEWS].trends(start, end, operator)
    monday = week_of(start.date())[0].date()
    trends["week_starts"] = [
        (monday + timedelta(weeks=n)).isoformat()
        for n in range((end.date() - monday).days // 7 + 1)
        if monday + timedelta(weeks=n) < end.date()
    ]
    return web.json_response(trends)


# ---------------------------------------------------------------- calls


@describe(
    body={
        "type": "object",
        "properties": {
            "reason": {"type": "string", "enum": [r.value for r in FlagReason]},
            "note": {"type": "string", "maxLength": 4000},
        },
    },
    responses={
        201: "flagged",
        200: "it already was",
        403: "an operator flagging a call they did not answer, or for a complaint",
        404: "no such call",
    },
)
@requires(*STAFF)
async def flag_call(request: web.Request) -> web.Response:
    """Put a call in the review queue: its operator flags it (reason ``operator``), a
    supervisor for a complaint (``complaint``)."""
    user: User = request[USER]
    body = await json_object(request)
    default = FlagReason.OPERATOR if user.role is Role.OPERATOR else FlagReason.COMPLAINT
    try:
        reason = FlagReason(body.get("reason", default.value))
    except ValueError as err:
        raise InvalidRequest("reason: operator or complaint") from err
    note = parse_notes(body.get("note"), "note")
    repository = request.app[REVIEWS]
    uniqueid = request.match_info["uniqueid"]
    call = await repository.call(uniqueid)
    if call is None:
        raise CallNotFound(f"no call {uniqueid}")
    if user.role is Role.OPERATOR and (
        reason is not FlagReason.OPERATOR or call.operator != user.username
    ):
        raise ApiError(403, "forbidden", "an operator flags only the calls they answered")
    added = await repository.flag(call, reason, user.username, note)
    return web.json_response(
        {"uniqueid": call.uniqueid, "reason": reason.value}, status=201 if added else 200
    )


@describe(
    responses={
        403: "an operator asking for a call of someone else, or not reviewed",
        404: "no such call or recording",
    },
    produces="audio/wav",
)
@requires(*STAFF)
async def call_recording(request: web.Request) -> web.StreamResponse:
    """The whole call as MixMonitor recorded it. Supervisors and administrators: any call; an
    operator: a call of theirs that has been reviewed."""
    user: User = request[USER]
    repository = request.app[REVIEWS]
    uniqueid = request.match_info["uniqueid"]
    call = await repository.call(uniqueid)
    if call is None:
        raise CallNotFound(f"no call {uniqueid}")
    if user.role is Role.OPERATOR and (
        call.operator != user.username or not await repository.is_reviewed(call.id)
    ):
        raise ApiError(403, "forbidden", "an operator plays only their own reviewed calls")
    return await recording_response(
        request, call.recording, f"{call.ticket}-call.wav", f"call {uniqueid} has no recording"
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/reviews", reviews_page)
    app.router.add_get("/api/v1/review-criteria", get_criteria)
    app.router.add_put("/api/v1/review-criteria", put_criteria)
    app.router.add_get("/api/v1/review-queue", review_queue)
    app.router.add_get("/api/v1/review-trends", review_trends)
    app.router.add_get("/api/v1/reviews", list_reviews)
    app.router.add_get("/api/v1/reviews/{review}", get_review)
    app.router.add_post("/api/v1/reviews/{review}/answer", answer_review)
    app.router.add_post("/api/v1/calls/{uniqueid}/reviews", create_review)
    app.router.add_post("/api/v1/calls/{uniqueid}/flag", flag_call)
    app.router.add_get("/api/v1/calls/{uniqueid}/recording", call_recording)
