"""The simulated people: operators' softphones and the citizens who call.

Everything random is drawn from one ``random.Random(seed)`` owned by the board, so a run is
reproducible from its seed. Durations are simulated seconds; a ``(low, high)`` pair is a uniform
distribution.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

Duration = float | tuple[float, float]


def draw(rng: random.Random, value: Duration) -> float:
    if isinstance(value, tuple):
        low, high = value
        return rng.uniform(low, high)
    return float(value)


@dataclass
class Softphone:
    """An operator's registered SIP device ``PJSIP/<endpoint>``.

    ``answers``: picks up after ``ring_delay``; False: lets it ring until the queue gives up.
    ``talk_time``: length of a conversation. ``hangs_up``: who ends it, ``"caller"`` or
    ``"operator"``. ``registered=False`` ⇒ device state Unavailable (5), never rung.
    """

    endpoint: str
    ring_delay: Duration = 2.0
    talk_time: Duration = 30.0
    answers: bool = True
    hangs_up: str = "caller"
    registered: bool = True
    name: str = ""  # the caller ID name the phone presents, e.g. "Operator 101"
    language: str = "vi"
    context: str = "operators"  # the endpoint's context in pjsip.conf
    # this person's own random stream (set by the board from its seed and the endpoint), so
    # their draws do not depend on how other calls interleave
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    @property
    def interface(self) -> str:
        return f"PJSIP/{self.endpoint}"


@dataclass
class CalledParty:
    """Whoever an Originate reaches through the trunk (a citizen called back)."""

    answers: bool = True
    ring_delay: Duration = 5.0
    talk_time: Duration = 60.0
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)
