"""Citizen notifications: the gateways the settings choose (checked before anything connects)
and the outbox service built on them; ``hotline.app`` runs its worker, ``hotline.web.notify``
takes the gateways' callbacks."""

from __future__ import annotations

import logging
from datetime import timedelta

import aiohttp

from db.notify import PostgresOutbox, PostgresZaloTokens
from db.pool import Pool
from hotline.settings import Settings, SettingsError
from notify.brandname import BrandnameSmsGateway
from notify.kannel import KannelSmsGateway
from notify.policy import QuietHours, RetryPolicy
from notify.service import Clock, NotifyService, SmsGateway, TicketCloser
from notify.zalo import ZaloZnsGateway
from runtime.metrics import Metrics
from tickets.model import Role, User

logger = logging.getLogger(__name__)

# The citizen answering the survey by SMS, as the actor on the ticket's timeline.
CITIZEN_SMS = User(id=0, username="citizen:sms", role=Role.OPERATOR, agency_code=None)
OUTBOX_LEASE = timedelta(seconds=60)


def check_notify_settings(settings: Settings) -> bool:
    """Whether citizens get messages; a gateway without what it needs is refused here."""
    if settings.sms_gateway == "none":
        logger.warning("notify: HOTLINE_SMS_GATEWAY is none: citizens get no messages")
        return False
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
    return True


def callback_secret(settings: Settings) -> str:
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
            callback_secret=callback_secret(settings),
        )
    assert settings.kannel_password is not None
    return KannelSmsGateway(
        session,
        sendsms_url=settings.kannel_sendsms_url,
        username=settings.kannel_username,
        password=settings.kannel_password.get_secret_value(),
        callback_url=settings.notify_callback_url,
        callback_secret=callback_secret(settings),
        sender=settings.kannel_sender,
    )


async def _zalo(
    session: aiohttp.ClientSession, settings: Settings, pool: Pool
) -> ZaloZnsGateway | None:
    if settings.zalo_app_id is None:
        return None
    assert settings.zalo_app_secret is not None
    assert settings.zalo_refresh_token is not None
    tokens = PostgresZaloTokens(pool)
    await tokens.seed(settings.zalo_refresh_token.get_secret_value())
    return ZaloZnsGateway(
        session,
        tokens,
        api_url=settings.zalo_api_url,
        oauth_url=settings.zalo_oauth_url,
        app_id=settings.zalo_app_id,
        app_secret=settings.zalo_app_secret.get_secret_value(),
        templates=settings.zalo_templates,
    )


async def notify_service(
    session: aiohttp.ClientSession,
    settings: Settings,
    pool: Pool,
    close_ticket: TicketCloser,
    metrics: Metrics,
    clock: Clock,
) -> NotifyService:
    """The outbox service with the gateways of the settings (Zalo ZNS first when configured)."""
    return NotifyService(
        PostgresOutbox(pool),
        _sms_gateway(session, settings),
        close_ticket=close_ticket,
        zalo=await _zalo(session, settings, pool),
        retry=RetryPolicy(
            settings.notify_retry_base,
            settings.notify_retry_cap,
            settings.notify_max_attempts,
        ),
        quiet=QuietHours(settings.notify_quiet_start, settings.notify_quiet_end),
        lookup_url=settings.notify_lookup_url,
        unaccented_sms=settings.notify_unaccented_sms,
        poll_interval=settings.notify_poll_interval,
        lease=OUTBOX_LEASE,
        metrics=metrics,
        clock=clock,
    )
