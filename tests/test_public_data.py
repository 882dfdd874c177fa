"""What readers outside the call centre get of a citizen's ticket, against the real service:
Open311 (JSON and XML, one request and the list, read by the PyPI client ``georeport``)
publishes only the service, status, agency, ward or district, dates and the operator's public
summary, masked; the public lookup masks the agency's answer; an agency reads every number
masked (written, glued to letters, read out in words, cut at the summary's end) and no
recording path."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any
from xml.etree import ElementTree as ET

import aiohttp
import pytest
from georeport import GeoReport

from db.backoffice import PostgresBackofficeStore
from db.province import load_province
from tests.support.browser import PASSWORD, add_user
from tests.support.service import RunningService
from tickets.agencies import load_province as read_province
from tickets.model import Category, Role, User
from tickets.service import BackofficeService

CALLER = "+84905123471"
WARD = "UBND-P-HC1"
# The description has a number across the inbox summary's end (280 characters): the first 8
# of its 10 digits fall inside.
DESCRIPTION = ("Nhà tôi ở kiệt 42 Hoàng Diệu bị ngập. " * 8)[:261] + "Gọi lại sdt0905123471 nhé"
LOCATION = "Kiệt 42 Hoàng Diệu, nhà bà Lan"
TRANSCRIPT = "số của tôi là không chín không năm một hai ba bốn bảy một xin cảm ơn"
SUMMARY = "Ngập sâu 40 cm trên kiệt Hoàng Diệu; liên hệ 0905 123 471"
ANSWER = "Đã nạo vét cống. Cán bộ phụ trách: 0236.3822.123"
SECRETS = (
    "0905123471", "905123471", "84905123471", "0905 123 471", "0236.3822.123", "3822",
    "123 4", "năm một hai ba", "Hoàng Diệu, nhà", "bà Lan", "16.07412", "108.22231",
    "recordings", ".wav",
)  # fmt: skip


@dataclass
class Published:
    service: RunningService
    code: str


@pytest.fixture
async def published(service: RunningService) -> Published:
    """A phoned-in flooding report with recordings, classified with a public summary,
    forwarded to the ward, accepted and answered."""
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    await add_user(service, "phuong_hc1", Role.AGENCY, WARD)
    await add_user(service, "op_lan", Role.OPERATOR)
    pool = service.pool
    code = "1022-26-000042"
    ticket_id = await pool.fetchval(
        "INSERT INTO tickets (code, line, category, status, caller_phone, caller_raw, transcript,"
        " description_recording, location_recording, created_at, updated_at)"
        " VALUES ($1, '1022', 'unclassified', 'new', $2, '0905123471', $3, $4, $5,"
        " now() - interval '2 days', now() - interval '2 days') RETURNING id",
        code,
        CALLER,
        TRANSCRIPT,
        "/var/spool/hotline/recordings/2026-01-02/1767.1-description.wav",
        "/var/spool/hotline/recordings/2026-01-02/1767.1-location.wav",
    )
    await pool.execute(
        "INSERT INTO ticket_events (ticket_id, actor, kind, data) VALUES ($1, 'ivr', 'recorded',"
        ' \'{"purpose": "description", "file": "/var/spool/hotline/recordings/x.wav"}\')',
        ticket_id,
    )
    backoffice = BackofficeService(PostgresBackofficeStore(pool))
    operator = User(1, "op_lan", Role.OPERATOR, None)
    ward = User(2, "phuong_hc1", Role.AGENCY, WARD)
    from tickets.dispatch import Point

    await backoffice.classify(
        operator,
        ticket_id,
        Category.FIELD_REPORT,
        "flooding",
        "DN-HC-HC1",
        description=DESCRIPTION,
        location=LOCATION,
        point=Point(16.07412, 108.22231),
        public_summary=SUMMARY,
    )
    await backoffice.forward(operator, ticket_id, WARD)
    await backoffice.accept(ward, ticket_id)
    await backoffice.respond(ward, ticket_id, ANSWER)
    return Published(service, code)


async def fetch(service: RunningService, path: str, token: str | None = None) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        async with http.get(path, headers=headers) as reply:
            return reply.status, await reply.text()


async def api_token(service: RunningService, username: str) -> str:
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        async with http.post(
            "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
        ) as reply:
            token: str = (await reply.json())["token"]
    return token


def xml_field(document: str, path: str) -> str | None:
    """A field of our own service's XML, which must be well-formed (a parse error fails)."""
    found = ET.fromstring(document).find(path)  # noqa: S314 (our own answer, not a stranger's)
    return None if found is None else found.text


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


async def test_given_a_classified_report_when_open311_publishes_it_then_only_the_public_fields_masked(
    published: Published,
) -> None:
    service, code = published.service, published.code
    client = GeoReport(service.http_url + "/open311/v2/", jurisdiction="hotline.example.vn")

    one = await asyncio.to_thread(client.get_service_request, code)
    listed = await asyncio.to_thread(client.get_service_requests)
    xml_one = await fetch(service, f"/open311/v2/requests/{code}.xml")
    xml_list = await fetch(service, "/open311/v2/requests.xml")
    raw_one = await fetch(service, f"/open311/v2/requests/{code}.json")

    assert one["description"] == "Ngập sâu 40 cm trên kiệt Hoàng Diệu; liên hệ 090* *** 471"
    assert one["address"] == "Phường Hải Châu 1, Quận Hải Châu"
    assert one["address_id"] == "DN-HC-HC1"
    assert (one["lat"], one["long"]) == (16.074, 108.222)  # the ward's, not the home's
    assert one["status_notes"] == "Đã có kết quả trả lời"
    assert one["agency_responsible"] == "UBND phường Hải Châu 1"
    assert [r["service_request_id"] for r in listed] == [code]
    for text in (json.dumps(one, ensure_ascii=False), json.dumps(listed, ensure_ascii=False)):
        assert leaks(text) == []
    for status, text in (xml_one, xml_list, raw_one):
        assert status == 200
        assert leaks(text) == []
    assert xml_field(xml_one[1], "request/description") == one["description"]


