"""An HTTP brandname SMS gateway on a loopback port 0, as a real one behaves: the API key is
checked, it may answer 503 a few times first, and a request id it accepted before is refused
with 409 (so a message posted twice reaches the citizen once, and the repeat is counted)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp import web

API_KEY = "brandname-api-key"


class FakeBrandname:
    def __init__(self, busy: int = 0) -> None:
        self.requests: list[dict[str, Any]] = []
        self.busy = busy  # answer 503 this many times first
        self.accepted: dict[str, dict[str, Any]] = {}
        self.repeated = 0

    async def send(self, request: web.Request) -> web.Response:
        if request.headers.get("X-API-Key") != API_KEY:
            return web.json_response({"error": "bad key"}, status=401)
        body = await request.json()
        self.requests.append(body)
        if self.busy:
            self.busy -= 1
            return web.json_response({"error": "busy"}, status=503)
        if body["request_id"] in self.accepted:
            self.repeated += 1
            return web.json_response({"error": "duplicate request_id"}, status=409)
        self.accepted[body["request_id"]] = body
        return web.json_response({"message_id": f"bn-{len(self.accepted)}"}, status=202)


@asynccontextmanager
async def brandname_gateway(busy: int = 0) -> AsyncIterator[tuple[FakeBrandname, str]]:
    """The gateway and its ``/sms`` URL, served until the block ends."""
    fake = FakeBrandname(busy)
    app = web.Application()
    app.router.add_post("/sms", fake.send)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield fake, f"http://127.0.0.1:{runner.addresses[0][1]}/sms"
    finally:
        await runner.cleanup()
