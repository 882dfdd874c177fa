"""Zalo ZNS: ``POST {api}/message/template`` with the OA access token in a header literally
named ``access_token``; HTTP 200 with a non-zero ``error`` is a failure. Token refresh (OAuth v4,
single-use refresh token) goes through the token store so that only one instance spends it.
The delivery webhook is signed: ``X-ZEvent-Signature`` = sha256(app_id + body + timestamp +
OA secret), hex, sometimes prefixed ``mac=``."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import aiohttp

from notify.service import Notification, Refresher, SendResult, Verdict, ZaloTokens
from notify.templates import Event, zns_data
from runtime.secrets_compare import same_secret

logger = logging.getLogger(__name__)

TOKEN_ERRORS = frozenset({-124, -216, -220})  # access token invalid / expired
FALLBACK_ERRORS = frozenset({-108, -114, -118, -119})  # not reachable on Zalo: use SMS
RETRY_ERRORS = frozenset({-100, -115, -133})  # unknown, out of quota, outside the time window


class ZaloError(Exception):
    """The OAuth server refused to refresh the token."""


class TokenStore(Protocol):
    async def current(self) -> ZaloTokens | None: ...

    async def rotate(self, stale_access_token: str, refresher: Refresher) -> ZaloTokens: ...


def verdict_for(error: int) -> Verdict:
    if error == 0:
        return Verdict.SENT
    if error in FALLBACK_ERRORS:
        return Verdict.FALLBACK
    if error in RETRY_ERRORS or error in TOKEN_ERRORS:
        return Verdict.RETRY
    return Verdict.GIVE_UP


def webhook_signature(app_id: str, body: bytes, timestamp: str, oa_secret: str) -> str:
    data = app_id.encode() + body + timestamp.encode() + oa_secret.encode()
    return hashlib.sha256(data).hexdigest()


def check_webhook(header: str, app_id: str, body: bytes, oa_secret: str) -> dict[str, Any] | None:
    """The event when the signature holds, else ``None``."""
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's limit
        return None
    if not isinstance(event, dict):
        return None
    expected = webhook_signature(app_id, body, str(event.get("timestamp", "")), oa_secret)
    given = header.strip().removeprefix("mac=")
    return event if same_secret(expected, given) else None


class ZaloZnsGateway:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        tokens: TokenStore,
        *,
        api_url: str,
        oauth_url: str,
        app_id: str,
        app_secret: str,
        templates: dict[str, str],
        timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._tokens = tokens
        self._api = api_url.rstrip("/")
        self._oauth = oauth_url
        self._app_id = app_id
        self._app_secret = app_secret
        self._templates = templates
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def _refresh(self, refresh_token: str) -> tuple[str, str, int]:
        form = {
            "app_id": self._app_id,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        }
        async with self._session.post(
            self._oauth, data=form, headers={"secret_key": self._app_secret}, timeout=self._timeout
        ) as response:
            body = await response.json(content_type=None)
        if response.status != 200 or "access_token" not in body:
            raise ZaloError(f"token refresh refused: {response.status} {body.get('error')}")
        logger.info("zalo: access token refreshed")
        return body["access_token"], body["refresh_token"], int(body.get("expires_in", 90000))

    async def _token(self) -> str:
        tokens = await self._tokens.current()
        if tokens is None:
            raise ZaloError("no Zalo tokens stored")
        if tokens.expires_at - timedelta(minutes=5) <= datetime.now(UTC):
            tokens = await self._tokens.rotate(tokens.access_token, self._refresh)
        return tokens.access_token

    async def _post(self, token: str, payload: dict[str, Any]) -> dict[str, Any]:
        async with self._session.post(
            f"{self._api}/message/template",
            json=payload,
            headers={"access_token": token},
            timeout=self._timeout,
        ) as response:
            if response.status >= 500:
                return {"error": -100, "message": f"HTTP {response.status}"}
            body = await response.json(content_type=None)
        return body if isinstance(body, dict) else {"error": -100, "message": "bad body"}

    async def send_zns(self, notification: Notification) -> SendResult:
        template_id = self._templates.get(notification.event.value)
        if template_id is None:
            return SendResult(Verdict.FALLBACK, error=f"no ZNS template for {notification.event}")
        payload = {
            "phone": notification.phone.removeprefix("+"),
            "template_id": template_id,
            "template_data": zns_data(Event(notification.event), notification.params),
            "tracking_id": str(notification.id),
        }
        try:
            token = await self._token()
            body = await self._post(token, payload)
            if int(body.get("error", -100)) in TOKEN_ERRORS:
                # expired or revoked early: refresh once (or pick up another instance's) and retry
                token = (await self._tokens.rotate(token, self._refresh)).access_token
                body = await self._post(token, payload)
        except (TimeoutError, aiohttp.ClientError, ZaloError, ValueError) as err:
            return SendResult(Verdict.RETRY, error=f"zalo: {type(err).__name__}: {err}")
        error = int(body.get("error", -100))
        verdict = verdict_for(error)
        if verdict is Verdict.SENT:
            data = body.get("data") or {}
            return SendResult(Verdict.SENT, provider_id=str(data.get("msg_id", "")) or None)
        return SendResult(verdict, error=f"zalo {error}: {body.get('message', '')}"[:300])
