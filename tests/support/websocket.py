"""A console's WebSocket read as the consoles read it: each frame is a JSON array of events
(``hotline/events.py``), taken here one event at a time."""

from __future__ import annotations

from collections import deque
from typing import Any

import aiohttp


class LiveEvents:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._pending: deque[dict[str, Any]] = deque()

    async def next(self) -> dict[str, Any]:
        """The next event, reading the next frame when those already read are used up."""
        while not self._pending:
            events = await self._ws.receive_json()
            assert isinstance(events, list), events
            self._pending.extend(events)
        return self._pending.popleft()
