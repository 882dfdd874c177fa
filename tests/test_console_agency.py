"""The agency inbox against the real service: in Chromium an agency user sees its tickets
(overdue first, the caller's number masked), accepts one and answers it with a PNG attached;
another agency's ticket stays invisible. Over the API: masking, ordering, the agency taken from
the account, attachments refused when too big or not a PDF/JPEG/PNG, a path in the file name
ignored, and the request to reassign reaching the supervisors' live socket."""

from __future__ import annotations

import asyncio
import json
import struct
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from playwright.async_api import FilePayload, expect

from db.backoffice import PostgresBackofficeStore
from db.province import load_province
from db.users import PostgresUserRepository
from hotline.auth import AuthService, TokenKind
from hotline.web.live import SOCKETS
from tests.support.browser import (
    PASSWORD,
    add_user,
    chromium,
    log_in,
    new_page,
    screenshot,
    script_errors,
)
from tests.support.browser import PHONE as PHONE_SCREEN
from tests.support.service import RunningService
from tests.support.websocket import LiveEvents
from tickets.agencies import load_province as read_province
from tickets.attachments import MAX_ATTACHMENT_BYTES, display_name
from tickets.model import Category, Role, User
from tickets.service import BackofficeService

WARD = "UBND-P-HC1"
DRAINAGE = "CT-THOATNUOC"
PHONE = "+84901234567"
PHONE_FORMS = ("+84901234567", "0901234567", "901234567", "84901234567")
OPERATOR = User(0, "op_lan", Role.OPERATOR, None)