async def test_given_no_public_summary_and_odd_stored_text_when_published_then_nothing_said_and_xml_well_formed(
    published: Published,
) -> None:
    service, code = published.service, published.code
    # text stored by some other way than the web boundary (an import, an older version)
    await service.pool.execute(
        "UPDATE agencies SET name_vi = 'UBND\x0b phường\x1f Hải Châu 1' WHERE code = $1", WARD
    )
    xml_odd = await fetch(service, f"/open311/v2/requests/{code}.xml")
    await service.pool.execute("UPDATE tickets SET public_summary = NULL WHERE code = $1", code)
    _, plain = await fetch(service, f"/open311/v2/requests/{code}.json")

    assert xml_field(xml_odd[1], "request/agency_responsible") == (
        "UBND\ufffd phường\ufffd Hải Châu 1"
    )
    assert json.loads(plain)[0]["description"] is None


async def test_given_an_operator_when_the_public_summary_is_set_cleared_or_too_long_then_the_api_follows(
    published: Published,
) -> None:
    service, code = published.service, published.code
    headers = {"Authorization": f"Bearer {await api_token(service, 'op_lan')}"}
    async with aiohttp.ClientSession(base_url=service.http_url) as http:

        async def classify(body: dict[str, Any]) -> int:
            async with http.post(
                f"/api/v1/tickets/{code}/classify",
                json={"category": "field_report", "subcategory": "flooding", **body},
                headers=headers,
            ) as reply:
                return reply.status

        too_long = await classify({"public_summary": "x" * 501})
        not_text = await classify({"public_summary": 42})
        cleared = await classify({"public_summary": ""})
        stored = await service.pool.fetchval(
            "SELECT public_summary FROM tickets WHERE code = $1", code
        )

    assert (too_long, not_text) == (400, 400)
    assert cleared in (200, 409)  # answered tickets are not classified again
    assert stored == (None if cleared == 200 else SUMMARY)


async def test_given_an_answer_with_a_number_when_the_citizen_looks_it_up_then_it_is_masked(
    published: Published,
) -> None:
    status, text = await fetch(
        published.service, f"/api/v1/public/lookup?code={published.code}&last4=3471"
    )

    assert status == 200
    body = json.loads(text)
    assert body["steps"][-1]["response"] == "Đã nạo vét cống. Cán bộ phụ trách: 023*.****.123"
    assert leaks(text) == []


async def test_given_an_agency_user_when_it_reads_the_ticket_its_timeline_and_its_inbox_then_numbers_are_masked_and_no_path_shows(
    published: Published,
) -> None:
    service, code = published.service, published.code
    token = await api_token(service, "phuong_hc1")
    detail = await fetch(service, f"/api/v1/tickets/{code}", token)
    timeline = await fetch(service, f"/api/v1/tickets/{code}/timeline", token)
    inbox = await fetch(service, "/api/v1/agency/tickets?status=all", token)

    ticket = json.loads(detail[1])
    assert ticket["description_recording"] is None
    assert ticket["location_recording"] is None
    assert ticket["transcript"] == "số của tôi là không chín không *** bốn bảy một xin cảm ơn"
    assert ticket["description"].endswith("Gọi lại sdt090****471 nhé")
    summary = json.loads(inbox[1])["items"][0]["summary"]
    assert len(summary) == 280
    assert summary.endswith("Gọi lại sdt090****4")  # masked first, then cut
    recorded = next(e for e in json.loads(timeline[1])["events"] if e["kind"] == "recorded")
    assert recorded["data"] == {"purpose": "description", "file": None}
    # an agency needs the address to act on it, and reads its own answer as it wrote it
    needed = {"Hoàng Diệu, nhà", "bà Lan"}
    own = {"0236.3822.123", "3822"}
    for status, text in (detail, timeline):
        assert status == 200
        assert set(leaks(text)) - needed == set()
    assert set(leaks(inbox[1])) - needed == own


async def test_given_any_answer_when_served_then_it_is_no_store_and_names_no_server_software(
    published: Published,
) -> None:
    service = published.service
    answers = []
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        for path in (
            f"/api/v1/public/lookup?code={published.code}&last4=3471",
            f"/open311/v2/requests/{published.code}.json",
            "/api/v1/tickets/1",  # 401
            "/nowhere",  # 404
            "/login",
            "/lookup",
        ):
            async with http.get(path, allow_redirects=False) as reply:
                answers.append((path, reply.status, dict(reply.headers)))
        async with http.get("/login") as page:
            static = next(
                part.split('"')[0]
                for part in (await page.text()).split('href="')[1:]
                if part.startswith("/static/")
            )
        async with http.get(static) as reply:
            static_headers = dict(reply.headers)

    assert [(p, s) for p, s, h in answers if h.get("Cache-Control") != "no-store"] == []
    assert [(p, h["Server"]) for p, _, h in answers if "Server" in h] == []
    assert "no-store" not in static_headers.get("Cache-Control", "")
    assert "Server" not in static_headers
