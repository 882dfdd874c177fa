"""The back office over HTTP against the real service: a ticket from an IVR call is classified,
routed, accepted, answered and closed by the right roles, every step on its timeline; escalation,
duplicates and merge, transfer between lines, 115 dispatch, audited administrator edits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from db.backoffice import PostgresBackofficeStore
from db.province import load_province
from db.users import PostgresUserRepository
from hotline.auth import AuthService
from switchboard.fastagi import CallerScript, SimulatedChannel, run_hotline_call
from tests.conftest import SOUNDS
from tests.support.service import RunningService, running_service, service_settings
from tests.support.websocket import LiveEvents
from tickets.agencies import load_province as read_province
from tickets.model import Role
from tickets.service import BackofficeService

PASSWORD = "correct horse battery"
USERS = {
    "op1": (Role.OPERATOR, None),
    "sup1": (Role.SUPERVISOR, None),
    "admin1": (Role.ADMIN, None),
    "drain": (Role.AGENCY, "CT-THOATNUOC"),
    "ward1": (Role.AGENCY, "UBND-P-HC1"),
}


class Client:
    def __init__(self, http: aiohttp.ClientSession) -> None:
        self.http = http
        self.tokens: dict[str, str] = {}

    async def _headers(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            async with self.http.post(
                "/api/v1/auth/login", json={"username": who, "password": PASSWORD}
            ) as r:
                assert r.status == 200
                self.tokens[who] = (await r.json())["token"]
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def post(
        self, who: str, path: str, body: dict[str, Any] | None = None
    ) -> tuple[int, Any]:
        async with self.http.post(path, json=body or {}, headers=await self._headers(who)) as r:
            return r.status, await r.json()

    async def put(self, who: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.http.put(path, json=body, headers=await self._headers(who)) as r:
            return r.status, await r.json()

    async def get(self, who: str, path: str) -> tuple[int, Any]:
        async with self.http.get(path, headers=await self._headers(who)) as r:
            return r.status, await r.json()


@pytest.fixture
async def api(service: RunningService) -> AsyncIterator[Client]:
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    for name, (role, agency) in USERS.items():
        await auth.add_user(name, PASSWORD, role, agency)
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        yield Client(http)


async def call(
    service: RunningService, keys: list[str], extension: str = "1022", callerid: str = "0901234567"
) -> str:
    channel = SimulatedChannel(
        extension=extension, callerid=callerid, script=CallerScript(keys=keys), sounds_dir=SOUNDS
    )
    queue = "hotline-1022" if extension == "1022" else "emergency-115"
    result = await run_hotline_call(channel, "127.0.0.1", service.agi_port, default_queue=queue)
    return result.agi.variables["HOTLINE_TICKET"]


def flooding(description: str = "Đường Bạch Đằng ngập sâu sau mưa lớn") -> dict[str, Any]:
    return {
        "category": "field_report",
        "subcategory": "flooding",
        "locality": "DN-HC-HC1",
        "description": description,
        "location": "52 Bạch Đằng",
    }


async def test_given_a_field_report_from_the_ivr_when_it_goes_through_the_lifecycle_then_each_role_acts_and_the_timeline_shows_it(
    service: RunningService, api: Client
) -> None:
    code = await call(service, ["2"])
    base = f"/api/v1/tickets/{code}"

    classified = await api.post("op1", f"{base}/classify", flooding())
    forwarded = await api.post("op1", f"{base}/forward")
    foreign = await api.post("ward1", f"{base}/accept")
    accepted = await api.post("drain", f"{base}/accept")
    seen_by_agency = await api.get("drain", f"/api/v1/tickets/{code}")
    responded = await api.post("drain", f"{base}/respond", {"response": "Đã khơi thông cống"})
    no_rating = await api.post("op1", f"{base}/close")
    closed = await api.post("op1", f"{base}/close", {"closure": "satisfied"})
    late_accept = await api.post("drain", f"{base}/accept")
    _, timeline = await api.get("sup1", f"{base}/timeline")

    assert classified[0] == 200
    assert classified[1]["status"] == "classified"
    assert forwarded[0] == 200
    assert forwarded[1]["status"] == "forwarded"
    assert forwarded[1]["agency_code"] == "CT-THOATNUOC"  # flooding × Hải Châu 1 ⇒ drainage
    deadline = forwarded[1]["deadline_at"]
    assert deadline is not None
    assert deadline.endswith("+00:00")
    assert foreign[0] == 404
    assert foreign[1]["error_id"] == "ticket-not-found"
    assert accepted[1]["status"] == "accepted"
    assert seen_by_agency[1]["caller_phone"] == "090****567"
    assert responded[1]["status"] == "responded"
    assert no_rating[0] == 400
    assert closed[1]["status"] == "closed"
    assert late_accept[0] == 409
    assert late_accept[1]["error_id"] == "invalid-transition"
    steps = [(e["kind"], e["actor"]) for e in timeline["events"] if e["actor"] != "ivr"]
    assert steps == [
        ("classify", "op1"),
        ("forward", "op1"),
        ("accept", "drain"),
        ("respond", "drain"),
        ("close", "op1"),
    ]
    assert timeline["events"][-1]["data"] == {"closure": "satisfied"}


async def test_given_a_closed_ticket_when_reopened_and_reassigned_then_it_goes_back_to_an_agency_with_a_new_deadline(
    service: RunningService, api: Client, db: asyncpg.Connection
) -> None:
    code = await call(service, ["2"])
    base = f"/api/v1/tickets/{code}"
    await api.post("op1", f"{base}/classify", flooding())
    await api.post("op1", f"{base}/forward")
    await api.post("drain", f"{base}/respond", {"response": "Đã xử lý"})
    await api.post("op1", f"{base}/close", {"closure": "unsatisfied"})

    reopened = await api.post("op1", f"{base}/reopen", {"reason": "Vẫn còn ngập"})
    by_operator = await api.post("op1", f"{base}/reassign", {"agency": "UBND-P-HC1", "reason": "x"})
    reassigned = await api.post(
        "sup1", f"{base}/reassign", {"agency": "UBND-P-HC1", "reason": "Địa phương xử lý"}
    )
    old_agency = await api.get("drain", f"{base}/timeline")
    new_agency = await api.post("ward1", f"{base}/accept")
    row = await db.fetchrow(
        "SELECT closure, closed_at, responded_at FROM tickets WHERE code = $1", code
    )

    assert reopened[1]["status"] == "forwarded"
    assert reopened[1]["agency_code"] == "CT-THOATNUOC"
    assert by_operator[0] == 403
    assert reassigned[1]["agency_code"] == "UBND-P-HC1"
    assert old_agency[0] == 404
    assert new_agency[1]["status"] == "accepted"
    assert row is not None
    assert (row["closure"], row["closed_at"], row["responded_at"]) == (None, None, None)


async def test_given_an_overdue_forwarded_ticket_when_escalation_runs_then_it_is_escalated_once(
    service: RunningService, api: Client, db: asyncpg.Connection
) -> None:
    code = await call(service, ["2"])
    base = f"/api/v1/tickets/{code}"
    await api.post("op1", f"{base}/classify", flooding())
    await api.post("op1", f"{base}/forward")
    # a working day has passed: the deadline is now behind us
    await db.execute(
        "UPDATE tickets SET deadline_at = now() - interval '1 minute' WHERE code = $1", code
    )

    forbidden = await api.post("op1", "/api/v1/backoffice/escalations")
    first = await api.post("sup1", "/api/v1/backoffice/escalations")
    second = await api.post("sup1", "/api/v1/backoffice/escalations")
    _, timeline = await api.get("sup1", f"{base}/timeline")

    assert forbidden[0] == 403
    assert first == (200, {"escalated": [code]})
    assert second == (200, {"escalated": []})
    assert [(e["kind"], e["actor"]) for e in timeline["events"]][-1] == ("escalated", "system")


async def test_given_two_callers_reporting_the_same_flood_when_duplicates_are_checked_and_merged_then_both_callers_stay_on_the_surviving_ticket(
    service: RunningService, api: Client
) -> None:
    first = await call(service, ["2"], callerid="0901111111")
    second = await call(service, ["2"], callerid="0902222222")
    other = await call(service, ["2"], callerid="0903333333")
    await api.post("op1", f"/api/v1/tickets/{first}/classify", flooding())
    await api.post(
        "op1",
        f"/api/v1/tickets/{second}/classify",
        flooding("Bạch Đằng ngập sâu, nước lên nhanh sau mưa"),
    )
    await api.post(
        "op1", f"/api/v1/tickets/{other}/classify", flooding("Cống bị tắc ở kiệt 20 Lê Lợi")
    )
    _, first_state = await api.get("op1", f"/api/v1/tickets/{first}")

    _, suggested = await api.get("op1", f"/api/v1/tickets/{second}/duplicates")
    merged = await api.post("op1", f"/api/v1/tickets/{second}/merge", {"into": first_state["id"]})
    again = await api.post("op1", f"/api/v1/tickets/{second}/merge", {"into": first_state["id"]})
    _, timeline = await api.get("op1", f"/api/v1/tickets/{first}/timeline")

    assert [c["code"] for c in suggested["candidates"]] == [first]
    assert merged[1]["status"] == "merged"
    assert merged[1]["merged_into"] == first_state["id"]
    assert again[0] == 409
    note = timeline["events"][-1]
    assert note["kind"] == "merged_from"
    assert note["data"]["ticket"] == second
    assert note["data"]["caller_phone"] == "+84902222222"


async def test_given_a_1022_call_that_is_an_emergency_when_transferred_then_a_115_ticket_carries_its_history(
    service: RunningService, api: Client, db: asyncpg.Connection
) -> None:
    code = await call(service, ["1"])

    status, created = await api.post("op1", f"/api/v1/tickets/{code}/transfer")
    _, old = await api.get("op1", f"/api/v1/tickets/{code}")
    _, timeline = await api.get("op1", f"/api/v1/tickets/{created['code']}/timeline")

    assert status == 201
    assert created["line"] == "115"
    assert created["category"] == "medical"
    assert created["code"].startswith("115-")
    assert created["caller_phone"] == "+84901234567"
    assert old["status"] == "transferred"
    tickets_in_timeline = [e["ticket"] for e in timeline["events"]]
    assert tickets_in_timeline[0] == code  # the 1022 call's IVR steps come first
    assert tickets_in_timeline[-1] == created["code"]
    assert ("transferred", code) in [(e["kind"], e["ticket"]) for e in timeline["events"]]
    assert (
        await db.fetchval("SELECT transferred_from FROM tickets WHERE code = $1", created["code"])
        == old["id"]
    )


async def test_given_a_115_call_when_dispatched_then_declines_and_timeouts_move_to_the_next_nearest_facility_until_one_accepts(
    service: RunningService, api: Client, db: asyncpg.Connection
) -> None:
    code = await call(service, [], extension="115")
    base = f"/api/v1/tickets/{code}"
    await api.post(
        "op1",
        f"{base}/classify",
        {
            "category": "medical",
            "locality": "DN-HC-TT",
            "location": "124 Hải Phòng",
            "lat": 16.0722,
            "long": 108.2150,
        },
    )

    first = await api.post("op1", f"{base}/dispatch")
    twice = await api.post("op1", f"{base}/dispatch")
    declined = await api.post(
        "op1", f"{base}/dispatch/answer", {"accepted": False, "reason": "no_vehicle"}
    )
    await db.execute(
        "UPDATE dispatch_requests SET due_at = now() - interval '1 second' WHERE result = 'pending'"
    )
    expired = await api.post("sup1", "/api/v1/backoffice/dispatch-timeouts")
    accepted = await api.post("op1", f"{base}/dispatch/answer", {"accepted": True})
    on_scene = await api.post("op1", f"{base}/milestones", {"kind": "on_scene"})
    done = await api.post("op1", f"{base}/complete", {"outcome": "transported"})
    rows = await db.fetch("SELECT seq, facility_code, result FROM dispatch_requests ORDER BY seq")
    ticket = await db.fetchrow(
        "SELECT facility_code, outcome, dispatched_at, accepted_at, on_scene_at, completed_at, status FROM tickets WHERE code = $1",
        code,
    )

    assert first[0] == 201
    assert first[1]["pending"]["facility"] == "BV-DN"  # the caller is at Đà Nẵng Hospital
    assert twice[0] == 409
    assert declined[1]["pending"]["facility"] == "BV-C"  # 240 m away
    assert expired == (200, {"timed_out": 1})
    assert accepted == (200, {"pending": None})
    assert on_scene[0] == 200
    assert done[1]["status"] == "closed"
    assert [(r["seq"], r["result"]) for r in rows] == [
        (1, "declined"),
        (2, "timed_out"),
        (3, "accepted"),
    ]
    assert rows[2]["facility_code"] not in {"BV-DN", "BV-C"}
    assert ticket is not None
    assert ticket["facility_code"] == rows[2]["facility_code"]
    assert ticket["outcome"] == "transported"
    assert ticket["status"] == "closed"
    assert (
        ticket["dispatched_at"]
        <= ticket["accepted_at"]
        <= ticket["on_scene_at"]
        <= ticket["completed_at"]
    )


async def dispatched_115(api: Client, service: RunningService, callerid: str) -> str:
    code = await call(service, [], extension="115", callerid=callerid)
    await api.post(
        "op1",
        f"/api/v1/tickets/{code}/classify",
        {"category": "medical", "locality": "DN-HC-TT", "lat": 16.0722, "long": 108.2150},
    )
    status, _ = await api.post("op1", f"/api/v1/tickets/{code}/dispatch")
    assert status == 201
    return code


async def fail_next_requests_of(db: asyncpg.Connection, code: str) -> None:
    """The database refuses any new dispatch request of that ticket (as a crash between the
    two steps would leave them: the first done, the second not)."""
    ticket_id = await db.fetchval("SELECT id FROM tickets WHERE code = $1", code)
    await db.execute(
        "CREATE FUNCTION refuse_request() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF NEW.ticket_id = {int(ticket_id)} THEN"
        " RAISE EXCEPTION 'injected failure'; END IF; RETURN NEW; END $$"
    )
    await db.execute(
        "CREATE TRIGGER refuse_request BEFORE INSERT ON dispatch_requests"
        " FOR EACH ROW EXECUTE FUNCTION refuse_request()"
    )


async def requests_of(db: asyncpg.Connection, code: str) -> list[tuple[int, str, str]]:
    rows = await db.fetch(
        "SELECT r.seq, r.facility_code, r.result FROM dispatch_requests r"
        " JOIN tickets t ON t.id = r.ticket_id WHERE t.code = $1 ORDER BY r.seq",
        code,
    )
    return [(r["seq"], r["facility_code"], r["result"]) for r in rows]


async def events_of(db: asyncpg.Connection, code: str) -> list[str]:
    rows = await db.fetch(
        "SELECT e.kind FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
        " WHERE t.code = $1 ORDER BY e.id",
        code,
    )
    return [r["kind"] for r in rows]


async def test_given_asking_the_next_facility_fails_when_a_dispatch_request_times_out_then_the_timeout_is_rolled_back_and_other_tickets_move_on(
    service: RunningService, api: Client, db: asyncpg.Connection
) -> None:
    failing = await dispatched_115(api, service, "0901111111")
    fine = await dispatched_115(api, service, "0902222222")
    await fail_next_requests_of(db, failing)
    await db.execute("UPDATE dispatch_requests SET due_at = now() - interval '1 second'")
    events_before = await events_of(db, failing)

    expired = await api.post("sup1", "/api/v1/backoffice/dispatch-timeouts")

    assert expired == (200, {"timed_out": 1})  # the other ticket was not held up
    assert await requests_of(db, failing) == [(1, "BV-DN", "pending")]  # still pending
    assert await events_of(db, failing) == events_before  # no "dispatch_timed_out" alone
    assert [r[2] for r in await requests_of(db, fine)] == ["timed_out", "pending"]

    await db.execute("DROP TRIGGER refuse_request ON dispatch_requests")
    again = await api.post("sup1", "/api/v1/backoffice/dispatch-timeouts")

    assert again == (200, {"timed_out": 1})  # the next sweep times it out, and asks BV-C
    assert await requests_of(db, failing) == [
        (1, "BV-DN", "timed_out"),
        (2, "BV-C", "pending"),
    ]


async def test_given_asking_the_next_facility_fails_when_a_facility_declines_then_the_decline_is_rolled_back(
    service: RunningService, api: Client, db: asyncpg.Connection
) -> None:
    code = await dispatched_115(api, service, "0903333333")
    await fail_next_requests_of(db, code)
    events_before = await events_of(db, code)

    status, _ = await api.post(
        "op1", f"/api/v1/tickets/{code}/dispatch/answer", {"accepted": False, "reason": "busy"}
    )

    assert status == 500
    assert await requests_of(db, code) == [(1, "BV-DN", "pending")]
    assert await events_of(db, code) == events_before


async def test_given_an_administrator_when_routing_and_holidays_are_edited_then_routing_changes_and_every_edit_is_audited(
    api: Client,
) -> None:
    rule = {"category": "field_report", "subcategory": "noise", "locality": "DN", "agency": "CA-TP"}

    refused = await api.put("sup1", "/api/v1/routing-rules", rule)
    before = await api.get(
        "op1", "/api/v1/routing?category=field_report&subcategory=noise&locality=DN"
    )
    saved = await api.put("admin1", "/api/v1/routing-rules", rule)
    after = await api.get(
        "op1", "/api/v1/routing?category=field_report&subcategory=noise&locality=DN"
    )
    holiday = await api.put(
        "admin1",
        "/api/v1/holidays/2026-12-31",
        {"name_vi": "Nghỉ bù", "name_en": "Compensatory day off"},
    )
    deadline = await api.put(
        "admin1", "/api/v1/categories/field_report/deadline", {"deadline_days": 2}
    )
    bad_agency = await api.put("admin1", "/api/v1/routing-rules", {**rule, "agency": "NOPE"})
    _, audit = await api.get("admin1", "/api/v1/audit")
    operator_audit = await api.get("op1", "/api/v1/audit")

    assert refused[0] == 403
    assert before[1] == {"agency": "VP-UBND", "fallback": True}
    assert saved[0] == 200
    assert after[1] == {"agency": "CA-TP", "fallback": False}
    assert holiday[0] == 200
    assert deadline[0] == 200
    assert bad_agency[0] == 400
    assert operator_audit[0] == 403
    entries = [(a["actor"], a["action"], a["entity"], a["key"]) for a in audit["items"]]
    assert entries == [
        ("admin1", "update", "category", "field_report"),
        ("admin1", "create", "holiday", "2026-12-31"),
        ("admin1", "create", "routing_rule", "field_report/noise/DN"),
    ]
    assert audit["items"][0]["before"]["deadline_days"] == 3
    assert audit["items"][0]["after"] == {"deadline_days": 2}


async def test_given_each_role_when_it_calls_a_route_outside_its_role_then_it_is_refused(
    service: RunningService, api: Client
) -> None:
    code = await call(service, ["2"])

    assert (await api.post("drain", f"/api/v1/tickets/{code}/classify", flooding()))[0] == 403
    assert (await api.post("drain", f"/api/v1/tickets/{code}/forward"))[0] == 403
    assert (await api.post("op1", f"/api/v1/tickets/{code}/accept"))[0] == 403
    assert (await api.put("op1", "/api/v1/agencies/X", {}))[0] == 403
    assert (await api.get("ward1", f"/api/v1/tickets/{code}/duplicates"))[0] == 403
    async with api.http.get(f"/api/v1/tickets/{code}/timeline") as response:
        assert response.status == 401


async def test_given_the_sweeper_running_when_a_deadline_passes_then_the_ticket_is_escalated_without_anyone_asking(
    service: RunningService, api: Client, db: asyncpg.Connection
) -> None:
    code = await call(service, ["2"])
    base = f"/api/v1/tickets/{code}"
    await api.post("op1", f"{base}/classify", flooding())
    await api.post("op1", f"{base}/forward")
    sweeper = BackofficeService(PostgresBackofficeStore(service.pool))
    stop = asyncio.Event()
    task = asyncio.create_task(sweeper.run_sweeper(stop, interval=0.05), name="test-sweeper")
    try:
        await asyncio.sleep(0.2)
        before = await db.fetchval("SELECT escalated_at FROM tickets WHERE code = $1", code)
        await db.execute(
            "UPDATE tickets SET deadline_at = now() - interval '1 second' WHERE code = $1", code
        )
        for _ in range(100):
            if await db.fetchval("SELECT escalated_at FROM tickets WHERE code = $1", code):
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task

    assert before is None
    assert await db.fetchval("SELECT escalated_at FROM tickets WHERE code = $1", code) is not None
    kinds = await db.fetchval(
        "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
        " WHERE t.code = $1 AND e.kind = 'escalated'",
        code,
    )
    assert kinds == 1


async def test_given_a_console_on_the_socket_when_a_ticket_changes_then_it_hears_which_one(
    service: RunningService, api: Client
) -> None:
    code = await call(service, ["2"])
    headers = await api._headers("sup1")

    async with api.http.ws_connect("/api/v1/events?topics=tickets", headers=headers) as ws:
        events = LiveEvents(ws)
        assert (await events.next())["kind"] == "hello"
        status, _ = await api.post("op1", f"/api/v1/tickets/{code}/classify", flooding())
        async with asyncio.timeout(5):
            event = await events.next()

    assert status == 200
    assert (event["topic"], event["kind"]) == ("tickets", "changed")
    assert (event["data"]["code"], event["data"]["action"]) == (code, "classify")
    assert event["data"]["status"] == "classified"


async def test_given_a_dispatch_timeout_setting_when_a_115_ticket_is_dispatched_over_http_then_the_request_is_due_after_that_many_seconds(
    database_url: str, tmp_path: Path
) -> None:
    """The one back-office service is built from the settings: a handler uses the setting."""
    settings = service_settings(database_url, tmp_path, dispatch_timeout=300)
    async with running_service(settings) as running:
        async with running.pool.acquire() as conn:
            await load_province(conn, read_province())
        auth = AuthService(PostgresUserRepository(running.pool), token_ttl=timedelta(hours=1))
        await auth.add_user("op1", PASSWORD, Role.OPERATOR, None)
        code = await call(running, [], extension="115")
        async with aiohttp.ClientSession(base_url=running.http_url) as http:
            api = Client(http)
            base = f"/api/v1/tickets/{code}"
            medical = {"category": "medical", "lat": 16.0722, "long": 108.2150}
            assert (await api.post("op1", f"{base}/classify", medical))[0] == 200
            status, body = await api.post("op1", f"{base}/dispatch")

    assert status == 201, body
    pending = body["pending"]
    due = datetime.fromisoformat(pending["due_at"]) - datetime.fromisoformat(pending["sent_at"])
    assert due == timedelta(seconds=300)
