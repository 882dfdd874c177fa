"""SMS through Kannel's smsbox ``sendsms`` HTTP interface, with a delivery-report URL that
points back at us (our notification id plus a signature Kannel cannot forge)."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from notify.service import SendResult, SmsMessage, Verdict
from notify.templates import Coding
from runtime.secrets_compare import same_secret

DLR_MASK = 1 | 2 | 8 | 16  # delivered, undelivered, SMSC ACK, SMSC NACK


def gateway_number(e164: str) -> str:
    """``+84912345678`` → ``84912345678``: what Vietnamese SMS routes expect."""
    return e164.removeprefix("+")


def dlr_signature(secret: str, notification_id: int) -> str:
    mac = hmac.new(secret.encode(), f"dlr:{notification_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def check_dlr_signature(secret: str, notification_id: int, signature: str) -> bool:
    return same_secret(dlr_signature(secret, notification_id), signature)


class KannelSmsGateway:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        sendsms_url: str,
        username: str,
        password: str,
        callback_url: str,
        callback_secret: str,
        sender: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._session = session
        self._url = sendsms_url
        self._username = username
        self._password = password
        self._callback = callback_url.rstrip("/")
        self._secret = callback_secret
        self._sender = sender
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    def dlr_url(self, notification_id: int) -> str:
        sig = dlr_signature(self._secret, notification_id)
        # %d is Kannel's escape for the report type
        return f"{self._callback}/notify/kannel/dlr?id={notification_id}&sig={sig}&status=%d"

    async def send_sms(self, message: SmsMessage) -> SendResult:
        if not message.body.text.strip():
            return SendResult(Verdict.GIVE_UP, error="empty text")  # Kannel would send it
        params = {
            "username": self._username,
            "password": self._password,
            "to": gateway_number(message.phone),
            "text": message.body.text,
            "charset": "UTF-8",
            "coding": "0" if message.body.coding is Coding.GSM7 else "2",
            "dlr-mask": str(DLR_MASK),
            "dlr-url": self.dlr_url(message.notification_id),
        }
        if self._sender:
            params["from"] = self._sender
        url = URL(f"{self._url}?{urlencode(params, quote_via=quote)}", encoded=True)
        try:
            async with self._session.get(url, timeout=self._timeout) as response:
                body = (await response.text()).strip()
        except (TimeoutError, aiohttp.ClientError) as err:
            return SendResult(Verdict.RETRY, error=f"kannel unreachable: {type(err).__name__}")
        if response.status == 202 or (response.status == 200 and body.startswith(("0:", "3:"))):
            return SendResult(Verdict.SENT)
        error = f"kannel {response.status}: {body[:200]}"
        if response.status == 400:
            return SendResult(Verdict.GIVE_UP, error=error)
        return SendResult(Verdict.RETRY, error=error)
