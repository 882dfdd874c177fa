"""Quality review of calls in PostgreSQL: the criteria and settings (the administrator's edits
audited in the same transaction), the week's review queue, flags, reviews with their scores
(each also a ``reviewed`` event on the ticket's timeline), the operator's one answer, and the
averages the trend chart and the wallboard read (the report's are in ``db/reports.py``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from db.province import audit
from tickets.codes import HOTLINE_TZ
from tickets.events import EventKind
from tickets.model import Line
from tickets.reviews import (
    AlreadyAnswered,
    AlreadyReviewed,
    CallNotReviewable,
    Criterion,
    FlagReason,
    ReviewNotFound,
    ReviewSettings,
    Score,
    ScoreKind,
)

# The week's queue: each operator's answered calls ranked by a hash of the uniqueid with this
# installation's salt (a random draw that every instance and every reload repeats), the first
# ``sample_size`` drawn; flagged calls, calls whose ticket was closed unsatisfied, and 115 calls
# dispatched later than the target after being answered. $3 narrows the answer to one call. The
# talk time is queue_log's (COMPLETECALLER/COMPLETEAGENT, applied into queue_calls): none while
# the call goes on, nor before its row is applied.
_QUEUE = """
WITH answered AS (
  SELECT c.id, c.uniqueid, c.line, c.answered_at, c.recording, t.code AS ticket,
         t.closure, t.dispatched_at, call_operator(c.answered_by, c.answered_at) AS operator
  FROM calls c JOIN tickets t ON t.id = c.ticket_id
  WHERE c.answered_at >= $1 AND c.answered_at < $2 AND c.answered_by IS NOT NULL
    AND NOT t.simulated
), drawn AS (
  SELECT a.*, r.sample_size, r.dispatch_target_seconds,
         row_number() OVER (PARTITION BY a.operator ORDER BY md5(r.salt || a.uniqueid)) AS draw
  FROM answered a CROSS JOIN review_settings r
  WHERE a.operator IS NOT NULL
), flagged AS (
  SELECT d.*,
    array_remove(ARRAY[
      CASE WHEN d.draw <= d.sample_size THEN 'sample' END,
      CASE WHEN EXISTS (SELECT 1 FROM call_flags f WHERE f.call_id = d.id AND f.reason = 'operator')
           THEN 'operator' END,
      CASE WHEN d.closure = 'unsatisfied' OR EXISTS
             (SELECT 1 FROM call_flags f WHERE f.call_id = d.id AND f.reason = 'complaint')
           THEN 'complaint' END,
      CASE WHEN d.line = '115'
             AND d.dispatched_at - d.answered_at > make_interval(secs => d.dispatch_target_seconds)
           THEN 'slow_dispatch' END
    ], NULL) AS reasons
  FROM drawn d
)
SELECT x.uniqueid, x.line, x.ticket, x.operator, x.answered_at,
       x.recording IS NOT NULL AS has_recording, x.reasons, v.id AS review_id, v.score,
       (SELECT sum(q.talk_seconds) FROM queue_calls q
        WHERE q.callid = x.uniqueid AND q.outcome = 'completed') AS talk_seconds
FROM flagged x LEFT JOIN call_reviews v ON v.call_id = x.id
WHERE cardinality(x.reasons) > 0 AND ($3::text IS NULL OR x.uniqueid = $3)
ORDER BY x.operator, x.answered_at
"""

_REVIEWS = """
SELECT v.id, v.line, v.operator, v.reviewer, v.reviewed_at, v.score, v.notes, v.reasons,
       v.answer, v.answered_at, c.uniqueid, c.answered_at AS call_answered_at,
       c.recording IS NOT NULL AS has_recording, t.code AS ticket,
       coalesce((SELECT json_agg(json_build_object(
           'code', s.code, 'value', s.value, 'top', s.top, 'weight', s.weight,
           'name_vi', k.name_vi, 'name_en', k.name_en) ORDER BY k.position)
         FROM review_scores s JOIN review_criteria k ON k.line = s.line AND k.code = s.code
         WHERE s.review_id = v.id), '[]') AS scores
