"""Hostile or odd input at the web boundary: NUL and other control characters, lone surrogates,
JSON nested past any sense, signatures and tokens that are not ASCII. Every one gets a 4xx with
the usual ``{"error_id", "message"}`` body (Open311's own error array on its routes), never a
500, and nothing of it is stored; Hypothesis writes bodies for the write routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from db.apikeys import PostgresApiKeyRepository
from db.backoffice import PostgresBackofficeStore
from db.province import load_province
from db.users import PostgresUserRepository
from hotline.auth import AuthService, TokenKind
from tests.support.browser import PASSWORD, add_user
from tests.support.fuzzing import LoopThread, fuzz_settings
from tests.support.service import RunningService, running_service, service_settings
from tests.test_console_agency import WARD, Desk
from tests.test_role_matrix import GATEWAYS
from tickets.agencies import load_province as read_province
from tickets.codes import code_year
from tickets.model import Role
from tickets.service import BackofficeService
from tickets.text import carriable

# Each holds a character no later reader can carry: NUL, C0 and C1 controls, lone surrogates,
# a noncharacter.
HOSTILE = ("a\x00b", "a\x01b", "\x1b[31m", "a\ud800b", "\udfff", "a\x7fb", "a\x85b", "\ufffe")
# A form's bytes that are not UTF-8 (a lone surrogate's) are decoded as U+FFFD: only these reach
# the boundary's check from a form.
IN_FORMS = tuple(t for t in HOSTILE if not any("\ud800" <= c <= "\udfff" for c in t))
DEEP = 100_000
SETTINGS = {**GATEWAYS, "notify_poll_interval": 3600.0}


@dataclass
class Target:
    service: RunningService
    code: str  # a 1022 ticket forwarded to WARD
    tokens: dict[str, str]
    session: str  # the operator's browser session
    api_key: str

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


async def target_of(service: RunningService) -> Target:
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    await add_user(service, "op_lan", Role.OPERATOR)
    await add_user(service, "phuong_hc1", Role.AGENCY, WARD)
    desk = Desk(service, BackofficeService(PostgresBackofficeStore(service.pool)))
    code = await desk.ticket(WARD, description="Đèn đường hỏng")
    await service.pool.execute(  # Open311's codes are numbered after the desk's
        "INSERT INTO ticket_counters (line, year, last) VALUES ('1022', $1, 1000)"
        " ON CONFLICT (line, year) DO UPDATE SET last = 1000",
        code_year(datetime.now(UTC)),
    )
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    tokens = {}
    for who in ("op_lan", "phuong_hc1"):
        token = (await auth.login(who, PASSWORD)).token
        assert token is not None
        tokens[who] = token
    session = (await auth.login("op_lan", PASSWORD, TokenKind.SESSION)).token
    assert session is not None
    api_key = await PostgresApiKeyRepository(service.pool).add("portal")
    return Target(service, code, tokens, session, api_key)


@pytest.fixture
async def target(database_url: str, tmp_path: Path) -> AsyncIterator[Target]:
    async with running_service(service_settings(database_url, tmp_path, **SETTINGS)) as service:
        yield await target_of(service)


def json_bytes(value: Any) -> bytes:
    """JSON as a client may send it: lone surrogates escaped (``\\ud800``), which is valid JSON
    text that decodes to a string no reader can carry."""
    return json.dumps(value).encode()


async def send(
    target: Target,
    method: str,
    path: str,
    *,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    sent_headers = dict(headers or {})
    if isinstance(body, bytes):
        sent_headers.setdefault("Content-Type", content_type)
    async with aiohttp.ClientSession(base_url=target.service.http_url) as http:
        async with http.request(method, path, data=body, headers=sent_headers) as reply:
            raw = await reply.read()
    try:
        return reply.status, json.loads(raw)
    except ValueError:
        return reply.status, raw.decode("utf-8", "replace")


def refused(answer: tuple[int, Any], error_id: str = "invalid-characters") -> bool:
    status, body = answer
    return (
        status == 400
        and isinstance(body, dict)
        and body.get("error_id") == error_id
        and bool(body.get("message"))
    )


def form_bytes(fields: dict[str, str]) -> bytes:
    """A urlencoded form whose values may hold anything (aiohttp's own encoder refuses lone
    surrogates, a client need not)."""

    def enc(text: str) -> str:
        return quote(text.encode("utf-8", "surrogatepass"), safe="")

    return "&".join(f"{enc(k)}={enc(v)}" for k, v in fields.items()).encode()


FORM = "application/x-www-form-urlencoded"


async def test_given_hostile_text_in_each_json_write_when_sent_then_400_and_the_ticket_is_unchanged(
    target: Target,
) -> None:
    code = target.code
    before = await target.service.pool.fetchrow("SELECT * FROM tickets WHERE code = $1", code)
    answers = []
    for text in HOSTILE:
        for who, path, body in (
            (
                "op_lan",
                f"/api/v1/tickets/{code}/classify",
                {"category": "field_report", "description": text},
            ),
            ("op_lan", f"/api/v1/tickets/{code}/reopen", {"reason": text}),
            ("phuong_hc1", f"/api/v1/tickets/{code}/respond", {"response": text}),
            ("phuong_hc1", f"/api/v1/tickets/{code}/reassign-request", {"reason": text}),
            ("op_lan", f"/api/v1/tickets/{code}/classify", {text: "x", "category": "field_report"}),
        ):
            answers.append(
                (
                    path,
                    text,
                    await send(
                        target, "POST", path, body=json_bytes(body), headers=target.bearer(who)
                    ),
                )
            )
        answers.append(
            (
                "login",
                text,
                await send(
                    target,
                    "POST",
                    "/api/v1/auth/login",
                    body=json_bytes({"username": text, "password": text}),
                ),
            )
        )
    after = await target.service.pool.fetchrow("SELECT * FROM tickets WHERE code = $1", code)

    assert [a for a in answers if not refused(a[2])] == []
    assert after == before


async def test_given_hostile_text_in_each_form_when_posted_then_400_with_the_boundarys_answer(
    target: Target,
) -> None:
    answers = []
    for text in IN_FORMS:
        answers.append(
            await send(
                target,
                "POST",
                "/lookup",
                body=form_bytes({"code": text, "last4": "1234"}),
                content_type=FORM,
            )
        )
        answers.append(
            await send(
                target,
                "POST",
                "/login",
                body=form_bytes({"username": text, "password": "x", "csrf_token": "x"}),
                content_type=FORM,
            )
        )
    open311 = [
        await send(
            target,
            "POST",
            "/open311/v2/requests.json",
            body=form_bytes(
                {
                    "api_key": target.api_key,
                    "service_code": "flooding",
                    "address_string": "52 Bạch Đằng",
                    "description": text,
                }
            ),
            content_type=FORM,
        )
        for text in IN_FORMS
    ]

    assert [a for a in answers if not refused(a)] == []
    assert all(status == 400 for status, _ in open311), open311
    assert all(
        body[0]["code"] == 400 and "not allowed" in body[0]["description"] for _, body in open311
    )
    assert (
        await target.service.pool.fetchval("SELECT count(*) FROM tickets WHERE source = 'open311'")
        == 0
    )


async def test_given_file_names_with_control_characters_when_uploaded_then_400_and_no_file_is_kept(
    target: Target, tmp_path: Path
) -> None:
    answers = [await _upload(target, name) for name in ("ảnh\x00.png", "ảnh\x01.png", "\x1b.png")]

    assert [status for status, _ in answers] == [400, 400, 400], answers
    assert all(set(body) == {"error_id", "message"} for _, body in answers)
    assert list(tmp_path.glob("attachments/*")) == []


async def _upload(target: Target, filename: str) -> tuple[int, Any]:
    """A PNG sent as multipart with a raw file name (a client library would refuse it)."""
    boundary = "hotline-boundary"
    body = (
        (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + b"\x89PNG\r\n\x1a\n"
        + b"\x00" * 64
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return await send(
        target,
        "POST",
        f"/api/v1/tickets/{target.code}/attachments",
        body=body,
        headers=target.bearer("phuong_hc1"),
        content_type=f"multipart/form-data; boundary={boundary}",
    )


async def test_given_json_nested_past_sense_when_sent_then_400_not_a_server_error(
    target: Target,
) -> None:
    deep_list = b"[" * DEEP + b"]" * DEEP
    deep_object = json_bytes({"category": "field_report", "description": "x"} | {"x": _nested(40)})

    answers = [
        await send(
            target,
            "POST",
            f"/api/v1/tickets/{target.code}/classify",
            body=deep_list,
            headers=target.bearer("op_lan"),
        ),
        await send(target, "POST", "/api/v1/auth/login", body=deep_list),
        await send(
            target,
            "POST",
            f"/api/v1/tickets/{target.code}/classify",
            body=deep_object,
            headers=target.bearer("op_lan"),
        ),
    ]
    zalo = await send(
        target,
        "POST",
        "/notify/zalo/webhook",
        body=deep_list,
        headers={"X-ZEvent-Signature": "mac=00"},
    )

    assert [a for a in answers if not refused(a, "invalid-request")] == []
    assert zalo[0] == 401


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"x": value}
    return value


async def test_given_signatures_and_tokens_that_are_not_ascii_when_presented_then_401_or_403(
    target: Target,
) -> None:
    dlr = await send(target, "GET", "/notify/kannel/dlr?id=1&status=1&sig=%E1%BA%B1")
    brandname = await send(
        target, "GET", "/notify/brandname/dlr?id=1&status=delivered&sig=%E1%BA%B1"
    )
    zalo = await send(
        target,
        "POST",
        "/notify/zalo/webhook",
        body=b'{"timestamp": "1"}',
        headers={"X-ZEvent-Signature": "mac=ằ".encode().decode("latin-1")},
    )
    csrf = await send(
        target,
        "POST",
        f"/api/v1/tickets/{target.code}/classify",
        body=json_bytes({"category": "field_report"}),
        headers={
            "Cookie": f"hotline_session={target.session}",
            "X-CSRF-Token": "ằ".encode().decode("latin-1"),
        },
    )
    raw = [
        await _raw_status(target, b"Authorization: Bearer \xff\xfe\xed\xa0\x80"),
        await _raw_status(target, b"Cookie: hotline_session=\xff\xed\xa0\x80"),
    ]

    assert (dlr[0], brandname[0], zalo[0]) == (401, 401, 401)
    assert (csrf[0], csrf[1]["error_id"]) == (403, "csrf-token-invalid")
    assert raw == [401, 401]


async def _raw_status(target: Target, header: bytes) -> int:
    """A request with a header of raw bytes (no client library sends those)."""
    host, port = target.service.http_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"GET /api/v1/callbacks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + header + b"\r\n\r\n"
    )
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    await writer.wait_closed()
    return int(status_line.split()[1])


async def test_given_hostile_text_in_the_address_when_requested_then_400(target: Target) -> None:
    answers = [
        await send(target, "GET", "/api/v1/tickets?phone=%01", headers=target.bearer("op_lan")),
        await send(
            target, "GET", "/api/v1/tickets?phone=0901234567%00", headers=target.bearer("op_lan")
        ),
        await send(
            target, "GET", f"/api/v1/tickets/{target.code}%00", headers=target.bearer("op_lan")
        ),
        await send(target, "GET", "/api/v1/public/lookup?code=%1B&last4=1234"),
    ]

    assert [a for a in answers if not refused(a)] == []


# ---------------------------------------------------------------- fuzzing


@pytest.fixture
def fuzzed(database_url: str, tmp_path: Path) -> Iterator[tuple[LoopThread, Target]]:
    """The service in a loop of its own, so that synchronous Hypothesis examples can call it."""
    with LoopThread() as thread:
        stack = AsyncExitStack()

        async def start() -> Target:
            service = await stack.enter_async_context(
                running_service(service_settings(database_url, tmp_path, **SETTINGS))
            )
            return await target_of(service)

        yield thread, thread.run(start())
        thread.run(stack.aclose())


# Any character, with those no reader can carry drawn often.
TEXT = st.text(
    alphabet=st.characters(blacklist_categories=()) | st.sampled_from("".join(HOSTILE)),
    max_size=40,
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=12,
)
WRITES: tuple[tuple[str, str, dict[str, st.SearchStrategy[Any]]], ...] = (
    (
        "op_lan",
        "classify",
        {
            "category": st.sampled_from(["field_report", "information"]) | TEXT,
            "description": TEXT,
            "location": TEXT,
            "subcategory": st.none() | TEXT,
        },
    ),
    ("op_lan", "reopen", {"reason": TEXT}),
    ("phuong_hc1", "respond", {"response": TEXT}),
    ("phuong_hc1", "reassign-request", {"reason": TEXT}),
)


@fuzz_settings(short=80)
@given(
    write=st.sampled_from(WRITES).flatmap(
        lambda w: st.tuples(st.just(w[0]), st.just(w[1]), st.fixed_dictionaries(w[2]) | JSON)
    ),
    login=st.fixed_dictionaries({"username": TEXT, "password": TEXT}) | JSON,
    form=st.dictionaries(TEXT, TEXT, max_size=5),
)
def test_given_arbitrary_bodies_when_posted_to_the_write_routes_then_no_5xx_and_only_carriable_text_is_stored(
    fuzzed: tuple[LoopThread, Target], write: tuple[str, str, Any], login: Any, form: dict[str, str]
) -> None:
    thread, target = fuzzed
    who, action, body = write
    path = f"/api/v1/tickets/{target.code}/{action}"

    answers = [
        thread.run(send(target, "POST", path, body=json_bytes(body), headers=target.bearer(who))),
        thread.run(send(target, "POST", "/api/v1/auth/login", body=json_bytes(login))),
        thread.run(send(target, "POST", "/lookup", body=form_bytes(form), content_type=FORM)),
        thread.run(
            send(
                target,
                "POST",
                "/open311/v2/requests.json",
                body=form_bytes({"api_key": target.api_key, **form}),
                content_type=FORM,
            )
        ),
    ]
    texts = thread.run(
        target.service.pool.fetch(
            "SELECT description, location, response FROM tickets UNION ALL"
            " SELECT data::text, actor, kind FROM ticket_events"
        )
    )

    assert [status for status, _ in answers if status >= 500] == []
    for status, reply in answers[:2]:
        if status >= 400:
            assert isinstance(reply, dict)
            assert set(reply) == {"error_id", "message"}
    stored = [value for row in texts for value in row if value is not None]
    assert [value for value in stored if carriable(value) != value] == []


async def test_given_a_citizens_sms_with_control_characters_or_in_utf16_when_kannel_passes_it_on_then_it_is_taken(
    target: Target,
) -> None:
    """Kannel's MO query is read raw (a UTF-16BE text is full of NUL bytes) and what it decodes
    to is cleaned, never refused: a citizen's message is not lost."""
    secret = GATEWAYS["notify_callback_secret"]
    base = f"/notify/kannel/mo?secret={secret}&from=0905123471"

    control = await send(target, "GET", f"{base}&text=1%01%00&charset=UTF-8")
    utf16 = await send(target, "GET", f"{base}&text=%00%31&charset=UTF-16BE")

    assert (control[0], utf16[0]) == (200, 200)
