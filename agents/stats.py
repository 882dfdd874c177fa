"""Queue statistics per 15-minute interval (written by the queue_log applier, db/queue_log.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


def interval_start(at: datetime) -> datetime:
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


@dataclass(frozen=True)
class ServiceLevels:
    """Answered within these many seconds (configurable; 15 and 20 by default)."""

    first: int = 15
    second: int = 20


def summarise(rows: list[dict[str, int]]) -> dict[str, float | int | None]:
    """Totals and rates over interval rows of one queue (or of all queues)."""
    total = {
        key: sum(int(r[key]) for r in rows)
        for key in (
            "received",
            "answered",
            "abandoned",
            "answered_within_1",
            "answered_within_2",
            "hold_seconds_sum",
            "talk_seconds_sum",
            "completed",
        )
    }
    answered, completed = total["answered"], total["completed"]
    offered = answered + total["abandoned"]
    return {
        "received": total["received"],
        "answered": answered,
        "abandoned": total["abandoned"],
        "answered_within_1": total["answered_within_1"],
        "answered_within_2": total["answered_within_2"],
        "service_level_1": round(total["answered_within_1"] / offered, 4) if offered else None,
        "service_level_2": round(total["answered_within_2"] / offered, 4) if offered else None,
        "asa_seconds": round(total["hold_seconds_sum"] / answered, 1) if answered else None,
        "aht_seconds": round(total["talk_seconds_sum"] / completed, 1) if completed else None,
        "longest_wait": max((int(r["longest_wait"]) for r in rows), default=0),
    }
