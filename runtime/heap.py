"""The cyclic garbage collector of a long-running service process.

CPython's collector stops the process while it walks every container object of the generation
it collects; the oldest one holds everything imported and built at start-up (aiohttp, asyncpg,
pydantic, the menu, the pools: ~80,000 container objects), so with 2,000 calls held in
the IVR each full collection stopped the event loop for 80–150 ms, every turn waiting behind it
(``bench.agi_capacity --durable``). Once the service has started, that heap is taken out of
every later collection (``gc.freeze``), and the youngest generation is collected every
``YOUNGEST`` allocations instead of 700: a call's objects mostly die by reference counting
before a collection would have looked at them, and the older generations, collected after ten
of the younger each, come round 30 times less often."""

from __future__ import annotations

import gc
import logging

logger = logging.getLogger(__name__)

YOUNGEST = 20_000  # container allocations (net) between two collections of generation 0


def settle() -> None:
    """Call once, when start-up is done (``hotline serve``, a benchmark's server)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST, older, oldest)
    logger.info(
        "heap: %d objects of start-up kept out of garbage collection; the youngest generation"
        " is collected every %d allocations",
        gc.get_freeze_count(),
        YOUNGEST,
    )
