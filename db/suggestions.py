"""Operators' corrections of suggested categories/agencies, which the suggester learns from."""

from __future__ import annotations

import asyncpg

from speech.suggest import Correction
from tickets.model import Category


class PostgresCorrections:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, ticket_id: int, category: Category, agency: str, operator: str) -> int:
        """Store the operator's verdict next to the text and the suggestion it corrects."""
        return int(
            await self._pool.fetchval(
                "INSERT INTO category_corrections (ticket_id, text, suggested_category,"
                " suggested_agency, category, agency_code, operator)"
                " SELECT t.id, coalesce(t.transcript, t.description, ''), s.category,"
                " s.agency_code, $2, $3, $4"
                " FROM tickets t LEFT JOIN ticket_suggestions s ON s.ticket_id = t.id"
                " WHERE t.id = $1 RETURNING id",
                ticket_id,
                category.value,
                agency,
                operator,
            )
        )

    async def all(self, limit: int = 50_000) -> list[Correction]:
        """The latest correction of each ticket, newest tickets first."""
        rows = await self._pool.fetch(
            "SELECT DISTINCT ON (ticket_id) text, category, agency_code"
            " FROM category_corrections WHERE text <> ''"
            " ORDER BY ticket_id DESC, id DESC LIMIT $1",
            limit,
        )
        return [Correction(r["text"], Category(r["category"]), r["agency_code"]) for r in rows]
