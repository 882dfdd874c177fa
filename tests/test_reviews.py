"""Quality review of calls through the API, on a real service and database: the administrator's
criteria (audited), the week's queue (a random sample per operator, flagged calls, complaints,
115 calls slow to dispatch), reviews and their weighted score, the role rules (an operator reads
only their own reviews and answers once, agencies nothing), the whole-call recording an operator
may play only once their call is reviewed, the ticket's timeline and the trends."""

from __future__ import annotations

import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import aiohttp
import asyncpg
import pytest

from db.users import PostgresUserRepository
from hotline.auth import AuthService
from tests.support.service import RunningService
from tickets.codes import HOTLINE_TZ
from tickets.errors import InvalidRequest
from tickets.model import Line, Role
from tickets.reviews import Criterion, ScoreKind, score_review, week_of

PASSWORD = "review-password-1"
USERS = {
    "op1": (Role.OPERATOR, None),
    "op2": (Role.OPERATOR, None),
    "sup1": (Role.SUPERVISOR, None),
    "admin1": (Role.ADMIN, None),
    "ward7": (Role.AGENCY, "WARD-7"),
}
INTERFACES = {"op1": "PJSIP/op101", "op2": "PJSIP/op102"}
# a Wednesday at 10:00 in the hotline's time zone, and its week
WEDNESDAY = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
WEEK = "2026-11-25"
SCORES_1022 = {"greeting": 5, "routing": 4, "information": 3, "courtesy": 5, "closing": 0}


