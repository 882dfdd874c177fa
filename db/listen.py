"""PostgreSQL LISTEN: live events written by any instance (``NOTIFY hotline_events, '{json}'``)
reach this instance's consoles. Reconnects when the database comes back."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from db.errors import ANY_DATABASE_ERROR

logger = logging.getLogger(__name__)

CHANNEL = "hotline_events"


async def listen(
    pool: asyncpg.Pool,
    deliver: Callable[[dict[str, Any]], None],
    *,
    channel: str = CHANNEL,
    retry_interval: float = 2.0,
) -> None:
    """Run until cancelled: deliver every JSON payload NOTIFYed on ``channel``."""

    def received(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        try:
            deliver(json.loads(str(payload)))
        except Exception:
            logger.exception("bad %s payload: %.200r", channel, payload)

    while True:
        lost = asyncio.Event()
        try:
            async with pool.acquire() as conn:
                conn.add_termination_listener(functools.partial(_set, lost))
                await conn.add_listener(channel, received)
                try:
                    await lost.wait()
                finally:
                    # A lost connection has already gone back to the pool (asyncpg releases a
                    # pooled connection when it terminates); only a live one is ours to clean.
                    if not lost.is_set():
                        await conn.remove_listener(channel, received)
            logger.warning("LISTEN %s: connection lost; reconnecting", channel)
        except ANY_DATABASE_ERROR as err:
            logger.warning("LISTEN %s failed (%s); retrying", channel, err)
        await asyncio.sleep(retry_interval)


def _set(event: asyncio.Event, _conn: object) -> None:
    event.set()
