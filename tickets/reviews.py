"""Quality review of answered calls: the administrator's criteria per line (each scored 0–5 or
no/yes, with a weight), why a call is in the week's review queue, and a review's weighted score
in percent. No I/O: ``db/reviews.py`` stores what this decides."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any

from tickets.codes import HOTLINE_TZ
from tickets.errors import DomainError, InvalidRequest, NotFound
from tickets.model import Line

CODE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_NAME = 200
MAX_NOTES = 4000
MAX_CRITERIA = 30
MAX_WEIGHT = 100
MAX_SAMPLE = 100


class ScoreKind(StrEnum):
    SCALE = "scale"  # 0 to 5
    YES_NO = "yes_no"  # 0 (no) or 1 (yes)

    @property
    def top(self) -> int:
        return 5 if self is ScoreKind.SCALE else 1


class ReviewReason(StrEnum):
    """Why a call is in the week's review queue (several may hold)."""

    SAMPLE = "sample"  # drawn at random from the operator's answered calls of the week
    OPERATOR = "operator"  # flagged by the operator who answered it
    COMPLAINT = "complaint"  # flagged for a complaint, or its ticket closed unsatisfied
    SLOW_DISPATCH = "slow_dispatch"  # 115: dispatched later than the target after answering


class FlagReason(StrEnum):
    OPERATOR = "operator"
    COMPLAINT = "complaint"


@dataclass(frozen=True)
class Criterion:
    line: Line
    code: str
    name_vi: str
    name_en: str
    kind: ScoreKind
    weight: int
    position: int
    active: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "line": self.line.value,
            "code": self.code,
            "name_vi": self.name_vi,
            "name_en": self.name_en,
            "kind": self.kind.value,
            "top": self.kind.top,
            "weight": self.weight,
            "position": self.position,
            "active": self.active,
        }


@dataclass(frozen=True)
class ReviewSettings:
    sample_size: int  # calls drawn per operator and week
    dispatch_target_seconds: int  # 115: answered → dispatched longer than this is reviewed


@dataclass(frozen=True)
class Score:
    code: str
    value: int
    top: int
    weight: int


class ReviewNotFound(NotFound):
    error_id = "review-not-found"


class CallNotFound(NotFound):
    error_id = "call-not-found"


class CallNotReviewable(DomainError):
    """A call no operator of ours answered (abandoned, or no softphone session matches)."""

    error_id = "call-not-reviewable"
    status = 409


class AlreadyReviewed(DomainError):
    error_id = "already-reviewed"
    status = 409


class AlreadyAnswered(DomainError):
    error_id = "review-already-answered"
    status = 409


def _text(item: Mapping[str, Any], name: str, limit: int) -> str:
    value = item.get(name)
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRequest(f"{name}: a text of 1 to {limit} characters")
    return " ".join(value.split())


def _int(item: Mapping[str, Any], name: str, low: int, high: int) -> int:
    value = item.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidRequest(f"{name}: a whole number from {low} to {high}")
    return value


def parse_criteria(line: Line, items: Any) -> list[Criterion]:
    """A line's criteria as the administrator sent them, in order; at least one, codes unique."""
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_CRITERIA:
        raise InvalidRequest(f"{line.value}: a list of 1 to {MAX_CRITERIA} criteria")
    criteria: list[Criterion] = []
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise InvalidRequest(f"{line.value}: each criterion is an object")
        code = item.get("code")
        if not isinstance(code, str) or not CODE.match(code):
            raise InvalidRequest("code: lower-case letters, digits and '_', from a letter")
        try:
            kind = ScoreKind(str(item.get("kind")))
        except ValueError as err:
            raise InvalidRequest("kind: scale (0–5) or yes_no") from err
        criteria.append(
            Criterion(
                line,
                code,
                _text(item, "name_vi", MAX_NAME),
                _text(item, "name_en", MAX_NAME),
                kind,
                _int(item, "weight", 1, MAX_WEIGHT),
                position,
            )
        )
    codes = [c.code for c in criteria]
    if len(set(codes)) != len(codes):
        raise InvalidRequest(f"{line.value}: each criterion's code once")
    return criteria


def parse_settings(body: Mapping[str, Any]) -> ReviewSettings:
    return ReviewSettings(
        _int(body, "sample_size", 0, MAX_SAMPLE),
        _int(body, "dispatch_target_seconds", 10, 86400),
    )


def score_review(criteria: Sequence[Criterion], values: Any) -> tuple[list[Score], Decimal]:
    """Each active criterion of the call's line scored (no more, no fewer), and the weighted
    score in percent: Σ weight × value / top over Σ weight, to two decimals."""
    active = [c for c in criteria if c.active]
    if not isinstance(values, dict):
        raise InvalidRequest("scores: an object of criterion code → value")
    codes = {c.code for c in active}
    if not codes:
        raise InvalidRequest("this line has no criteria to score")
    if set(values) != codes:
        missing, unknown = sorted(codes - set(values)), sorted(set(values) - codes)
        raise InvalidRequest(f"scores: every criterion once (missing {missing}, unknown {unknown})")
    scores = [
        Score(c.code, _int(values, c.code, 0, c.kind.top), c.kind.top, c.weight) for c in active
    ]
    total = sum(s.weight for s in scores)
    earned = sum((Decimal(s.weight * s.value) / s.top for s in scores), Decimal(0))
    percent = (earned * 100 / total).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return scores, percent


def parse_notes(value: Any, name: str = "notes", *, required: bool = False) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > MAX_NOTES or (required and not value.strip()):
        raise InvalidRequest(f"{name}: a text of at most {MAX_NOTES} characters")
    return value.strip()


def week_of(day: date) -> tuple[datetime, datetime]:
    """The hotline's week (Monday to Sunday, its time zone) holding ``day``."""
    monday = day - timedelta(days=day.weekday())
    start = datetime.combine(monday, time(), HOTLINE_TZ)
    return start, datetime.combine(monday + timedelta(days=7), time(), HOTLINE_TZ)
