"""The endpoints the SMS gateway and Zalo call back: delivery reports and incoming messages
(MO). The outbox service itself is built by the composition root (``hotline.notifications``)."""

from __future__ import annotations

import logging
from urllib.parse import unquote_to_bytes

from aiohttp import web

from hotline.keys import NOTIFY, SETTINGS
from hotline.notifications import callback_secret
from hotline.web.errors import ApiError
from hotline.web.inputs import reads_raw_query
from hotline.web.openapi import describe
from notify.kannel import check_dlr_signature
from notify.zalo import check_webhook
from runtime.secrets_compare import same_secret
from tickets.codes import plain_int
from tickets.phone import normalize_phone
from tickets.text import carriable

logger = logging.getLogger(__name__)


def _raw_query(request: web.Request) -> dict[str, bytes]:
    """Kannel URL-encodes each value; with ``mo-recode`` off the text is UTF-16BE bytes, so the
    query is decoded here by hand rather than as UTF-8."""
    values: dict[str, bytes] = {}
    for pair in request.query_string.split("&"):
        key, _, value = pair.partition("=")
        values[key] = unquote_to_bytes(value.replace("+", "%20"))
    return values


@describe(
    query={"id": {"type": "string"}, "sig": {"type": "string"}, "status": {"type": "string"}},
    produces="text/plain",
    responses={401: "not signed by us"},
)
async def kannel_dlr(request: web.Request) -> web.Response:
    query = request.query
    ident, sig, status = query.get("id", ""), query.get("sig", ""), query.get("status", "")
    if plain_int(ident) is None or plain_int(status) is None:
        raise ApiError(400, "bad-delivery-report", "id and status are required")
    if not check_dlr_signature(callback_secret(request.app[SETTINGS]), int(ident), sig):
        raise ApiError(401, "bad-signature", "the delivery report is not signed by us")
    known = await request.app[NOTIFY].delivery_report(int(ident), int(status))
    logger.info("notify: delivery report %s for %s (known: %s)", status, ident, known)
    return web.Response(text="ok")


@describe(
    query={"id": {"type": "string"}, "sig": {"type": "string"}, "status": {"type": "string"}},
    responses={401: "not signed by us"},
)
async def brandname_dlr(request: web.Request) -> web.Response:
    query = request.query
    ident, sig, status = query.get("id", ""), query.get("sig", ""), query.get("status", "")
    if plain_int(ident) is None or status not in ("delivered", "failed"):
        raise ApiError(400, "bad-delivery-report", "id and status (delivered|failed) required")
    if not check_dlr_signature(callback_secret(request.app[SETTINGS]), int(ident), sig):
        raise ApiError(401, "bad-signature", "the delivery report is not signed by us")
    await request.app[NOTIFY].delivery_report(int(ident), 1 if status == "delivered" else 2)
    return web.json_response({"ok": True})


@describe(
    query={
        "secret": {"type": "string"},
        "from": {"type": "string"},
        "text": {"type": "string"},
        "charset": {"type": "string"},
    },
    produces="text/plain",
    responses={401: "unknown sender"},
)
@reads_raw_query
async def kannel_mo(request: web.Request) -> web.Response:
    query = _raw_query(request)
    secret = callback_secret(request.app[SETTINGS]).encode()
    if not same_secret(query.get("secret", b""), secret):
        raise ApiError(401, "bad-signature", "unknown sender of incoming messages")
    charset = query.get("charset", b"UTF-8").decode("ascii", "replace").upper()
    raw = query.get("text", b"")
    # a citizen's words are kept whatever they hold: what a reader cannot carry is replaced
    text = carriable(
        raw.decode("utf-16-be" if charset in ("UTF-16BE", "UCS-2") else "utf-8", "replace")
    )
    phone = normalize_phone(query.get("from", b"").decode("ascii", "replace"))
    if phone is None:
        raise ApiError(400, "bad-number", "the sender's number is not usable")
    answer = await request.app[NOTIFY].reply(phone, text)
    logger.info("notify: incoming message read as %s", answer.value)
    # Kannel's sms-service has max-messages = 0: this body is not sent back to the citizen.
    return web.Response(text="")


@describe(body={"type": "object"}, responses={401: "bad signature"})
async def zalo_webhook(request: web.Request) -> web.Response:
    """ZNS delivery (``user_received_message`` with ``delivery_time``); other OA events are
    acknowledged and ignored. A bad signature changes nothing."""
    settings = request.app[SETTINGS]
    assert settings.zalo_app_id is not None
    assert settings.zalo_oa_secret is not None
    body = await request.read()
    event = check_webhook(
        request.headers.get("X-ZEvent-Signature", ""),
        settings.zalo_app_id,
        body,
        settings.zalo_oa_secret.get_secret_value(),
    )
    if event is None:
        raise ApiError(401, "bad-signature", "the event is not signed by Zalo")
    message = event.get("message")
    if (
        event.get("event_name") == "user_received_message"
        and isinstance(message, dict)
        and message.get("delivery_time") is not None
        and message.get("msg_id")
    ):
        known = await request.app[NOTIFY].zalo_delivered(str(message["msg_id"]))
        logger.info("notify: ZNS delivered (known: %s)", known)
    return web.json_response({"error": 0})


def add_routes(app: web.Application, *, zalo: bool) -> None:
    """The gateway's callbacks (only when an SMS gateway is configured)."""
    app.router.add_get("/notify/kannel/dlr", kannel_dlr)
    app.router.add_get("/notify/kannel/mo", kannel_mo)
    app.router.add_get("/notify/brandname/dlr", brandname_dlr)
    if zalo:
        app.router.add_post("/notify/zalo/webhook", zalo_webhook)