def png_bytes() -> bytes:
    """A real 1×1 PNG."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@dataclass
class Desk:
    service: RunningService
    backoffice: BackofficeService
    counter: int = 0

    async def ticket(
        self,
        agency: str,
        *,
        description: str,
        overdue: bool = False,
        phone: str = PHONE,
        created_ago: timedelta = timedelta(hours=1),
    ) -> str:
        """A 1022 ticket classified and forwarded to ``agency`` (its deadline moved into the
        past when ``overdue``)."""
        self.counter += 1
        code = f"1022-26-{self.counter:06d}"
        pool = self.service.pool
        ticket_id = await pool.fetchval(
            "INSERT INTO tickets (code, line, category, status, caller_phone, caller_raw,"
            " created_at, updated_at) VALUES ($1, '1022', 'unclassified', 'new', $2, $3,"
            " now() - $4::interval, now() - $4::interval) RETURNING id",
            code,
            phone,
            phone.removeprefix("+"),
            created_ago,
        )
        await self.backoffice.classify(
            OPERATOR,
            ticket_id,
            Category.FIELD_REPORT,
            "roads",
            "DN-HC-HC1",
            description=description,
        )
        await self.backoffice.forward(OPERATOR, ticket_id, agency)
        if overdue:
            await pool.execute(
                "UPDATE tickets SET deadline_at = now() - interval '2 days' WHERE id = $1",
                ticket_id,
            )
        return code


@pytest.fixture
async def desk(service: RunningService) -> Desk:
    async with service.pool.acquire() as conn:
        await load_province(conn, read_province())
    await add_user(service, "phuong_hc1", Role.AGENCY, WARD)
    await add_user(service, "thoat_nuoc", Role.AGENCY, DRAINAGE)
    await add_user(service, "sup_mai", Role.SUPERVISOR)
    await add_user(service, "op_lan", Role.OPERATOR)
    return Desk(service, BackofficeService(PostgresBackofficeStore(service.pool)))


class Api:
    def __init__(self, http: aiohttp.ClientSession, service: RunningService) -> None:
        self.http = http
        self.auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
        self.tokens: dict[str, str] = {}

    async def headers(self, who: str) -> dict[str, str]:
        if who not in self.tokens:
            token = (await self.auth.login(who, PASSWORD)).token
            assert token is not None
            self.tokens[who] = token
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def get(self, who: str, path: str) -> tuple[int, str]:
        async with self.http.get(path, headers=await self.headers(who)) as reply:
            return reply.status, await reply.text()

    async def post(self, who: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        async with self.http.post(path, json=body, headers=await self.headers(who)) as reply:
            return reply.status, await reply.json()

    async def upload(
        self, who: str, code: str, content: bytes, filename: str, content_type: str
    ) -> tuple[int, Any]:
        form = aiohttp.FormData()
        form.add_field("file", content, filename=filename, content_type=content_type)
        async with self.http.post(
            f"/api/v1/tickets/{code}/attachments", data=form, headers=await self.headers(who)
        ) as reply:
            return reply.status, await reply.json()


@pytest.fixture
async def api(service: RunningService) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        yield Api(http, service)


def attachment_files(service: RunningService) -> list[Path]:
    root = service.settings.data_dir / "attachments"
    return sorted(p for p in root.iterdir()) if root.exists() else []


# ---------------------------------------------------------------- browser


async def test_given_an_agency_user_on_a_phone_when_the_inbox_opens_then_only_the_table_scrolls_sideways(
    service: RunningService, desk: Desk
) -> None:
    await desk.ticket(WARD, description="Ổ gà lớn trước số 12 Trần Phú")
    async with chromium() as browser:
        page = await new_page(browser, viewport=PHONE_SCREEN)
        await log_in(page, service.http_url, "phuong_hc1", path="/agency")
        await page.wait_for_selector("#inbox-rows tr[data-code]")
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        table = await page.evaluate("() => document.querySelector('.table-wrap').scrollWidth")
        await screenshot(page, "agency-inbox-phone")
        assert script_errors(page) == []
    assert width <= PHONE_SCREEN["width"]  # the page is 747 px wide when the grid lets it
    assert table > PHONE_SCREEN["width"]  # the table itself is wider: it scrolls in its box


async def test_given_an_agency_user_when_it_accepts_and_answers_with_a_png_then_the_file_is_stored_and_the_ticket_answered(
    service: RunningService, desk: Desk, api: Api
) -> None:
    recent = await desk.ticket(
        WARD, description="Ổ gà lớn trước số 12 Trần Phú", created_ago=timedelta(minutes=5)
    )
    late = await desk.ticket(
        WARD, description="Vỉa hè bị lấn chiếm", overdue=True, created_ago=timedelta(days=9)
    )
    foreign = await desk.ticket(DRAINAGE, description="Cống bị tắc ở Bạch Đằng")

    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "phuong_hc1", path="/agency")
        await page.wait_for_selector("#inbox-rows tr[data-code]")
        codes = await page.locator("#inbox-rows tr[data-code]").evaluate_all(
            "rows => rows.map(r => [r.dataset.code, r.classList.contains('overdue')])"
        )
        await page.click(f"#inbox-rows tr[data-code='{recent}']")
        await page.wait_for_selector("#accept")
        masked = await page.text_content("[data-testid=caller-phone]")
        await page.click("#accept")
        await page.wait_for_selector(f"#inbox-rows tr[data-code='{recent}'] [data-status=accepted]")
        await page.wait_for_selector("#respond-form")
        await page.fill("#respond-text", "Đã vá ổ gà ngày 20/11, mời bà con kiểm tra.")
        await page.set_input_files(
            "#respond-file",
            files=FilePayload(name="anh-hien-truong.png", mimeType="image/png", buffer=png_bytes()),
        )
        await page.click("#respond-send")
        await page.wait_for_selector("[data-testid=response]")
        await page.wait_for_selector("#timeline li[data-kind=attachment_added]")
        links = await page.locator(".files a").all_text_contents()
        html = await page.content()
        await screenshot(page, "agency-inbox")
        # a colleague accepts the late one first: the page says why it cannot, in Vietnamese
        await page.click(f"#inbox-rows tr[data-code='{late}']")
        await page.wait_for_selector("#accept")
        assert (await api.post("phuong_hc1", f"/api/v1/tickets/{late}/accept", {}))[0] == 200
        await page.click("#accept")
        await expect(page.locator("#toast")).to_have_text(
            "Có lỗi xảy ra: Phản ánh đã ở trạng thái khác, không làm được việc này nữa."
            " Tải lại trang để xem trạng thái hiện tại."
        )
        errors = script_errors(page)

    assert codes == [[late, True], [recent, False]]
    assert foreign not in html
    assert masked == "090****567"
    assert not any(form in html for form in PHONE_FORMS)
    assert links == ["anh-hien-truong.png"]
    row = await service.pool.fetchrow(
        "SELECT t.status, t.response, a.stored_name, a.content_type, a.size, a.uploaded_by"
        " FROM tickets t JOIN ticket_attachments a ON a.ticket_id = t.id WHERE t.code = $1",
        recent,
    )
    assert row["status"] == "responded"
    assert row["response"] == "Đã vá ổ gà ngày 20/11, mời bà con kiểm tra."
    assert (row["content_type"], row["size"], row["uploaded_by"]) == (
        "image/png",
        len(png_bytes()),
        "phuong_hc1",
    )
    stored = service.settings.data_dir / "attachments" / row["stored_name"]
    assert stored.read_bytes() == png_bytes()
    kinds = await service.pool.fetch(
        "SELECT e.kind FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
        " WHERE t.code = $1 ORDER BY e.at, e.id",
        recent,
    )
    assert [k["kind"] for k in kinds][-3:] == ["accept", "attachment_added", "respond"]
    assert errors == []


async def test_given_another_agencys_ticket_when_an_agency_user_opens_it_then_it_is_not_found(
    service: RunningService, desk: Desk, api: Api
) -> None:
    foreign = await desk.ticket(DRAINAGE, description="Cống bị tắc ở Bạch Đằng")

    detail = await api.get("phuong_hc1", f"/api/v1/tickets/{foreign}")
    listed = await api.get("phuong_hc1", f"/api/v1/tickets/{foreign}/attachments")
    upload = await api.upload("phuong_hc1", foreign, png_bytes(), "a.png", "image/png")
    accept = await api.post("phuong_hc1", f"/api/v1/tickets/{foreign}/accept", {})
    inbox = await api.get("phuong_hc1", f"/api/v1/agency/tickets?agency={DRAINAGE}")

    assert detail[0] == 404
    assert listed[0] == 404
    assert upload[0] == 404
    assert accept[0] == 404
    assert inbox[0] == 200
    body = json.loads(inbox[1])
    assert body["agency"] == WARD  # the account's agency, whatever the query says
    assert body["items"] == []
    assert attachment_files(service) == []


# ---------------------------------------------------------------- inbox API


async def test_given_tickets_of_an_agency_when_its_user_lists_them_then_the_number_is_masked_and_overdue_come_first(
    desk: Desk, api: Api
) -> None:
    answered = await desk.ticket(WARD, description="Đã xử lý", overdue=True)
    await desk.backoffice.respond(
        User(0, "phuong_hc1", Role.AGENCY, WARD),
        int(await desk.service.pool.fetchval("SELECT id FROM tickets WHERE code = $1", answered)),
        "Đã xử lý xong",
    )
    await desk.service.pool.execute(
        "UPDATE tickets SET deadline_at = now() - interval '5 days' WHERE code = $1", answered
    )
    newest = await desk.ticket(WARD, description="Mới", created_ago=timedelta(minutes=1))
    late = await desk.ticket(WARD, description="Trễ hạn", overdue=True)

    status, text = await api.get("phuong_hc1", "/api/v1/agency/tickets?status=all")
    sup_status, sup_text = await api.get("sup_mai", f"/api/v1/agency/tickets?agency={WARD}")
    no_agency = await api.get("sup_mai", "/api/v1/agency/tickets")
    operator = await api.get("op_lan", f"/api/v1/agency/tickets?agency={WARD}")
    paged = json.loads((await api.get("phuong_hc1", "/api/v1/agency/tickets?limit=1&offset=1"))[1])
    bad_limit = await api.get("phuong_hc1", "/api/v1/agency/tickets?limit=0")
    bad_status = await api.get("phuong_hc1", "/api/v1/agency/tickets?status=lost")

    assert status == 200
    body = json.loads(text)
    # the overdue one before the answered one, whose deadline is earlier but which is answered
    assert [i["code"] for i in body["items"]] == [late, answered, newest]
    assert [i["overdue"] for i in body["items"]] == [True, False, False]
    assert body["total"] == 3
    assert {i["caller_phone"] for i in body["items"]} == {"090****567"}
    assert not any(form in text for form in PHONE_FORMS)
    assert body["items"][0]["summary"] == "Trễ hạn"
    assert body["items"][0]["locality_name"]["vi"] == "Phường Hải Châu 1"
    assert sup_status == 200
    assert {i["caller_phone"] for i in json.loads(sup_text)["items"]} == {PHONE}
    assert no_agency[0] == 400
    assert json.loads(no_agency[1])["error_id"] == "invalid-request"
    assert operator[0] == 403
    assert (paged["limit"], paged["offset"], paged["total"], len(paged["items"])) == (1, 1, 3, 1)
    assert bad_limit[0] == 400
    assert bad_status[0] == 400


async def test_given_an_agency_user_when_it_opens_the_inbox_page_then_no_full_number_is_in_the_html(
    service: RunningService, desk: Desk
) -> None:
    await desk.ticket(WARD, description="Đèn đường hỏng")
    auth = AuthService(PostgresUserRepository(service.pool), token_ttl=timedelta(hours=1))
    session = (await auth.login("phuong_hc1", PASSWORD, TokenKind.SESSION)).token
    async with aiohttp.ClientSession(base_url=service.http_url) as http:
        async with http.get("/agency", headers={"Cookie": f"hotline_session={session}"}) as reply:
            status, html = reply.status, await reply.text()

    assert status == 200
    assert '"agency": "UBND-P-HC1"' in html
    assert not any(form in html for form in PHONE_FORMS)


# ---------------------------------------------------------------- attachments API


async def test_given_a_file_over_10_mb_when_uploaded_then_413_and_nothing_is_kept(
    service: RunningService, desk: Desk, api: Api
) -> None:
    code = await desk.ticket(WARD, description="Ảnh lớn")
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_ATTACHMENT_BYTES - 7)

    status, body = await api.upload("phuong_hc1", code, big, "lon.png", "image/png")

    assert status == 413
    assert body["error_id"] == "attachment-too-large"
    assert attachment_files(service) == []
    assert await service.pool.fetchval("SELECT count(*) FROM ticket_attachments") == 0


async def test_given_a_text_file_named_png_when_uploaded_then_415_whatever_its_declared_type(
    service: RunningService, desk: Desk, api: Api
) -> None:
    code = await desk.ticket(WARD, description="Tệp giả")

    disguised = await api.upload(
        "phuong_hc1", code, b"<script>alert(1)</script>", "anh.png", "image/png"
    )
    empty = await api.upload("phuong_hc1", code, b"", "rong.pdf", "application/pdf")

    assert disguised[0] == 415
    assert disguised[1]["error_id"] == "unsupported-attachment"
    assert empty[0] == 415
    assert attachment_files(service) == []


async def test_given_a_path_in_the_file_name_when_uploaded_then_only_the_base_name_is_shown_and_the_file_stays_in_the_attachments_folder(
    service: RunningService, desk: Desk, api: Api
) -> None:
    code = await desk.ticket(WARD, description="Tên tệp lạ")
    pdf = b"%PDF-1.4\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n"

    # written by hand: aiohttp's client would percent-encode the slashes
    body = (
        b"--b0undary\r\n"
        b'Content-Disposition: form-data; name="file";'
        b' filename="../../../../tmp/bao-cao.pdf"\r\n'
        b"Content-Type: text/plain\r\n\r\n" + pdf + b"\r\n--b0undary--\r\n"
    )
    async with api.http.post(
        f"/api/v1/tickets/{code}/attachments",
        data=body,
        headers={
            **await api.headers("phuong_hc1"),
            "Content-Type": "multipart/form-data; boundary=b0undary",
        },
    ) as reply:
        status, created = reply.status, await reply.json()
    async with api.http.get(created["url"], headers=await api.headers("phuong_hc1")) as reply:
        downloaded, headers = await reply.read(), reply.headers
    foreign = await api.get("thoat_nuoc", created["url"])
    supervisor = await api.get("sup_mai", created["url"])
    missing = await api.get("phuong_hc1", f"/api/v1/tickets/{code}/attachments/999")

    assert status == 201
    assert created["filename"] == "bao-cao.pdf"
    assert created["content_type"] == "application/pdf"  # by content, not the declared type
    files = attachment_files(service)
    assert len(files) == 1
    assert files[0].parent == service.settings.data_dir / "attachments"
    assert len(files[0].name) == 32
    assert not [p for p in service.settings.data_dir.rglob("bao-cao.pdf")]
    assert not Path("/tmp/bao-cao.pdf").exists()  # noqa: S108 (where the name pointed)
    assert downloaded == pdf
    assert headers["Content-Type"] == "application/pdf"
    assert "bao-cao.pdf" in headers["Content-Disposition"]
    assert foreign[0] == 404
    assert supervisor[0] == 200
    assert missing[0] == 404


async def test_given_a_closed_ticket_or_an_operator_when_a_file_is_attached_then_it_is_refused(
    desk: Desk, api: Api
) -> None:
    code = await desk.ticket(WARD, description="Đã đóng")
    await desk.service.pool.execute("UPDATE tickets SET status = 'closed' WHERE code = $1", code)

    closed = await api.upload("phuong_hc1", code, png_bytes(), "a.png", "image/png")
    operator = await api.upload("op_lan", code, png_bytes(), "a.png", "image/png")
    not_multipart = await api.post("sup_mai", f"/api/v1/tickets/{code}/attachments", {})

    assert closed[0] == 409
    assert operator[0] == 403
    assert not_multipart[0] in (400, 409)


# ---------------------------------------------------------------- reassignment request


async def test_given_a_ticket_for_the_wrong_agency_when_it_asks_to_reassign_then_the_timeline_and_the_supervisors_are_told(
    service: RunningService, desk: Desk, api: Api
) -> None:
    code = await desk.ticket(WARD, description="Việc của công ty thoát nước")
    headers = await api.headers("sup_mai")
    async with api.http.ws_connect("/api/v1/events?topics=tickets", headers=headers) as ws:
        events = LiveEvents(ws)
        async with asyncio.timeout(5):
            hello = await events.next()
        status, body = await api.post(
            "phuong_hc1",
            f"/api/v1/tickets/{code}/reassign-request",
            {"reason": "Thuộc thẩm quyền Công ty Thoát nước"},
        )
        async with asyncio.timeout(5):
            event = await events.next()
    empty = await api.post(
        "phuong_hc1", f"/api/v1/tickets/{code}/reassign-request", {"reason": " "}
    )
    supervisor = await api.post(
        "sup_mai", f"/api/v1/tickets/{code}/reassign-request", {"reason": "x"}
    )
    reassigned = await api.post(
        "sup_mai",
        f"/api/v1/tickets/{code}/reassign",
        {"agency": DRAINAGE, "reason": "theo đề nghị"},
    )
    gone = await api.post("phuong_hc1", f"/api/v1/tickets/{code}/reassign-request", {"reason": "x"})
    _, timeline = await api.get("sup_mai", f"/api/v1/tickets/{code}/timeline")

    assert hello["kind"] == "hello"
    assert status == 202
    assert body == {"code": code, "reassign_requested": True}
    assert (event["topic"], event["kind"]) == ("tickets", "reassign_requested")
    assert event["data"]["code"] == code
    assert event["data"]["agency"] == WARD
    assert event["data"]["reason"] == "Thuộc thẩm quyền Công ty Thoát nước"
    assert empty[0] == 400
    assert supervisor[0] == 403
    assert reassigned[0] == 200
    assert gone[0] == 404  # no longer this agency's ticket
    kinds = [e["kind"] for e in json.loads(timeline)["events"]]
    assert kinds[-2:] == ["reassign_requested", "reassign"]


async def test_given_a_lost_connection_when_the_inbox_reconnects_then_it_reloads(
    service: RunningService, desk: Desk
) -> None:
    """A ticket forwarded while the socket was down is there after the reconnection, without
    a manual refresh."""
    await desk.ticket(WARD, description="Trước khi mất kết nối")
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "phuong_hc1", path="/agency")
        await page.wait_for_selector("#inbox-rows tr[data-code]")
        later = await desk.ticket(WARD, description="Trong lúc mất kết nối")
        before = await page.locator(f"#inbox-rows tr[data-code='{later}']").count()
        await service.app[SOCKETS].close_all()
        await page.wait_for_selector("#live-status[data-state=reconnected]")
        await page.wait_for_selector(f"#inbox-rows tr[data-code='{later}']")
        errors = script_errors(page)
    assert before == 0
    assert errors == []


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("..\\..\\Windows\\bao-cao.pdf", "bao-cao.pdf"),
        ("/etc/passwd", "passwd"),
        (".htaccess", "htaccess"),
        ("ảnh\x00\x1b[31m.png", "ảnh[31m.png"),
        ("../", "tep-dinh-kem.png"),
        (None, "tep-dinh-kem.png"),
        ("a" * 300 + ".png", "a" * 116 + ".png"),
    ],
)
def test_given_a_client_file_name_when_cleaned_then_no_path_or_control_character_is_left(
    raw: str | None, shown: str
) -> None:
    assert display_name(raw, "image/png") == shown


async def test_given_a_supervisor_when_it_chooses_an_agency_then_it_sees_that_inbox_with_full_numbers(
    service: RunningService, desk: Desk
) -> None:
    code = await desk.ticket(WARD, description="Cây đổ chắn đường")
    async with chromium() as browser:
        page = await new_page(browser)
        await log_in(page, service.http_url, "sup_mai", path="/agency")
        await page.select_option("#agency-select", WARD)
        await page.wait_for_url(lambda url: url.endswith(f"agency={WARD}"))
        await page.click(f"#inbox-rows tr[data-code='{code}']")
        await page.wait_for_selector("[data-testid=caller-phone]")
        phone = await page.text_content("[data-testid=caller-phone]")
        reassign_form = await page.locator("#reassign-form").count()
        errors = script_errors(page)

    assert phone == PHONE
    assert reassign_form == 0  # supervisors reassign themselves, they do not ask
    assert errors == []
