"""115 dispatch: ask the nearest facility with a free ambulance; a decline ("no vehicle") or no
answer within the timeout moves the request on to the next nearest facility automatically.

Outcome codes close a 115 ticket; the success rate is successful outcomes / all 115 requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from tickets.agencies import Facility

EARTH_RADIUS_KM = 6371.0088
DEFAULT_TIMEOUT = timedelta(seconds=90)
MAX_ATTEMPTS = 5


class Outcome(StrEnum):
    HANDLED = "handled"  # treated on scene, no transport needed
    TRANSPORTED = "transported"  # taken to a hospital
    NO_VEHICLE = "no_vehicle"  # every facility asked had no ambulance
    CANCELLED = "cancelled"  # the caller cancelled
    UNREACHABLE = "unreachable"  # the crew could not find or reach the patient
    PRANK = "prank"
    DUPLICATE = "duplicate"  # same emergency already reported by another caller


SUCCESSFUL_OUTCOMES = frozenset({Outcome.HANDLED, Outcome.TRANSPORTED})
# Time stamps on a 115 ticket after a facility accepts, in the order they come: the crew took
# the order (``answered``), the crew reached the patient (``on_scene``).
MILESTONES = ("answered", "on_scene")


class DispatchResult(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class Point:
    lat: float
    long: float


@dataclass(frozen=True)
class Attempt:
    seq: int
    facility_code: str
    sent_at: datetime
    due_at: datetime
    result: DispatchResult


def distance_km(a: Point, b: Point) -> float:
    """Great-circle distance (haversine)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlong = math.radians(b.long - a.long)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlong / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(h))


def rank_facilities(facilities: Iterable[Facility], where: Point) -> list[Facility]:
    """Active facilities with a free ambulance, nearest first (ties by code, stable)."""
    candidates = [f for f in facilities if f.active and f.available > 0]
    return sorted(candidates, key=lambda f: (distance_km(where, Point(f.lat, f.long)), f.code))


def next_facility(
    facilities: Iterable[Facility], where: Point, attempts: Sequence[Attempt]
) -> Facility | None:
    """The nearest available facility not asked yet, or ``None`` (⇒ outcome ``no_vehicle``)."""
    if len(attempts) >= MAX_ATTEMPTS:
        return None
    asked = {a.facility_code for a in attempts}
    for facility in rank_facilities(facilities, where):
        if facility.code not in asked:
            return facility
    return None


def is_overdue(attempt: Attempt, now: datetime) -> bool:
    return attempt.result is DispatchResult.PENDING and now >= attempt.due_at
