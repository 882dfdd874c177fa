"""Erlang C: how many operators a queue needs for a service level (pure, no I/O).

Traffic intensity A = λ·AHT erlangs (arrivals per second × average handling time in seconds).
With N operators and A < N:

- P(wait) = N·B / (N − A·(1 − B)), where B is Erlang B for N servers, computed with the
  recursion B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)) — no factorials, no powers, so it stays
  exact enough for thousands of operators;
- service level SL(T) = 1 − P(wait)·e^(−(N − A)·T / AHT) (answered within T seconds);
- ASA = P(wait)·AHT / (N − A); occupancy = A / N.

With A ≥ N the queue is unstable (it grows without bound): every caller waits, the service
level is 0, ASA is infinite and occupancy is 1. Erlang C assumes Poisson arrivals, exponential
handling times and callers who never give up, so it over-staffs a little where callers abandon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_AGENTS = 100_000


def traffic_intensity(calls: float, period_seconds: float, aht_seconds: float) -> float:
    """Erlangs offered by ``calls`` arrivals in ``period_seconds`` lasting ``aht_seconds``."""
    if calls < 0 or aht_seconds < 0:
        raise ValueError("calls and handling time cannot be negative")
    if period_seconds <= 0:
        raise ValueError("the period must be longer than zero seconds")
    return calls / period_seconds * aht_seconds


def _check(agents: int, intensity: float) -> None:
    if agents < 0:
        raise ValueError("agents cannot be negative")
    if intensity < 0 or not math.isfinite(intensity):
        raise ValueError("traffic intensity must be a finite number ≥ 0")


def erlang_b(agents: int, intensity: float) -> float:
    """Blocking probability with ``agents`` servers and no queue (the recursion above)."""
    _check(agents, intensity)
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = intensity * blocking / (k + intensity * blocking)
    return blocking


def _wait_from_b(agents: int, intensity: float, blocking: float) -> float:
    if intensity >= agents:
        return 1.0
    return agents * blocking / (agents - intensity * (1.0 - blocking))


def probability_of_waiting(agents: int, intensity: float) -> float:
    """Erlang C: the chance that a caller has to wait (1.0 when A ≥ N)."""
    _check(agents, intensity)
    if intensity >= agents:
        return 1.0
    return _wait_from_b(agents, intensity, erlang_b(agents, intensity))


def _level_from_wait(
    agents: int, intensity: float, wait: float, aht_seconds: float, within_seconds: float
) -> float:
    if intensity >= agents:
        return 0.0
    if intensity == 0:
        return 1.0
    return max(0.0, 1.0 - wait * math.exp(-(agents - intensity) * within_seconds / aht_seconds))


def service_level(
    agents: int, intensity: float, aht_seconds: float, within_seconds: float
) -> float:
    """Share of callers answered within ``within_seconds`` (0.0 when A ≥ N)."""
    _check(agents, intensity)
    if aht_seconds <= 0 and intensity > 0:
        raise ValueError("the handling time must be longer than zero seconds")
    if within_seconds < 0:
        raise ValueError("the answer time cannot be negative")
    wait = probability_of_waiting(agents, intensity)
    return _level_from_wait(agents, intensity, wait, aht_seconds, within_seconds)


def average_speed_of_answer(agents: int, intensity: float, aht_seconds: float) -> float:
    """Mean wait of all callers in seconds (``math.inf`` when A ≥ N)."""
    _check(agents, intensity)
    if intensity >= agents:
        return math.inf
    return probability_of_waiting(agents, intensity) * aht_seconds / (agents - intensity)


def occupancy(agents: int, intensity: float) -> float:
    """Share of the operators' time spent handling calls: A / N, at most 1."""
    _check(agents, intensity)
    if agents == 0:
        return 1.0 if intensity > 0 else 0.0
    return min(1.0, intensity / agents)


@dataclass(frozen=True)
class Staffing:
    """The answer for one interval: operators needed and what they achieve."""

    intensity: float
    agents: int
    service_level: float
    probability_of_waiting: float
    asa_seconds: float
    occupancy: float


def agents_needed(
    intensity: float,
    aht_seconds: float,
    target_level: float,
    within_seconds: float,
    *,
    max_agents: int = MAX_AGENTS,
) -> Staffing:
    """The fewest operators whose service level reaches ``target_level`` (0 < target < 1)
    within ``within_seconds``. No traffic needs no operator. Erlang B is carried from N to
    N + 1, so the search costs one recursion in all, whatever the size."""
    _check(0, intensity)
    if not 0 < target_level < 1:
        raise ValueError("the target service level must lie strictly between 0 and 1")
    if within_seconds < 0:
        raise ValueError("the answer time cannot be negative")
    if intensity == 0:
        return Staffing(0.0, 0, 1.0, 0.0, 0.0, 0.0)
    if aht_seconds <= 0:
        raise ValueError("the handling time must be longer than zero seconds")
    agents = math.floor(intensity) + 1  # the fewest that keep the queue stable
    if agents > max_agents:
        raise ValueError(f"more than {max_agents} operators would be needed")
    blocking = erlang_b(agents, intensity)
    while True:
        wait = _wait_from_b(agents, intensity, blocking)
        level = _level_from_wait(agents, intensity, wait, aht_seconds, within_seconds)
        if level >= target_level:
            return Staffing(
                intensity=float(intensity),
                agents=agents,
                service_level=level,
                probability_of_waiting=wait,
                asa_seconds=wait * aht_seconds / (agents - intensity),
                occupancy=intensity / agents,
            )
        agents += 1
        if agents > max_agents:
            raise ValueError(f"more than {max_agents} operators would be needed")
        blocking = intensity * blocking / (agents + intensity * blocking)


@dataclass(frozen=True)
class StaffingTarget:
    """Answer ``level`` of the calls within ``seconds`` (115: 90 % within 15 s)."""

    level: float
    seconds: int


def interval_staffing(
    received: int,
    aht_seconds: float | None,
    target: StaffingTarget,
    interval_seconds: float = 900.0,
) -> Staffing | None:
    """Operators needed in one interval from its measured arrivals and handling time; None
    when calls arrived but no handling time is known yet."""
    if received == 0:
        return agents_needed(0.0, 0.0, target.level, target.seconds)
    if aht_seconds is None or aht_seconds <= 0:
        return None
    intensity = traffic_intensity(received, interval_seconds, aht_seconds)
    return agents_needed(intensity, aht_seconds, target.level, target.seconds)
