"""Simulated citizens calling the hotlines at random (Poisson arrivals in simulated time), for
the demo and for load. Deterministic given the board's seed."""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from switchboard.clock import Clock
from switchboard.fastagi import CallerScript
from switchboard.people import Duration, draw

logger = logging.getLogger(__name__)

PlaceCall = Callable[[str, str, CallerScript, float | None], Awaitable[object]]


@dataclass
class TrafficProfile:
    calls_per_hour: float = 60.0
    share_115: float = 0.2
    patience: Duration = (30.0, 240.0)
    menu_keys: Sequence[str | None] = ("1", "2", "3", "0", None)
    record_seconds: Duration = (2.0, 6.0)


def caller_number(rng: random.Random) -> str:
    """A Vietnamese mobile number: 0 + a mobile prefix digit + 8 digits."""
    return f"0{rng.choice('35789')}{rng.randrange(10**8):08d}"


async def run_traffic(
    profile: TrafficProfile, *, clock: Clock, rng: random.Random, place_call: PlaceCall
) -> None:
    """Place calls until cancelled."""
    rate = profile.calls_per_hour / 3600.0
    if rate <= 0:
        return
    while True:
        await clock.sleep(rng.expovariate(rate))
        line = "115" if rng.random() < profile.share_115 else "1022"
        script = CallerScript(
            keys=[rng.choice(list(profile.menu_keys))],
            record_seconds=draw(rng, profile.record_seconds),
        )
        number = caller_number(rng)
        logger.info("simulated caller %s dials %s", number, line)
        await place_call(line, number, script, draw(rng, profile.patience))
