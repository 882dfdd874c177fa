"""Simulated time: ``scale`` simulated seconds pass per real second.

Every wait inside the emulator goes through one ``Clock`` so that ring timeouts of 15–20 s run
in a fraction of a second in tests (``Clock(scale=20.0)``) and in real time in the demo
(``Clock(scale=1.0)``). Times the emulator reports (HoldTime, RingTime, TalkTime, LastCall,
Timestamp, Uniqueid) are simulated seconds since the Unix epoch.
"""

from __future__ import annotations

import asyncio
import contextlib
import time


class Clock:
    def __init__(self, scale: float = 1.0, *, start: float | None = None) -> None:
        if scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self._epoch0 = time.time() if start is None else start
        self._mono0 = time.monotonic()

    def now(self) -> float:
        """Simulated seconds since the Unix epoch."""
        return self._epoch0 + (time.monotonic() - self._mono0) * self.scale

    def real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` simulated seconds take."""
        return max(0.0, seconds) / self.scale

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(self.real(seconds))

    async def sleep_until(self, moment: float) -> None:
        await self.sleep(moment - self.now())

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        """Wait for ``event`` at most ``seconds`` simulated seconds (None: forever).
        True if the event is set."""
        if event.is_set():
            return True
        if seconds is None:
            await event.wait()
            return True
        if seconds <= 0:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), self.real(seconds))
        return event.is_set()
