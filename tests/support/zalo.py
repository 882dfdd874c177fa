"""A Zalo OA / ZNS server on a loopback port 0 implementing the documented contract: OAuth v4
refresh with a single-use rotating refresh token, ``POST /message/template`` answering HTTP 200
with ``error`` codes, and the signing of the webhook events it would post to us."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aiohttp import web

APP_ID = "1234567890"
APP_SECRET = "zalo-app-secret"
OA_SECRET = "zalo-oa-secret"
FIRST_REFRESH_TOKEN = "refresh-0"


class FakeZalo:
    def __init__(self, templates: set[str]) -> None:
        self.templates = templates
        self.access_token: str | None = None
        self.refresh_token = FIRST_REFRESH_TOKEN
        self.refreshes = 0
        self.reused_refresh_tokens: list[str] = []
        self.no_zalo_account: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.rejected: list[tuple[int, dict[str, Any]]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def expire_access_token(self) -> None:
        """The access token stops working before its announced lifetime is over."""
        self.access_token = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v4/oa/access_token", self._token)
        app.router.add_post("/message/template", self._template)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if request.headers.get("secret_key") != APP_SECRET or form.get("app_id") != APP_ID:
            return web.json_response({"error": -14002, "error_name": "Invalid app"})
        given = str(form.get("refresh_token", ""))
        if form.get("grant_type") != "refresh_token" or given != self.refresh_token:
            self.reused_refresh_tokens.append(given)
            return web.json_response(
                {"error": -14020, "error_name": "Invalid refresh token", "error_description": ""}
            )
        self.refreshes += 1
        self.access_token = f"access-{self.refreshes}"
        self.refresh_token = f"refresh-{self.refreshes}"
        return web.json_response(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_in": "90000",
            }
        )

    async def _template(self, request: web.Request) -> web.Response:
        body = await request.json()
        error = 0
        if self.access_token is None or request.headers.get("access_token") != self.access_token:
            error = -124
        elif not re.fullmatch(r"84\d{9}", str(body.get("phone", ""))):
            error = -108
        elif body.get("template_id") not in self.templates:
            error = -109
        elif not body.get("template_data"):
            error = -111
        elif body["phone"] in self.no_zalo_account:
            error = -118
        if error:
            self.rejected.append((error, body))
            return web.json_response({"error": error, "message": "rejected"})
        self.sent.append(body)
        return web.json_response(
            {
                "error": 0,
                "message": "Success",
                "data": {
                    "msg_id": f"zmsg-{len(self.sent)}",
                    "sent_time": "1764172800000",
                    "sending_mode": "1",
                    "quota": {"dailyQuota": "500", "remainingQuota": str(500 - len(self.sent))},
                },
            }
        )


def delivery_event(msg_id: str, tracking_id: str, timestamp: str = "1764172801000") -> bytes:
    return json.dumps(
        {
            "app_id": APP_ID,
            "event_name": "user_received_message",
            "timestamp": timestamp,
            "sender": {"id": "oa-1"},
            "recipient": {"id": "user-1"},
            "message": {
                "msg_id": msg_id,
                "delivery_time": "1764172801000",
                "tracking_id": tracking_id,
            },
        }
    ).encode()


def sign(body: bytes, secret: str = OA_SECRET) -> str:
    timestamp = str(json.loads(body)["timestamp"])
    digest = hashlib.sha256(APP_ID.encode() + body + timestamp.encode() + secret.encode())
    return "mac=" + digest.hexdigest()
