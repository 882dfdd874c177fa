"""``/api/v1/events``: the live WebSocket. Authenticated like the API (bearer token in the
``Authorization`` header, or ``?token=`` since browsers cannot set headers on a WebSocket);
each role may subscribe only to the topics it may see. The client may send
``{"subscribe": [...topics]}`` at any time to change its topics.

Every frame the service sends is a JSON array of ``{topic, kind, at, data}`` events, oldest
first: the greeting and an error reply are arrays of one; live events are batched per console,
one frame per tick at most (``hotline/events.py``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from hotline.events import LiveEvent, Subscription, frame
from hotline.keys import AUTH, BUS
from hotline.web.errors import ApiError
from hotline.web.http import identify, session_token
from hotline.web.openapi import describe
from tickets.model import Role, User

logger = logging.getLogger(__name__)


class OpenSockets:
    """The consoles connected now, closed with a reason when the service shuts down."""

    def __init__(self) -> None:
        self._open: set[web.WebSocketResponse] = set()

    def add(self, ws: web.WebSocketResponse) -> None:
        self._open.add(ws)

    def discard(self, ws: web.WebSocketResponse) -> None:
        self._open.discard(ws)

    def __len__(self) -> int:
        return len(self._open)

    async def close_all(self) -> None:
        for ws in list(self._open):
            await ws.close(code=1001, message=b"server shutdown")


SOCKETS = web.AppKey("sockets", OpenSockets)

ALLOWED = {
    Role.OPERATOR: {"queues", "operators", "calls", "tickets", "me"},
    Role.SUPERVISOR: {"queues", "operators", "calls", "tickets", "me"},
    Role.ADMIN: {"queues", "operators", "calls", "tickets", "me"},
    Role.AGENCY: {"me"},
}


async def _user(request: web.Request) -> User:
    token = request.query.get("token", "")
    if token and "Authorization" not in request.headers:
        user = await request.app[AUTH].authenticate(token)
    else:
        if session_token(request) and "Authorization" not in request.headers:
            _same_origin(request)
        user = await identify(request)
    if user is None:
        raise ApiError(401, "unauthenticated", "log in, or send a valid bearer token")
    return user


def _same_origin(request: web.Request) -> None:
    """A browser sends its cookies with a WebSocket opened by any site: only our own pages
    (same Origin) may use the session cookie."""
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise ApiError(403, "cross-origin", "this socket is for the service's own pages")


@describe(
    query={"topics": {"type": "string"}, "token": {"type": "string"}},
    responses={
        101: "WebSocket: frames of [{topic, kind, at, data}, …] events",
        401: "not logged in",
        403: "another site",
    },
)
async def events(request: web.Request) -> web.WebSocketResponse:
    user = await _user(request)
    allowed = ALLOWED[user.role]
    wanted = set(request.query.get("topics", ",".join(sorted(allowed))).split(","))
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    request.app[SOCKETS].add(ws)
    subscription = request.app[BUS].subscribe(user.id, wanted & allowed)
    sender = asyncio.create_task(_send(ws, subscription), name=f"ws-send-{user.username}")
    try:
        hello = {
            "user": user.username,
            "role": user.role.value,
            "topics": sorted(subscription.topics),
        }
        await ws.send_str(frame([LiveEvent("me", "hello", hello)]))
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue
            try:
                topics = set(json.loads(message.data)["subscribe"])
            except (ValueError, KeyError, TypeError):
                error = {
                    "error_id": "invalid-request",
                    "message": 'expected {"subscribe": [topics]}',
                }
                await ws.send_str(frame([LiveEvent("me", "error", error)]))
                continue
            subscription.topics = topics & allowed
    except ConnectionError:  # the page went away (navigated, closed) while we wrote to it
        logger.info("events: %s's socket closed by the browser", user.username)
    finally:
        request.app[SOCKETS].discard(ws)
        request.app[BUS].unsubscribe(subscription)
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sender
    return ws


async def _send(ws: web.WebSocketResponse, subscription: Subscription) -> None:
    while not ws.closed:
        text = await subscription.next_frame()
        try:
            await ws.send_str(text)
        except ConnectionError:
            return


async def close_sockets(app: web.Application) -> None:
    """on_shutdown: tell every console the service is going away."""
    await app[SOCKETS].close_all()


def add_routes(app: web.Application) -> None:
    app[SOCKETS] = OpenSockets()
    app.on_shutdown.append(close_sockets)
    app.router.add_get("/api/v1/events", events)
