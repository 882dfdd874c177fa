"""Citizen notifications in the running service: the outbox worker (one ``cleanup_ctx`` entry)
and the endpoints the SMS gateway calls back: delivery reports and incoming messages (MO)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import unquote_to_bytes

import aiohttp
from aiohttp import web

from db.backoffice import PostgresBackofficeStore
from db.notify import PostgresOutbox, PostgresZaloTokens
from hotline.settings import Settings, SettingsError
from hotline.tasks import TaskManager
from hotline.web.errors import ApiError
from hotline.web.http import POOL
from hotline.web.openapi import describe
from notify.brandname import BrandnameSmsGateway
from notify.kannel import KannelSmsGateway, check_dlr_signature
from notify.policy import QuietHours, RetryPolicy
from notify.service import NotifyService, SmsGateway
from notify.zalo import ZaloZnsGateway, check_webhook
from tickets.codes import plain_int
from tickets.lifecycle import Closure
from tickets.model import Role, User
from tickets.phone import normalize_phone
from tickets.service import BackofficeService

logger = logging.getLogger(__name__)

NOTIFY = web.AppKey("notify", NotifyService)
NOTIFY_SETTINGS = web.AppKey("notify_settings", Settings)
# The citizen answering the survey by SMS, as the actor on the ticket's timeline.
CITIZEN_SMS = User(id=0, username="citizen:sms", role=Role.OPERATOR, agency_code=None)


def _secret(settings: Settings) -> str:
    assert settings.notify_callback_secret is not None
    return settings.notify_callback_secret.get_secret_value()


def _sms_gateway(session: aiohttp.ClientSession, settings: Settings) -> SmsGateway:
    if settings.sms_gateway == "brandname":
        assert settings.brandname_url is not None
        assert settings.brandname_api_key is not None
        return BrandnameSmsGateway(
            session,
            url=settings.brandname_url,
            api_key=settings.brandname_api_key.get_secret_value(),
            brandname=settings.brandname_sender,
            callback_url=settings.notify_callback_url,
            callback_secret=_secret(settings),
        )
    assert settings.kannel_password is not None
    return KannelSmsGateway(
        session,
        sendsms_url=settings.kannel_sendsms_url,
        username=settings.kannel_username,
        password=settings.kannel_password.get_secret_value(),
        callback_url=settings.notify_callback_url,
        callback_secret=_secret(settings),
        sender=settings.kannel_sender,
    )


async def notify_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[NOTIFY_SETTINGS]
    backoffice = BackofficeService(PostgresBackofficeStore(app[POOL]))

    async def close_ticket(ticket_id: int, closure: Closure) -> None:
        await backoffice.close(CITIZEN_SMS, ticket_id, closure)

    async with aiohttp.ClientSession() as session:
        zalo = None
        if settings.zalo_app_id is not None:
            assert settings.zalo_app_secret is not None
            assert settings.zalo_refresh_token is not None
            tokens = PostgresZaloTokens(app[POOL])
            await tokens.seed(settings.zalo_refresh_token.get_secret_value())
            zalo = ZaloZnsGateway(
                session,
                tokens,
                api_url=settings.zalo_api_url,
                oauth_url=settings.zalo_oauth_url,
                app_id=settings.zalo_app_id,
                app_secret=settings.zalo_app_secret.get_secret_value(),
                templates=settings.zalo_templates,
            )
        service = NotifyService(
            PostgresOutbox(app[POOL]),
            _sms_gateway(session, settings),
            close_ticket=close_ticket,
            zalo=zalo,
            retry=RetryPolicy(
                settings.notify_retry_base,
                settings.notify_retry_cap,
                settings.notify_max_attempts,
            ),
            quiet=QuietHours(settings.notify_quiet_start, settings.notify_quiet_end),
            lookup_url=settings.notify_lookup_url,
            unaccented_sms=settings.notify_unaccented_sms,
            poll_interval=settings.notify_poll_interval,
            lease=timedelta(seconds=60),
        )
        app[NOTIFY] = service
        stop = asyncio.Event()
        tasks = TaskManager()
        tasks.start(service.run(stop), name="notify-outbox")
        try:
            yield
        finally:
            stop.set()
            await tasks.close()


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
    if not check_dlr_signature(_secret(request.app[NOTIFY_SETTINGS]), int(ident), sig):
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
    if not check_dlr_signature(_secret(request.app[NOTIFY_SETTINGS]), int(ident), sig):
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
async def kannel_mo(request: web.Request) -> web.Response:
    query = _raw_query(request)
    secret = _secret(request.app[NOTIFY_SETTINGS]).encode()
    if not hmac.compare_digest(query.get("secret", b""), secret):
        raise ApiError(401, "bad-signature", "unknown sender of incoming messages")
    charset = query.get("charset", b"UTF-8").decode("ascii", "replace").upper()
    raw = query.get("text", b"")
    text = raw.decode("utf-16-be" if charset in ("UTF-16BE", "UCS-2") else "utf-8", "replace")
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
    settings = request.app[NOTIFY_SETTINGS]
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


def setup_notify(app: web.Application, settings: Settings) -> None:
    """Wire the outbox worker and the gateway's callbacks when an SMS gateway is configured."""
    if settings.sms_gateway == "none":
        logger.warning("notify: HOTLINE_SMS_GATEWAY is none: citizens get no messages")
        return
    if settings.notify_callback_secret is None:
        raise SettingsError("an SMS gateway needs HOTLINE_NOTIFY_CALLBACK_SECRET")
    if settings.sms_gateway == "kannel" and settings.kannel_password is None:
        raise SettingsError("sms_gateway kannel needs HOTLINE_KANNEL_PASSWORD")
    if settings.sms_gateway == "brandname" and (
        settings.brandname_url is None or settings.brandname_api_key is None
    ):
        raise SettingsError(
            "sms_gateway brandname needs brandname_url and HOTLINE_BRANDNAME_API_KEY"
        )
    if settings.zalo_app_id is not None and None in (
        settings.zalo_app_secret,
        settings.zalo_oa_secret,
        settings.zalo_refresh_token,
    ):
        raise SettingsError(
            "zalo_app_id needs HOTLINE_ZALO_APP_SECRET, HOTLINE_ZALO_OA_SECRET and "
            "HOTLINE_ZALO_REFRESH_TOKEN"
        )
    app[NOTIFY_SETTINGS] = settings
    app.cleanup_ctx.append(notify_ctx)
    app.router.add_get("/notify/kannel/dlr", kannel_dlr)
    app.router.add_get("/notify/kannel/mo", kannel_mo)
    app.router.add_get("/notify/brandname/dlr", brandname_dlr)
    if settings.zalo_app_id is not None:
        app.router.add_post("/notify/zalo/webhook", zalo_webhook)