@dataclass
class Api:
    http: aiohttp.ClientSession
    tokens: dict[str, str]

    async def call(
        self, method: str, path: str, who: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        async with self.http.request(method, path, json=body, headers=headers) as reply:
            if reply.content_type == "application/json":
                return reply.status, await reply.json()
            return reply.status, await reply.read()


@pytest.fixture
async def api(service: RunningService, db: asyncpg.Connection) -> AsyncIterator[Api]:
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    tokens = {}
    for name, (role, agency) in USERS.items():
        user = await auth.add_user(name, PASSWORD, role, agency)
        token = (await auth.login(name, PASSWORD)).token
        assert token is not None
        tokens[name] = token
        if name in INTERFACES:  # a softphone session over the whole of November
            await db.execute(
                "INSERT INTO operator_sessions (user_id, interface, queues, logged_in_at,"
                " logged_out_at) VALUES ($1, $2, $3, $4, $5)",
                user.id,
                INTERFACES[name],
                ["hotline-1022", "hotline-115"],
                datetime(2026, 11, 1, tzinfo=UTC),
                datetime(2026, 12, 1, tzinfo=UTC),
            )
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        yield Api(http, tokens)


async def answered_call(
    db: asyncpg.Connection,
    service: RunningService,
    uniqueid: str,
    operator: str,
    *,
    at: datetime = WEDNESDAY,
    line: Line = Line.CITIZEN,
    seconds: float = 2.0,
    dispatched_after: float | None = None,
    closure: str | None = None,
) -> int:
    """A ticket and its call, answered by ``operator`` at ``at`` and lasting ``seconds``, with
    its MixMonitor file in the spool. Returns the ticket's id."""
    relative = f"20261125/{uniqueid}-call.wav"
    path = service.settings.recordings / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x00\x00" * int(8000 * seconds))
    ticket: int = await db.fetchval(
        "INSERT INTO tickets (code, line, category, caller_raw, created_at, updated_at,"
        " agency_code, dispatched_at, closure)"
        " VALUES ($1, $2, $3, '0901234567', $4, $4, 'WARD-7', $5, $6) RETURNING id",
        f"{line.value}-26-{uniqueid.replace('.', '')[-6:]}",
        line.value,
        "medical" if line is Line.MEDICAL else "field_report",
        at,
        at + timedelta(seconds=dispatched_after) if dispatched_after is not None else None,
        closure,
    )
    await db.execute(
        "INSERT INTO calls (uniqueid, linkedid, line, channel, caller_raw, started_at, ended_at,"
        " disposition, recording, version, ticket_id, answered_at, answered_by)"
        " VALUES ($1, $1, $2, 'PJSIP/trunk-1', '0901234567', $3, $4, 'queued', $5, 1, $6, $3, $7)",
        uniqueid,
        line.value,
        at,
        at + timedelta(seconds=seconds),
        relative,
        ticket,
        INTERFACES[operator],
    )
    return ticket


async def review(api: Api, uniqueid: str, scores: dict[str, int] | None = None) -> Any:
    status, body = await api.call(
        "POST",
        f"/api/v1/calls/{uniqueid}/reviews",
        "sup1",
        {"scores": scores or SCORES_1022, "notes": "Chào hỏi tốt; quên hẹn gọi lại."},
    )
    assert status == 201, body
    return body


def test_given_weights_when_a_review_is_scored_then_the_score_is_the_weighted_share_of_the_best() -> (
    None
):
    criteria = [
        Criterion(Line.MEDICAL, "address_60s", "Địa chỉ", "Address", ScoreKind.YES_NO, 3, 1),
        Criterion(Line.MEDICAL, "triage", "Phân loại", "Triage", ScoreKind.SCALE, 1, 2),
        Criterion(Line.MEDICAL, "old", "Cũ", "Old", ScoreKind.SCALE, 5, 3, active=False),
    ]
    scores, percent = score_review(criteria, {"address_60s": 1, "triage": 2})
    # (3 × 1/1 + 1 × 2/5) / 4 = 0.85
    assert percent == Decimal("85.00")
    assert [(s.code, s.value, s.top, s.weight) for s in scores] == [
        ("address_60s", 1, 1, 3),
        ("triage", 2, 5, 1),
    ]
    for wrong in (
        {"address_60s": 2, "triage": 2},
        {"triage": 2},
        {"address_60s": 1, "triage": 2, "old": 1},
    ):
        with pytest.raises(InvalidRequest):
            score_review(criteria, wrong)


def test_given_a_sunday_evening_when_its_week_is_taken_then_it_runs_monday_to_monday_in_vietnam() -> (
    None
):
    start, end = week_of(datetime(2026, 11, 29, 23, 30).date())
    assert (start.isoformat(), end.isoformat()) == (
        "2026-11-23T00:00:00+07:00",
        "2026-11-30T00:00:00+07:00",
    )


async def test_given_the_criteria_when_edited_then_only_the_administrator_may_and_every_change_is_audited(
    api: Api, db: asyncpg.Connection
) -> None:
    status, config = await api.call("GET", "/api/v1/review-criteria", "sup1")
    assert status == 200
    assert [c["code"] for c in config["lines"]["115"]] == [
        "address_60s",
        "triage",
        "dispatch_decision",
    ]
    assert config["sample_size"] == 5
    assert (await api.call("GET", "/api/v1/review-criteria", "op1"))[0] == 403
    assert (await api.call("GET", "/api/v1/review-criteria", "ward7"))[0] == 403
    wanted = {
        "sample_size": 2,
        "dispatch_target_seconds": 120,
        "lines": {
            "115": [
                {
                    "code": "triage",
                    "name_vi": "Hỏi phân loại",
                    "name_en": "Triage",
                    "kind": "scale",
                    "weight": 4,
                },
                {
                    "code": "address_60s",
                    "name_vi": "Địa chỉ trong 60 giây",
                    "name_en": "Address within 60 s",
                    "kind": "yes_no",
                    "weight": 3,
                },
                {
                    "code": "calm",
                    "name_vi": "Giữ bình tĩnh",
                    "name_en": "Kept calm",
                    "kind": "yes_no",
                    "weight": 1,
                },
            ]
        },
    }
    assert (await api.call("PUT", "/api/v1/review-criteria", "sup1", wanted))[0] == 403
    status, saved = await api.call("PUT", "/api/v1/review-criteria", "admin1", wanted)
    assert status == 200, saved
    line = {c["code"]: c for c in saved["lines"]["115"]}
    assert [c for c in line if line[c]["active"]] == ["triage", "address_60s", "calm"]
    assert line["dispatch_decision"]["active"] is False  # left out: switched off, kept
    assert (saved["sample_size"], saved["dispatch_target_seconds"]) == (2, 120)
    assert len(saved["lines"]["1022"]) == 5  # a line not sent is left as it was
    audited = await db.fetch(
        "SELECT actor, action, entity, entity_key FROM admin_audit"
        " WHERE entity LIKE 'review%' ORDER BY entity, entity_key"
    )
    assert [tuple(r) for r in audited] == [
        ("admin1", "update", "review_criterion", "115/address_60s"),  # position 1 → 2
        ("admin1", "create", "review_criterion", "115/calm"),
        ("admin1", "update", "review_criterion", "115/dispatch_decision"),
        ("admin1", "update", "review_criterion", "115/triage"),
        ("admin1", "update", "review_settings", "reviews"),
    ]
    bad = {**wanted, "lines": {"115": [{"code": "Bad Code", "kind": "scale"}]}}
    assert (await api.call("PUT", "/api/v1/review-criteria", "admin1", bad))[0] == 400


async def test_given_a_week_of_answered_calls_when_the_queue_is_read_then_a_sample_per_operator_the_flagged_and_the_slow_dispatches_are_in_it(
    api: Api, service: RunningService, db: asyncpg.Connection
) -> None:
    await api.call(
        "PUT",
        "/api/v1/review-criteria",
        "admin1",
        {"sample_size": 2, "dispatch_target_seconds": 120, "lines": {}},
    )
    for n in range(6):
        await answered_call(
            db, service, f"1764050400.{n}", "op1", at=WEDNESDAY + timedelta(minutes=n)
        )
    await answered_call(db, service, "1764050400.10", "op2")
    # 115: dispatched 5 minutes after answering (target 2), another within a minute
    await answered_call(
        db, service, "1764050400.20", "op2", line=Line.MEDICAL, dispatched_after=300
    )
    await answered_call(db, service, "1764050400.21", "op2", line=Line.MEDICAL, dispatched_after=50)
    # a complaint: the ticket closed unsatisfied
    await answered_call(db, service, "1764050400.30", "op2", closure="unsatisfied")
    await db.execute(
        "INSERT INTO queue_calls (callid, queue, entered_at, outcome, answered_at, completed_at,"
        " talk_seconds) VALUES ('1764050400.30', 'hotline-1022', $1, 'completed', $1, $1, 95)",
        WEDNESDAY,
    )
    # the week before: not in this week's queue
    await answered_call(db, service, "1763445600.1", "op1", at=WEDNESDAY - timedelta(days=7))

    status, queue = await api.call("GET", f"/api/v1/review-queue?week={WEEK}", "sup1")
    assert status == 200, queue
    assert queue["week"] == "2026-11-23"
    sampled: dict[str, list[str]] = {}
    for item in queue["items"]:
        if "sample" in item["reasons"]:
            sampled.setdefault(item["operator"], []).append(item["uniqueid"])
    assert {op: len(calls) for op, calls in sampled.items()} == {"op1": 2, "op2": 2}
    reasons = {item["uniqueid"]: item["reasons"] for item in queue["items"]}
    assert "slow_dispatch" in reasons["1764050400.20"]
    assert "complaint" in reasons["1764050400.30"]
    assert "slow_dispatch" not in reasons.get("1764050400.21", [])
    assert "1763445600.1" not in reasons
    # the talk time is queue_log's, once the call is completed there
    talk = {item["uniqueid"]: item["talk_seconds"] for item in queue["items"]}
    assert (talk["1764050400.30"], talk["1764050400.20"]) == (95, None)
    # the draw is the same on every read
    assert (await api.call("GET", f"/api/v1/review-queue?week={WEEK}", "sup1"))[1] == queue

    # the operator flags a call of theirs the draw left out; it joins the queue
    left_out = next(f"1764050400.{n}" for n in range(6) if f"1764050400.{n}" not in sampled["op1"])
    assert (await api.call("POST", f"/api/v1/calls/{left_out}/flag", "op1"))[0] == 201
    assert (await api.call("POST", f"/api/v1/calls/{left_out}/flag", "op1"))[0] == 200
    assert (await api.call("POST", f"/api/v1/calls/{left_out}/flag", "op2"))[0] == 403
    complaint = {"reason": "complaint", "note": "người dân phàn nàn"}
    assert (await api.call("POST", f"/api/v1/calls/{left_out}/flag", "op1", complaint))[0] == 403
    assert (await api.call("POST", f"/api/v1/calls/{left_out}/flag", "sup1", complaint))[0] == 201
    status, queue = await api.call("GET", f"/api/v1/review-queue?week={WEEK}", "sup1")
    flagged = next(item for item in queue["items"] if item["uniqueid"] == left_out)
    assert flagged["reasons"] == ["operator", "complaint"]
    for who in ("op1", "ward7"):
        assert (await api.call("GET", f"/api/v1/review-queue?week={WEEK}", who))[0] == 403


async def test_given_a_reviewed_call_when_read_then_supervisors_see_all_an_operator_only_their_own_who_answers_once_and_agencies_nothing(
    api: Api, service: RunningService, db: asyncpg.Connection
) -> None:
    ticket = await answered_call(db, service, "1764050400.1", "op1")
    await answered_call(db, service, "1764050400.2", "op2")
    mine = await review(api, "1764050400.1")
    # (2×5/5 + 3×4/5 + 3×3/5 + 2×5/5 + 1×0/5) / 11 = 8.2 / 11
    assert (mine["operator"], mine["reviewer"], mine["score"]) == ("op1", "sup1", 74.55)
    assert mine["reasons"] == ["sample"]
    assert [s["code"] for s in mine["scores"]] == list(SCORES_1022)
    status, wrong = await api.call(
        "POST", "/api/v1/calls/1764050400.2/reviews", "admin1", {"scores": {"greeting": 9}}
    )
    assert (status, wrong["error_id"]) == (400, "invalid-request")
    theirs = await review(api, "1764050400.2", {**SCORES_1022, "closing": 5})
    status, again = await api.call(
        "POST", "/api/v1/calls/1764050400.1/reviews", "sup1", {"scores": SCORES_1022}
    )
    assert (status, again["error_id"]) == (409, "already-reviewed")
    period = "from=01/01/2026&to=2026-12-31"

    status, everyone = await api.call("GET", f"/api/v1/reviews?{period}", "sup1")
    assert status == 200
    assert {r["id"] for r in everyone["items"]} == {mine["id"], theirs["id"]}
    status, filtered = await api.call("GET", f"/api/v1/reviews?{period}&operator=op2", "admin1")
    assert [r["id"] for r in filtered["items"]] == [theirs["id"]]
    status, own = await api.call("GET", f"/api/v1/reviews?{period}", "op1")
    assert [r["id"] for r in own["items"]] == [mine["id"]]
    assert (await api.call("GET", f"/api/v1/reviews?{period}&operator=op2", "op1"))[0] == 403
    assert (await api.call("GET", f"/api/v1/reviews/{theirs['id']}", "op1"))[0] == 404
    assert (await api.call("GET", f"/api/v1/reviews/{mine['id']}", "op1"))[0] == 200
    assert (await api.call("GET", f"/api/v1/reviews?{period}", "ward7"))[0] == 403
    assert (await api.call("GET", f"/api/v1/reviews/{mine['id']}", "ward7"))[0] == 403

    answer = {"answer": "Em sẽ nhớ hẹn gọi lại ạ."}
    assert (await api.call("POST", f"/api/v1/reviews/{mine['id']}/answer", "op2", answer))[0] == 404
    assert (await api.call("POST", f"/api/v1/reviews/{mine['id']}/answer", "sup1", answer))[
        0
    ] == 403
    status, answered = await api.call("POST", f"/api/v1/reviews/{mine['id']}/answer", "op1", answer)
    assert (status, answered["answer"]) == (200, answer["answer"])
    status, twice = await api.call("POST", f"/api/v1/reviews/{mine['id']}/answer", "op1", answer)
    assert (status, twice["error_id"]) == (409, "review-already-answered")

    # the ticket's timeline links the review; the agency's timeline does not show it
    status, timeline = await api.call("GET", f"/api/v1/tickets/{ticket}/timeline", "sup1")
    reviewed = [e for e in timeline["events"] if e["kind"] == "reviewed"]
    assert [(e["actor"], e["data"]["review"]) for e in reviewed] == [("sup1", mine["id"])]
    status, agency = await api.call("GET", f"/api/v1/tickets/{ticket}/timeline", "ward7")
    assert status == 200
    assert [e for e in agency["events"] if e["kind"] == "reviewed"] == []


async def test_given_a_call_when_its_recording_is_asked_for_then_an_operator_plays_it_only_once_reviewed_and_only_their_own(
    api: Api, service: RunningService, db: asyncpg.Connection
) -> None:
    await answered_call(db, service, "1764050400.1", "op1", seconds=3.0)
    path = "/api/v1/calls/1764050400.1/recording"
    assert (await api.call("GET", path, "op1"))[0] == 403  # not reviewed yet
    status, audio = await api.call("GET", path, "sup1")
    assert status == 200
    assert audio[:4] == b"RIFF"
    await review(api, "1764050400.1")
    status, audio = await api.call("GET", path, "op1")
    assert status == 200
    assert audio[:4] == b"RIFF"
    assert (await api.call("GET", path, "op2"))[0] == 403
    assert (await api.call("GET", path, "ward7"))[0] == 403
    assert (await api.call("GET", "/api/v1/calls/nope.1/recording", "sup1"))[0] == 404
    # a stored path outside the spool is not served
    await db.execute("UPDATE calls SET recording = '/etc/passwd' WHERE uniqueid = '1764050400.1'")
    assert (await api.call("GET", path, "sup1"))[0] == 404


async def test_given_reviews_over_weeks_when_the_trends_are_read_then_each_operator_and_criterion_has_its_average_and_the_report_each_line_and_month(
    api: Api, service: RunningService, db: asyncpg.Connection
) -> None:
    await answered_call(db, service, "1764050400.1", "op1")
    await answered_call(db, service, "1764050400.2", "op1")
    await review(api, "1764050400.1", {k: 5 for k in SCORES_1022})
    await review(api, "1764050400.2", {**{k: 5 for k in SCORES_1022}, "courtesy": 0})
    # the second review: (11 − 2) / 11
    status, trends = await api.call("GET", "/api/v1/review-trends", "sup1")
    assert status == 200, trends
    assert [(w["operator"], w["reviews"], w["score"]) for w in trends["weeks"]] == [
        ("op1", 2, round((100 + 900 / 11) / 2, 2))
    ]
    this_week = week_of(datetime.now(HOTLINE_TZ).date())[0].date().isoformat()
    assert trends["week_starts"][-1] == this_week == trends["weeks"][0]["week"]
    assert len(trends["week_starts"]) == 14  # the default: the 92 days up to today
    courtesy = next(c for c in trends["criteria"] if c["code"] == "courtesy")
    assert (courtesy["operator"], courtesy["scored"], courtesy["share"]) == ("op1", 2, 50.0)
    assert (await api.call("GET", "/api/v1/review-trends", "op1"))[0] == 403

    # the report: the period's reviews and average per line, and per month
    today = datetime.now(HOTLINE_TZ).date()
    month = today.replace(day=1)
    status, report = await api.call(
        "GET", f"/api/v1/reports?from={month.isoformat()}&to={today.isoformat()}", "sup1"
    )
    assert status == 200, report
    quality = {r["key"]: r["value"] for r in report["rows"] if r["section"] == "reviews_1022"}
    assert quality == {"reviewed_calls": 2, "review_score": round((100 + 900 / 11) / 2, 2)}
    assert not [r for r in report["rows"] if r["section"] == "reviews_115"]
    assert report["months"][-1]["reviews"] == {
        "1022": {"reviews": 2, "mean_score": round((100 + 900 / 11) / 2, 2)}
    }