FROM call_reviews v JOIN calls c ON c.id = v.call_id JOIN tickets t ON t.id = v.ticket_id
"""

# Averages per week of the hotline's time zone: of the reviews' scores per operator, and of each
# criterion's values (as a share of its best value) per operator.
_TREND_SCORES = """
SELECT to_char(date_trunc('week', v.reviewed_at AT TIME ZONE $3), 'YYYY-MM-DD') AS week,
       v.operator, count(*) AS reviews, avg(v.score) AS score
FROM call_reviews v
WHERE v.reviewed_at >= $1 AND v.reviewed_at < $2 AND ($4::text IS NULL OR v.operator = $4)
GROUP BY 1, 2 ORDER BY 1, 2
"""
_TREND_CRITERIA = """
SELECT v.operator, s.line, s.code, k.name_vi, k.name_en, count(*) AS scored,
       avg(s.value::numeric / s.top) AS share
FROM call_reviews v JOIN review_scores s ON s.review_id = v.id
JOIN review_criteria k ON k.line = s.line AND k.code = s.code
WHERE v.reviewed_at >= $1 AND v.reviewed_at < $2 AND ($3::text IS NULL OR v.operator = $3)
GROUP BY 1, 2, 3, 4, 5, k.position ORDER BY 1, 2, k.position
"""


@dataclass(frozen=True)
class ReviewCall:
    """An answered call as a review needs it."""

    id: int
    uniqueid: str
    ticket_id: int
    ticket: str
    line: Line
    operator: str | None
    recording: str | None
    answered_at: datetime | None


def _criterion(row: asyncpg.Record) -> Criterion:
    return Criterion(
        Line(row["line"]),
        row["code"],
        row["name_vi"],
        row["name_en"],
        ScoreKind(row["kind"]),
        row["weight"],
        row["position"],
        row["active"],
    )


def _audited(c: Criterion | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {
        "name_vi": c.name_vi,
        "name_en": c.name_en,
        "kind": c.kind.value,
        "weight": c.weight,
        "position": c.position,
        "active": c.active,
    }


def _number(value: Decimal | float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def review_json(row: asyncpg.Record) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "id": row["id"],
        "uniqueid": row["uniqueid"],
        "ticket": row["ticket"],
        "line": row["line"],
        "operator": row["operator"],
        "reviewer": row["reviewer"],
        "reviewed_at": iso(row["reviewed_at"]),
        "score": _number(row["score"]),
        "notes": row["notes"],
        "reasons": list(row["reasons"]),
        "answer": row["answer"],
        "answered_at": iso(row["answered_at"]),
        "call_answered_at": iso(row["call_answered_at"]),
        "has_recording": row["has_recording"],
        "scores": json.loads(row["scores"]),
    }


class PostgresReviewRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def configuration(self) -> tuple[ReviewSettings, list[Criterion]]:
        async with self._pool.acquire() as conn:
            settings = await conn.fetchrow(
                "SELECT sample_size, dispatch_target_seconds FROM review_settings"
            )
            rows = await conn.fetch("SELECT * FROM review_criteria ORDER BY line, position, code")
        assert settings is not None  # the migration inserts the one row
        return ReviewSettings(settings["sample_size"], settings["dispatch_target_seconds"]), [
            _criterion(r) for r in rows
        ]

    async def configure(
        self,
        actor: str,
        settings: ReviewSettings,
        criteria: Mapping[Line, Sequence[Criterion]],
    ) -> None:
        """The settings and, for each line given, its criteria in order; a criterion of that
        line left out is switched off (its past scores keep it). Every change audited."""
        async with self._pool.acquire() as conn, conn.transaction():
            old = await conn.fetchrow(
                "SELECT sample_size, dispatch_target_seconds FROM review_settings FOR UPDATE"
            )
            assert old is not None
            before = dict(old)
            after = {
                "sample_size": settings.sample_size,
                "dispatch_target_seconds": settings.dispatch_target_seconds,
            }
            if before != after:
                await conn.execute(
                    "UPDATE review_settings SET sample_size = $1, dispatch_target_seconds = $2",
                    settings.sample_size,
                    settings.dispatch_target_seconds,
                )
                await audit(conn, actor, "update", "review_settings", "reviews", before, after)
            for line, wanted in criteria.items():
                rows = await conn.fetch(
                    "SELECT * FROM review_criteria WHERE line = $1 FOR UPDATE", line.value
                )
                stored = {r["code"]: _criterion(r) for r in rows}
                sent = {c.code: c for c in wanted}
                for code in sorted(set(stored) | set(sent)):
                    was = stored.get(code)
                    now = sent.get(code)
                    if now is None:
                        assert was is not None
                        if not was.active:
                            continue
                        now = Criterion(
                            line,
                            code,
                            was.name_vi,
                            was.name_en,
                            was.kind,
                            was.weight,
                            was.position,
                            active=False,
                        )
                    if _audited(was) == _audited(now):
                        continue
                    await conn.execute(
                        "INSERT INTO review_criteria"
                        " (line, code, name_vi, name_en, kind, weight, position, active)"
                        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                        " ON CONFLICT (line, code) DO UPDATE SET name_vi = $3, name_en = $4,"
                        " kind = $5, weight = $6, position = $7, active = $8",
                        line.value,
                        code,
                        now.name_vi,
                        now.name_en,
                        now.kind.value,
                        now.weight,
                        now.position,
                        now.active,
                    )
                    await audit(
                        conn,
                        actor,
                        "create" if was is None else "update",
                        "review_criterion",
                        f"{line.value}/{code}",
                        _audited(was),
                        _audited(now),
                    )

    async def queue(
        self, start: datetime, end: datetime, uniqueid: str | None = None
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(_QUEUE, start, end, uniqueid)
        return [
            {
                "uniqueid": r["uniqueid"],
                "line": r["line"],
                "ticket": r["ticket"],
                "operator": r["operator"],
                "answered_at": r["answered_at"].isoformat(),
                "talk_seconds": r["talk_seconds"],
                "has_recording": r["has_recording"],
                "reasons": list(r["reasons"]),
                "review_id": r["review_id"],
                "score": _number(r["score"]),
            }
            for r in rows
        ]

    async def call(self, uniqueid: str) -> ReviewCall | None:
        row = await self._pool.fetchrow(
            "SELECT c.id, c.uniqueid, c.ticket_id, t.code, c.line, c.recording, c.answered_at,"
            " call_operator(c.answered_by, c.answered_at) AS operator"
            " FROM calls c JOIN tickets t ON t.id = c.ticket_id WHERE c.uniqueid = $1",
            uniqueid,
        )
        if row is None:
            return None
        return ReviewCall(
            row["id"],
            row["uniqueid"],
            row["ticket_id"],
            row["code"],
            Line(row["line"]),
            row["operator"],
            row["recording"],
            row["answered_at"],
        )

    async def is_reviewed(self, call_id: int) -> bool:
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM call_reviews WHERE call_id = $1)", call_id
        )
        return found

    async def create(
        self,
        call: ReviewCall,
        reviewer: str,
        scores: Sequence[Score],
        score: Decimal,
        notes: str,
        reasons: Sequence[str],
    ) -> dict[str, Any]:
        """The review, its scores and a ``reviewed`` event on the ticket, in one transaction."""
        if call.operator is None:
            raise CallNotReviewable(f"no operator of ours answered call {call.uniqueid}")
        async with self._pool.acquire() as conn, conn.transaction():
            review_id = await conn.fetchval(
                "INSERT INTO call_reviews"
                " (call_id, ticket_id, line, operator, reviewer, score, notes, reasons)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (call_id) DO NOTHING"
                " RETURNING id",
                call.id,
                call.ticket_id,
                call.line.value,
                call.operator,
                reviewer,
                score,
                notes,
                list(reasons),
            )
            if review_id is None:
                raise AlreadyReviewed(f"call {call.uniqueid} has been reviewed")
            await conn.executemany(
                "INSERT INTO review_scores (review_id, line, code, value, top, weight)"
                " VALUES ($1, $2, $3, $4, $5, $6)",
                [(review_id, call.line.value, s.code, s.value, s.top, s.weight) for s in scores],
            )
            await conn.execute(
                "INSERT INTO ticket_events (ticket_id, actor, kind, data, call_id)"
                " VALUES ($1, $2, $3, $4::jsonb, $5)",
                call.ticket_id,
                reviewer,
                EventKind.REVIEWED.value,
                json.dumps({"review": review_id, "uniqueid": call.uniqueid}),
                call.id,
            )
            row = await conn.fetchrow(_REVIEWS + " WHERE v.id = $1", review_id)
        assert row is not None
        return review_json(row)

    async def review(self, review_id: int) -> dict[str, Any] | None:
        row = await self._pool.fetchrow(_REVIEWS + " WHERE v.id = $1", review_id)
        return None if row is None else review_json(row)

    async def reviews(
        self, start: datetime, end: datetime, operator: str | None, *, limit: int
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            _REVIEWS + " WHERE v.reviewed_at >= $1 AND v.reviewed_at < $2"
            " AND ($3::text IS NULL OR v.operator = $3) ORDER BY v.reviewed_at DESC LIMIT $4",
            start,
            end,
            operator,
            limit,
        )
        return [review_json(r) for r in rows]

    async def answer(self, review_id: int, operator: str, text: str) -> dict[str, Any]:
        """The operator's answer to a review of their call; once."""
        async with self._pool.acquire() as conn, conn.transaction():
            current = await conn.fetchrow(
                "SELECT operator, answer FROM call_reviews WHERE id = $1 FOR UPDATE", review_id
            )
            if current is None or current["operator"] != operator:
                raise ReviewNotFound(f"no review {review_id} of your calls")
            if current["answer"] is not None:
                raise AlreadyAnswered(f"review {review_id} has been answered")
            await conn.execute(
                "UPDATE call_reviews SET answer = $2, answered_at = now() WHERE id = $1",
                review_id,
                text,
            )
            row = await conn.fetchrow(_REVIEWS + " WHERE v.id = $1", review_id)
        assert row is not None
        return review_json(row)

    async def flag(self, call: ReviewCall, reason: FlagReason, actor: str, note: str) -> bool:
        """Flag the call for review; ``False`` when it already was, for that reason."""
        done = await self._pool.fetchval(
            "INSERT INTO call_flags (call_id, reason, flagged_by, note) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT DO NOTHING RETURNING true",
            call.id,
            reason.value,
            actor,
            note,
        )
        return bool(done)

    async def trends(self, start: datetime, end: datetime, operator: str | None) -> dict[str, Any]:
        tz = str(HOTLINE_TZ)
        async with self._pool.acquire() as conn:
            weeks = await conn.fetch(_TREND_SCORES, start, end, tz, operator)
            criteria = await conn.fetch(_TREND_CRITERIA, start, end, operator)
        return {
            "weeks": [
                {
                    "week": r["week"],
                    "operator": r["operator"],
                    "reviews": r["reviews"],
                    "score": _number(r["score"]),
                }
                for r in weeks
            ],
            "criteria": [
                {
                    "operator": r["operator"],
                    "line": r["line"],
                    "code": r["code"],
                    "name_vi": r["name_vi"],
                    "name_en": r["name_en"],
                    "scored": r["scored"],
                    "share": _number(r["share"] * 100),
                }
                for r in criteria
            ],
        }
