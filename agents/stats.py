"""Queue statistics per 15-minute interval: what each call outcome adds to its interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from agents.model import (
    CallAbandoned,
    CallAnswered,
    CallCompleted,
    CallerJoined,
    Outcome,
    RingNoAnswer,
)


def interval_start(at: datetime) -> datetime:
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


@dataclass(frozen=True)
class ServiceLevels:
    """Answered within these many seconds (configurable; 15 and 20 by default)."""

    first: int = 15
    second: int = 20


@dataclass(frozen=True)
class IntervalDelta:
    queue: str
    interval_start: datetime
    sl1_seconds: int
    sl2_seconds: int
    interface: str | None = None
    received: int = 0
    answered: int = 0
    abandoned: int = 0
    answered_within_1: int = 0
    answered_within_2: int = 0
    hold_seconds: int = 0
    talk_seconds: int = 0
    completed: int = 0
    longest_wait: int = 0
    ring_no_answer: int = 0


def delta_for(outcome: Outcome, levels: ServiceLevels) -> IntervalDelta | None:
    """What one outcome adds to its queue's (and operator's) current interval."""
    match outcome:
        case CallerJoined(queue=queue, at=at):
            return IntervalDelta(queue, interval_start(at), levels.first, levels.second, received=1)
        case CallAnswered(queue=queue, at=at, hold_seconds=hold, interface=interface):
            return IntervalDelta(
                queue,
                interval_start(at),
                levels.first,
                levels.second,
                interface=interface,
                answered=1,
                answered_within_1=int(hold <= levels.first),
                answered_within_2=int(hold <= levels.second),
                hold_seconds=hold,
                longest_wait=hold,
            )
        case CallAbandoned(queue=queue, at=at, hold_seconds=hold):
            return IntervalDelta(
                queue,
                interval_start(at),
                levels.first,
                levels.second,
                abandoned=1,
                longest_wait=hold,
            )
        case CallCompleted(queue=queue, at=at, talk_seconds=talk, interface=interface):
            return IntervalDelta(
                queue,
                interval_start(at),
                levels.first,
                levels.second,
                interface=interface,
                completed=1,
                talk_seconds=talk,
            )
        case RingNoAnswer(queue=queue, at=at, interface=interface):
            return IntervalDelta(
                queue,
                interval_start(at),
                levels.first,
                levels.second,
                interface=interface,
                ring_no_answer=1,
            )
    return None


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
