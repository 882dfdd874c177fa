"""SMS through a generic HTTP brandname gateway: one JSON POST per message with an API key
header, our notification id as the idempotency key, and a signed delivery-callback URL.

Contract: ``POST {url}`` with ``X-API-Key``; body ``{"to": "849…", "text", "brandname",
"unicode", "request_id", "callback_url"}``; 200/202 with ``{"message_id"}`` is accepted, 409 is
a duplicate ``request_id`` (already accepted), 429 and 5xx are transient, other 4xx permanent.
The gateway reports with ``GET {callback_url}&status=delivered|failed``."""

from __future__ import annotations

from typing import Any

import aiohttp

from notify.kannel import dlr_signature, gateway_number
from notify.service import SendResult, SmsMessage, Verdict
from notify.templates import Coding


class BrandnameSmsGateway:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        url: str,
        api_key: str,
        brandname: str,
        callback_url: str,
        callback_secret: str,
        timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._url = url
        self._api_key = api_key
        self._brandname = brandname
        self._callback = callback_url.rstrip("/")
        self._secret = callback_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def callback_url(self, notification_id: int) -> str:
        sig = dlr_signature(self._secret, notification_id)
        return f"{self._callback}/notify/brandname/dlr?id={notification_id}&sig={sig}"

    async def send_sms(self, message: SmsMessage) -> SendResult:
        if not message.body.text.strip():
            return SendResult(Verdict.GIVE_UP, error="empty text")
        payload = {
            "to": gateway_number(message.phone),
            "text": message.body.text,
            "brandname": self._brandname,
            "unicode": message.body.coding is Coding.UCS2,
            "request_id": str(message.notification_id),
            "callback_url": self.callback_url(message.notification_id),
        }
        try:
            async with self._session.post(
                self._url, json=payload, headers={"X-API-Key": self._api_key}, timeout=self._timeout
            ) as response:
                text = await response.text()
                body: Any = await response.json(content_type=None) if text.strip() else {}
        except (TimeoutError, aiohttp.ClientError, ValueError) as err:
            return SendResult(Verdict.RETRY, error=f"brandname: {type(err).__name__}")
        ident = body.get("message_id") if isinstance(body, dict) else None
        if response.status in (200, 202, 409):
            return SendResult(Verdict.SENT, provider_id=None if ident is None else str(ident))
        error = f"brandname {response.status}: {text[:200]}"
        if response.status == 429 or response.status >= 500:
            return SendResult(Verdict.RETRY, error=error)
        return SendResult(Verdict.GIVE_UP, error=error)
