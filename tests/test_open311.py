"""Open311 GeoReport v2: read with the unmodified PyPI client ``georeport`` (GET only; it reads
a single request as a one-element array), create with a plain HTTP form POST and an API key
made by ``hotline apikey add``."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
import requests
from georeport import GeoReport

from db.apikeys import PostgresApiKeyRepository
from db.province import load_province
from tests.support.service import RunningService
from tests.test_reports import hotline
from tickets.agencies import load_province as read_province
from tickets.codes import HOTLINE_TZ

SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST_FIELDS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
    "agency_responsible", "service_notice", "requested_datetime", "updated_datetime",
    "expected_datetime", "address", "address_id", "zipcode", "lat", "long", "media_url",
}  # fmt: skip


@pytest.fixture
async def open311(service: RunningService) -> tuple[RunningService, GeoReport]:
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    client = GeoReport(service.http_url + "/open311/v2/", jurisdiction="hotline.example.vn")
    return service, client


async def post_request(service: RunningService, form: dict[str, str]) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{service.http_url}/open311/v2/requests.json", data=form) as response:
            return response.status, await response.json()


def flooding(api_key: str, **extra: str) -> dict[str, str]:
    return {
        "api_key": api_key,
        "jurisdiction_id": "hotline.example.vn",
        "service_code": "flooding",
        "lat": "16.0741",
        "long": "108.2223",
        "address_string": "52 Bạch Đằng, phường Hải Châu 1",
        "description": "Đường Bạch Đằng ngập sâu 40 cm sau mưa lớn",
        "phone": "0912345678",
        "first_name": "An",
        "attribute[locality]": "DN-HC-HC1",
        **extra,
    }


async def test_given_the_demo_province_when_georeport_lists_services_then_each_has_the_spec_fields_in_vietnamese(
    open311: tuple[RunningService, GeoReport],
) -> None:
    _, client = open311

    services = await asyncio.to_thread(client.get_service_list)
    definition = await asyncio.to_thread(client.get_service_definition, "flooding")

    assert all(set(s) == SERVICE_FIELDS for s in services)
    by_code = {s["service_code"]: s for s in services}
    assert set(by_code) == {
        "admin_procedure", "information", "flooding", "roads", "street_lighting", "rubbish",
        "noise", "trees", "water_supply", "power", "public_order", "other",
    }  # fmt: skip
    assert by_code["flooding"]["service_name"] == "Ngập úng"
    assert by_code["flooding"]["group"] == "Phản ánh hiện trường"
    assert by_code["flooding"]["metadata"] is True
    assert definition["service_code"] == "flooding"
    attribute = definition["attributes"][0]
    assert attribute["code"] == "locality"
    assert attribute["datatype"] == "singlevaluelist"
    assert {"key": "DN-HC-HC1", "name": "Phường Hải Châu 1"} in attribute["values"]


async def test_given_an_unknown_service_when_its_definition_is_asked_then_404_with_an_open311_error_array(
    open311: tuple[RunningService, GeoReport],
) -> None:
    service, client = open311

    with pytest.raises(requests.HTTPError) as raised:
        await asyncio.to_thread(client.get_service_definition, "medical")
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{service.http_url}/open311/v2/services/nope.json") as response:
            body = await response.json()

    assert raised.value.response is not None
    assert raised.value.response.status_code == 404
    assert response.status == 404
    assert body == [{"code": 404, "description": "no service 'nope'"}]


async def test_given_an_api_key_from_the_cli_when_a_request_is_posted_then_georeport_reads_it_back(
    open311: tuple[RunningService, GeoReport], database_url: str, tmp_path: Path
) -> None:
    service, client = open311
    made = await asyncio.to_thread(
        hotline, "apikey", "add", "danang-portal", url=database_url, data_dir=tmp_path
    )
    assert made.returncode == 0, made.stderr
    api_key = made.stdout.strip().rsplit(" ", 1)[-1]

    status, created = await post_request(service, flooding(api_key))
    code = created[0]["service_request_id"]
    now = datetime.now(HOTLINE_TZ)
    one = await asyncio.to_thread(client.get_service_request, code)
    listed = await asyncio.to_thread(
        client.get_service_requests,
        start_date=(now - timedelta(days=30)).isoformat(),
        end_date=(now + timedelta(hours=1)).isoformat(),
        status="open",
        service_code="flooding,roads",
    )
    closed = await asyncio.to_thread(
        client.get_service_requests,
        start_date="2026-01-01T00:00:00Z",
        end_date="2026-03-31T00:00:00Z",
        status="closed",
    )
    by_id = await asyncio.to_thread(client.get_service_requests, service_request_id=code)
    xml = GeoReport(client.root_address, output_format="xml")
    as_xml = await asyncio.to_thread(xml.get_service_request, code)

    assert status == 201
    assert set(created[0]) == {"service_request_id", "service_notice", "account_id"}
    assert code.startswith("1022-")
    assert set(one) == REQUEST_FIELDS
    assert one["service_request_id"] == code
    assert one["status"] == "open"
    assert one["service_code"] == "flooding"
    assert one["service_name"] == "Ngập úng"
    # published: nothing the poster said until an operator writes a public summary, and the
    # ward rather than the address (tests/test_public_data.py)
    assert one["description"] is None
    assert one["address"] == "Phường Hải Châu 1, Quận Hải Châu"
    assert (one["lat"], one["long"]) == (16.074, 108.222)
    assert one["requested_datetime"].endswith("+07:00")
    assert [r["service_request_id"] for r in listed] == [code]
    assert closed == []
    assert [r["service_request_id"] for r in by_id] == [code]
    assert as_xml["service_request_id"] == code
    assert as_xml["status"] == "open"


async def test_given_a_posted_request_when_anyone_reads_it_then_the_callers_phone_is_never_published_but_the_ticket_keeps_it(
    open311: tuple[RunningService, GeoReport], db: asyncpg.Connection
) -> None:
    service, client = open311
    api_key = await PostgresApiKeyRepository(service.pool).add("portal")

    _, created = await post_request(service, flooding(api_key))
    code = created[0]["service_request_id"]
    listed = await asyncio.to_thread(client.get_service_requests)
    row = await db.fetchrow("SELECT * FROM tickets WHERE code = $1", code)
    assert row is not None
    event = await db.fetchrow(
        "SELECT actor, kind, data FROM ticket_events WHERE ticket_id = $1", row["id"]
    )
    assert event is not None

    text = json.dumps(listed, ensure_ascii=False)
    assert code in text
    assert "0912345678" not in text
    assert "912345678" not in text
    assert row["caller_phone"] == "+84912345678"
    assert (row["line"], row["category"], row["subcategory"], row["source"]) == (
        "1022",
        "field_report",
        "flooding",
        "open311",
    )
    assert row["locality"] == "DN-HC-HC1"
    assert row["status"] == "new"
    assert (event["actor"], event["kind"]) == ("open311:portal", "created")


BAD_POSTS: list[tuple[dict[str, str], int, str]] = [
    (
        {"api_key": "not-a-key"},
        403,
        "Invalid api_key received -- can't proceed with create_request.",
    ),
    ({"api_key": ""}, 403, "Invalid api_key received -- can't proceed with create_request."),
    ({"service_code": "medical"}, 404, "service_code 'medical' is not a service"),
    (
        {"lat": "", "long": "", "address_string": ""},
        400,
        "a location is required: lat and long, address_string or address_id",
    ),
    ({"long": ""}, 400, "lat and long go together"),
    ({"lat": "95", "long": "108.2"}, 400, "lat/long out of range"),
    ({"attribute[locality]": "XX"}, 400, "attribute[locality]: unknown locality 'XX'"),
    ({"description": "x" * 4001}, 400, "description is limited to 4000 characters"),
]


async def test_given_bad_posts_when_requests_are_created_then_each_is_refused_with_an_open311_error(
    open311: tuple[RunningService, GeoReport], db: asyncpg.Connection
) -> None:
    service, _ = open311
    api_key = await PostgresApiKeyRepository(service.pool).add("portal")

    answers = [
        await post_request(service, flooding(api_key) | change) for change, _, _ in BAD_POSTS
    ]

    assert answers == [
        (status, [{"code": status, "description": text}]) for _, status, text in BAD_POSTS
    ]
    assert await db.fetchval("SELECT count(*) FROM tickets") == 0


async def test_given_a_revoked_key_when_it_posts_then_it_is_refused(
    open311: tuple[RunningService, GeoReport],
) -> None:
    service, _ = open311
    keys = PostgresApiKeyRepository(service.pool)
    api_key = await keys.add("old-portal")
    assert await keys.revoke("old-portal")

    status, body = await post_request(service, flooding(api_key))

    assert status == 403
    assert body[0]["code"] == 403


async def test_given_a_window_over_90_days_or_a_naive_date_when_requests_are_listed_then_400(
    open311: tuple[RunningService, GeoReport],
) -> None:
    _, client = open311

    for params in (
        {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"},
        {"start_date": "2026-01-01T00:00:00"},
        {"status": "pending"},
    ):
        with pytest.raises(requests.HTTPError) as raised:
            await asyncio.to_thread(client.get_service_requests, **params)
        response = raised.value.response
        assert response is not None
        assert response.status_code == 400
        assert response.json()[0]["code"] == 400


async def test_given_one_client_when_it_exceeds_the_public_limit_then_it_gets_429(
    open311: tuple[RunningService, GeoReport],
) -> None:
    service, _ = open311
    statuses = []
    async with aiohttp.ClientSession() as http:
        for _ in range(125):
            async with http.get(f"{service.http_url}/open311/v2/services.json") as response:
                statuses.append(response.status)

    assert statuses[:100] == [200] * 100
    assert statuses[-1] == 429
