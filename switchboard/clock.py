"""Simulated time: ``scale`` simulated seconds pass per real second.

Every wait inside the emulator goes through one ``Clock`` so that ring timeouts of 15–20 s run
in a fraction of a second in tests (``Clock(scale=20.0)``) and in real time in the demo
(``Clock(scale=1.0)``). Times the emulator reports (HoldTime, RingTime, TalkTime, LastCall,
Timestamp, Uniqueid) are simulated seconds since the Unix epoch.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections.abc import Callable


class Clock:
    """``held_scale``: how fast time runs past a hold (see ``hold``) unless it says otherwise."""

    def __init__(
        self, scale: float = 1.0, *, start: float | None = None, held_scale: float = 1.0
    ) -> None:
        if scale <= 0 or held_scale <= 0:
            raise ValueError("scale must be positive")
        self.scale = scale
        self.held_scale = held_scale
        self._rate = scale  # the scale time runs at now: the slowest of the holds passed
        self._epoch0 = time.time() if start is None else start
        self._mono0 = time.monotonic()
        self._holds: list[tuple[float, float]] = []  # (moment, scale past it), sorted

    def now(self) -> float:
        """Simulated seconds since the Unix epoch."""
        moment = self._epoch0 + (time.monotonic() - self._mono0) * self._rate
        for at, scale in self._holds:
            if at > moment:
                break
            if scale < self._rate:  # passed a hold that slows time further
                at = max(at, self._epoch0)
                self._rebase(at, scale)
                return at
        return moment

    def hold(self, moment: float, scale: float | None = None) -> Callable[[], None]:
        """Past ``moment`` time runs only at ``scale`` (``held_scale`` unless given; the
        slowest of the holds passed) until the returned function is called (once): what must
        happen before ``moment`` (a replay's calls of one day, an answer due before a
        deadline) happens before it however slow the machine is, while calls in progress
        still move on (their rings, talks and wrap-ups take simulated time). A moment already
        past holds time where it is: it never runs backwards."""
        held = (max(moment, self.now()), self.held_scale if scale is None else scale)
        if held[1] <= 0:
            raise ValueError("scale must be positive")
        bisect.insort(self._holds, held)
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._holds.pop(bisect.bisect_left(self._holds, held))
            current = self.now()
            pace = min((s for at, s in self._holds if at <= current), default=self.scale)
            if pace != self._rate:
                self._rebase(current, pace)

        return release

    def skip_to(self, moment: float) -> None:
        """Time jumps forward to ``moment``, no further than the earliest hold and never back
        (a replay with no call in progress skips the quiet hours to the next one)."""
        target = min(moment, self._holds[0][0]) if self._holds else moment
        if target > self.now():
            self._rebase(target, self._rate)

    def restart(self, at: float) -> None:
        """Simulated time goes on from ``at`` (seconds since the epoch), e.g. once a replay's
        setup is done; waits already begun keep their real length."""
        self._rebase(at, self._rate)

    def _rebase(self, at: float, rate: float) -> None:
        self._epoch0 = at
        self._mono0 = time.monotonic()
        self._rate = rate

    def real(self, seconds: float) -> float:
        """Real seconds that ``seconds`` simulated seconds take."""
        return max(0.0, seconds) / self._rate

    async def sleep(self, seconds: float) -> None:
        """At least ``seconds``: an event loop's timer may fire up to a millisecond early
        (uvloop counts in whole milliseconds), and at a scale of 50 that is 50 ms of simulated
        time: a caller's patience of 5 s would be reported as a HoldTime of 4."""
        end = time.monotonic() + self.real(seconds)
        while (left := end - time.monotonic()) > 0:  # noqa: ASYNC110 (a clock, not a flag)
            await asyncio.sleep(left)

    async def sleep_until(self, moment: float) -> None:
        await self.sleep(moment - self.now())

    async def reach(self, moment: float, *, step: float = 0.05) -> None:
        """Until simulated time reaches ``moment``, looking at most every ``step`` real seconds
        (the pace changes when time passes a hold or one is released)."""
        while (ahead := moment - self.now()) > 0:  # noqa: ASYNC110 (polls a clock, not a flag)
            await asyncio.sleep(min(self.real(ahead), step))

    async def wait(self, event: asyncio.Event, seconds: float | None) -> bool:
        """Wait for ``event`` at most ``seconds`` simulated seconds (None: forever).
        True if the event is set."""
        if event.is_set():
            return True
        if seconds is None:
            await event.wait()
            return True
        end = time.monotonic() + self.real(seconds)
        while not event.is_set() and (left := end - time.monotonic()) > 0:  # as in ``sleep``
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), left)
        return event.is_set()
