"""Open311 GeoReport v2 queries: the public list of 1022 requests and requests created by other
systems. The public side reads only what may be published: service, status, agency, ward or
district, dates and the operator's public summary; never what the caller said or where they
live, nor their number."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from tickets.codes import code_year, format_code
from tickets.events import EventKind
from tickets.model import Category, Line

_ALLOCATE = """
INSERT INTO ticket_counters (line, year, last) VALUES ($1, $2, 1)
ON CONFLICT (line, year) DO UPDATE SET last = ticket_counters.last + 1
RETURNING last
"""

_SELECT = """
SELECT t.code, t.category, t.subcategory, t.status, t.public_summary, t.created_at,
       t.updated_at, t.closed_at, t.deadline_at, t.locality, a.name_vi AS agency_name
FROM tickets t LEFT JOIN agencies a ON a.code = t.agency_code
WHERE t.line = '1022' AND t.category <> 'unclassified'
"""

CLOSED_STATUSES = ("closed", "merged", "transferred")


@dataclass(frozen=True)
class PublicRequest:
    code: str
    category: Category
    subcategory: str | None
    status: str
    public_summary: str | None  # as the operator wrote it: masked by the reader
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None
    deadline_at: datetime | None
    locality: str | None
    agency_name: str | None


@dataclass(frozen=True)
class NewRequest:
    category: Category
    subcategory: str | None
    description: str | None
    address: str | None
    lat: float | None
    long: float | None
    locality: str | None
    caller_phone: str | None
    caller_raw: str
    client: str
    contact: dict[str, str]


def _request(row: asyncpg.Record) -> PublicRequest:
    return PublicRequest(
        code=row["code"],
        category=Category(row["category"]),
        subcategory=row["subcategory"],
        status=row["status"],
        public_summary=row["public_summary"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        closed_at=row["closed_at"],
        deadline_at=row["deadline_at"],
        locality=row["locality"],
        agency_name=row["agency_name"],
    )


class PostgresOpen311Repository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def by_codes(self, codes: list[str]) -> list[PublicRequest]:
        rows = await self._pool.fetch(
            _SELECT + " AND t.code = ANY($1::text[]) ORDER BY t.created_at DESC", codes
        )
        return [_request(r) for r in rows]

    async def search(
        self,
        *,
        start: datetime,
        end: datetime,
        categories: list[str] | None,
        subcategories: list[str] | None,
        closed: bool | None,
        limit: int,
    ) -> list[PublicRequest]:
        rows = await self._pool.fetch(
            _SELECT + " AND t.created_at >= $1 AND t.created_at <= $2"
            " AND ($3::text[] IS NULL OR t.category = ANY($3::text[])"
            "      OR t.subcategory = ANY($4::text[]))"
            " AND ($5::boolean IS NULL OR (t.status = ANY($6::text[])) = $5)"
            " ORDER BY t.created_at DESC LIMIT $7",
            start,
            end,
            None if categories is None and subcategories is None else (categories or []),
            subcategories or [],
            closed,
            list(CLOSED_STATUSES),
            limit,
        )
        return [_request(r) for r in rows]

    async def create(self, request: NewRequest, at: datetime) -> str:
        async with self._pool.acquire() as conn, conn.transaction():
            year = code_year(at)
            number = await conn.fetchval(_ALLOCATE, Line.CITIZEN.value, year)
            code = format_code(Line.CITIZEN, year, number)
            ticket_id = await conn.fetchval(
                "INSERT INTO tickets (code, line, category, subcategory, source, caller_phone,"
                " caller_raw, description, location, lat, long, locality, created_at, updated_at)"
                " VALUES ($1, '1022', $2, $3, 'open311', $4, $5, $6, $7, $8, $9, $10, $11, $11)"
                " RETURNING id",
                code,
                request.category.value,
                request.subcategory,
                request.caller_phone,
                request.caller_raw,
                request.description,
                request.address,
                request.lat,
                request.long,
                request.locality,
                at,
            )
            await conn.execute(
                "INSERT INTO ticket_events (ticket_id, at, actor, kind, data)"
                " VALUES ($1, $2, $3, $4, $5::jsonb)",
                ticket_id,
                at,
                f"open311:{request.client}",
                EventKind.CREATED,
                json.dumps(
                    {"source": "open311", "client": request.client, **request.contact},
                    ensure_ascii=False,
                ),
            )
        return code
