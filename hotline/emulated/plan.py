"""The arrival plan of ``hotline simulate``: simulated citizens call 1022 and 115 with Poisson
arrivals shaped by a daily profile and a call mix per scenario (by default the seed province's:
479 administrative procedures, 1,025 field reports and 1,553 information requests on 1022;
3,173 requests on 115); callers give up after an exponentially drawn patience.

The plan (times, lines, keys, numbers, patience) is a pure function of the seed and the options.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass

from switchboard.traffic import caller_number
from tickets.model import Line
from tickets.scenario import Mix

# Relative call volume per hour of the day (Vietnam time), 1.0 at the busiest hours: quiet
# nights, a morning peak when offices open, a lunch dip, a second peak in the afternoon.
DAILY_PROFILE: tuple[float, ...] = (
    0.12, 0.08, 0.06, 0.06, 0.08, 0.15, 0.35, 0.65,  # 00–07
    0.95, 1.00, 0.95, 0.80, 0.50, 0.65, 0.90, 0.95,  # 08–15
    0.85, 0.70, 0.55, 0.50, 0.45, 0.35, 0.25, 0.18,  # 16–23
)  # fmt: skip
MAX_PATIENCE = 540.0  # below the dialplan's 600 s in Queue(), so nobody joins a queue twice


@dataclass(frozen=True)
class CallMix:
    """Which line people call, and on 1022 which menu key they press (weights)."""

    share_115: float
    keys_1022: dict[str, float]
    hang_up_in_menu: float = 0.03  # callers who hang up before the menu is done


def seed_mix() -> CallMix:
    """The seed province's first seven months (``tickets.scenario.Mix``)."""
    mix = Mix()
    on_1022 = mix.admin_procedure + mix.field_report + mix.information
    on_115 = sum(mix.medical.values())
    return CallMix(
        share_115=on_115 / (on_1022 + on_115),
        keys_1022={
            "1": mix.admin_procedure,
            "2": mix.field_report,
            "3": mix.information,
        },
    )


def _scenarios() -> dict[str, CallMix]:
    seed = seed_mix()
    return {
        "seed": seed,
        # a storm: field reports (flooding, fallen trees) four times as often, 115 as usual
        "flood": CallMix(
            share_115=seed.share_115 / 2,
            keys_1022={**seed.keys_1022, "2": seed.keys_1022["2"] * 4},
        ),
        # an outbreak: most calls are medical
        "outbreak": CallMix(share_115=0.8, keys_1022=seed.keys_1022),
    }


SCENARIOS = _scenarios()


@dataclass(frozen=True)
class SimulationOptions:
    seed: int = 1
    hours: float = 1.0  # simulated hours of arrivals
    calls: int | None = None  # stop after this many calls (whichever comes first)
    scale: float = 60.0  # simulated seconds per real second
    scenario: str = "seed"
    calls_per_hour: float = 120.0  # at the busiest hour of the daily profile
    start_hour: int = 8  # Vietnam time of day the simulation starts at
    operators_1022: int = 7  # Erlang C for the seed mix at 120 calls/h: 80 % within 20 s
    operators_115: int = 5  # and 90 % within 15 s
    aht_1022: float = 240.0  # mean handling time, seconds (uniform from half to 1.5×)
    aht_115: float = 120.0
    patience: float = 120.0  # callers' mean patience in a queue, seconds (exponential)
    progress: bool = True
    # service instances and PBXs (as many of each): every instance on every PBX's AMI, calls
    # spread over the PBXs in turn, each PBX's FastAGI on its own instance
    instances: int = 1


@dataclass(frozen=True)
class PlannedCall:
    at: float  # simulated seconds after the start
    line: Line
    key: str | None  # the 1022 menu key; None on 115
    hangs_up_in_menu: bool
    number: str
    patience: float
    record_seconds: float


def plan_calls(options: SimulationOptions) -> list[PlannedCall]:
    """Every call of the run, drawn from ``random.Random(seed)`` alone: a Poisson process at the
    peak rate thinned by the daily profile (a Poisson process whose rate follows the profile)."""
    if options.scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {options.scenario!r}; one of {sorted(SCENARIOS)}")
    mix = SCENARIOS[options.scenario]
    rng = random.Random(f"hotline-simulate/{options.seed}")  # noqa: S311 (a simulation)
    peak = max(DAILY_PROFILE)
    rate = options.calls_per_hour / 3600.0
    end = options.hours * 3600.0
    keys = list(mix.keys_1022)
    weights = [mix.keys_1022[k] for k in keys]
    plan: list[PlannedCall] = []
    moment = 0.0
    while rate > 0 and (options.calls is None or len(plan) < options.calls):
        moment += rng.expovariate(rate)
        if moment >= end:
            break
        hour = (options.start_hour + int(moment // 3600)) % 24
        if rng.random() >= DAILY_PROFILE[hour] / peak:
            continue
        line = Line.MEDICAL if rng.random() < mix.share_115 else Line.CITIZEN
        key = rng.choices(keys, weights)[0] if line is Line.CITIZEN else None
        hangs_up = rng.random() < mix.hang_up_in_menu
        patience = min(MAX_PATIENCE, max(5.0, rng.expovariate(1.0 / options.patience)))
        plan.append(
            PlannedCall(
                at=round(moment, 3),
                line=line,
                key=key,
                hangs_up_in_menu=hangs_up,
                number=caller_number(rng),
                patience=round(patience, 1),
                record_seconds=round(rng.uniform(2.0, 6.0), 1),
            )
        )
    return plan


def fingerprint(plan: Sequence[PlannedCall]) -> str:
    text = "\n".join(
        f"{c.at}|{c.line.value}|{c.key}|{c.hangs_up_in_menu}|{c.number}|{c.patience}|"
        f"{c.record_seconds}"
        for c in plan
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]
