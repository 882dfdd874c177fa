"""Reference data in PostgreSQL: localities, agencies, categories, subcategories, routing rules,
holidays and facilities. Loading a province file is idempotent (rows that exist are kept, so an
administrator's edits survive a reload); the administrator's edits are audited."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

import asyncpg

from db.migrations import Connection
from tickets.agencies import (
    Agency,
    CategoryInfo,
    Facility,
    Holiday,
    Locality,
    Province,
    RoutingRule,
    Subcategory,
)
from tickets.model import Category

COORDINATOR_KIND = "coordinator"


async def load_province(conn: Connection, province: Province) -> dict[str, int]:
    """Insert what is missing; returns how many rows of each kind were added."""
    added: dict[str, int] = {}
    async with conn.transaction():
        added["categories"] = await _insert(
            conn,
            "INSERT INTO categories (code, name_vi, name_en, deadline_days) VALUES ($1,$2,$3,$4)"
            " ON CONFLICT DO NOTHING",
            [(c.code.value, c.name_vi, c.name_en, c.deadline_days) for c in province.categories],
        )
        added["subcategories"] = await _insert(
            conn,
            "INSERT INTO subcategories (code, category, name_vi, name_en, deadline_days)"
            " VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
            [
                (s.code, s.category.value, s.name_vi, s.name_en, s.deadline_days)
                for s in province.subcategories
            ],
        )
        # parents first: the province, then districts, then wards
        order = {"province": 0, "district": 1, "ward": 2}
        localities = sorted(province.localities, key=lambda loc: order[loc.kind])
        added["localities"] = await _insert(
            conn,
            "INSERT INTO localities (code, kind, parent_code, name_vi, name_en, lat, long)"
            " VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT DO NOTHING",
            [
                (loc.code, loc.kind, loc.parent_code, loc.name_vi, loc.name_en, loc.lat, loc.long)
                for loc in localities
            ],
        )
        added["agencies"] = await _insert(
            conn,
            "INSERT INTO agencies (code, kind, name_vi, name_en, locality_code)"
            " VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
            [(a.code, a.kind, a.name_vi, a.name_en, a.locality_code) for a in province.agencies],
        )
        added["routing_rules"] = await _insert(
            conn,
            "INSERT INTO routing_rules (category, subcategory, locality_code, agency_code)"
            " VALUES ($1,$2,$3,$4) ON CONFLICT DO NOTHING",
            [
                (r.category.value, r.subcategory, r.locality_code, r.agency_code)
                for r in province.rules
            ],
        )
        added["holidays"] = await _insert(
            conn,
            "INSERT INTO holidays (day, name_vi, name_en) VALUES ($1,$2,$3) ON CONFLICT DO NOTHING",
            [(h.day, h.name_vi, h.name_en) for h in province.holidays],
        )
        added["facilities"] = await _insert(
            conn,
            "INSERT INTO facilities (code, kind, name_vi, name_en, locality_code, lat, long,"
            " ambulances, available) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9) ON CONFLICT DO NOTHING",
            [
                (
                    f.code,
                    f.kind,
                    f.name_vi,
                    f.name_en,
                    f.locality_code,
                    f.lat,
                    f.long,
                    f.ambulances,
                    f.available,
                )
                for f in province.facilities
            ],
        )
    return added


async def _insert(conn: Connection, sql: str, rows: list[tuple[Any, ...]]) -> int:
    count = 0
    for row in rows:
        status = await conn.execute(sql, *row)
        count += int(status.split()[-1])
    return count


async def read_province(conn: Connection) -> Province:
    """What is in the database now (with the administrator's edits)."""
    localities = tuple(
        Locality(
            r["code"], r["kind"], r["parent_code"], r["name_vi"], r["name_en"], r["lat"], r["long"]
        )
        for r in await conn.fetch("SELECT * FROM localities ORDER BY code")
    )
    agencies = tuple(
        Agency(r["code"], r["kind"], r["name_vi"], r["name_en"], r["locality_code"], r["active"])
        for r in await conn.fetch("SELECT * FROM agencies ORDER BY code")
    )
    categories = tuple(
        CategoryInfo(Category(r["code"]), r["name_vi"], r["name_en"], r["deadline_days"])
        for r in await conn.fetch("SELECT * FROM categories ORDER BY code")
    )
    subcategories = tuple(
        Subcategory(
            r["code"], Category(r["category"]), r["name_vi"], r["name_en"], r["deadline_days"]
        )
        for r in await conn.fetch("SELECT * FROM subcategories WHERE active ORDER BY code")
    )
    rules = tuple(
        RoutingRule(Category(r["category"]), r["subcategory"], r["locality_code"], r["agency_code"])
        for r in await conn.fetch("SELECT * FROM routing_rules ORDER BY id")
    )
    holidays = tuple(
        Holiday(r["day"], r["name_vi"], r["name_en"])
        for r in await conn.fetch("SELECT * FROM holidays ORDER BY day")
    )
    facilities = tuple(
        Facility(
            r["code"],
            r["kind"],
            r["name_vi"],
            r["name_en"],
            r["locality_code"],
            r["lat"],
            r["long"],
            r["ambulances"],
            r["available"],
            r["active"],
        )
        for r in await conn.fetch("SELECT * FROM facilities ORDER BY code")
    )
    roots = [loc.code for loc in localities if loc.parent_code is None]
    coordinators = [a.code for a in agencies if a.kind == COORDINATOR_KIND and a.active]
    return Province(
        code=roots[0] if roots else "",
        coordinator=coordinators[0] if coordinators else "",
        localities=localities,
        agencies=agencies,
        categories=categories,
        subcategories=subcategories,
        rules=rules,
        holidays=holidays,
        facilities=facilities,
    )


def _jsonable(value: Any) -> str | None:
    if value is None:
        return None
    data = asdict(value) if hasattr(value, "__dataclass_fields__") else value
    return json.dumps(data, ensure_ascii=False, default=str)


async def audit(
    conn: Connection,
    actor: str,
    action: str,
    entity: str,
    key: str,
    before: Any,
    after: Any,
) -> None:
    await conn.execute(
        "INSERT INTO admin_audit (actor, action, entity, entity_key, before, after)"
        " VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb)",
        actor,
        action,
        entity,
        key,
        _jsonable(before),
        _jsonable(after),
    )


class PostgresProvinceRepository:
    """Reads for routing and dispatch; the administrator's edits, each audited in the same
    transaction as the change."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def province(self) -> Province:
        async with self._pool.acquire() as conn:
            return await read_province(conn)

    async def load(self, province: Province) -> dict[str, int]:
        async with self._pool.acquire() as conn:
            return await load_province(conn, province)

    async def agency(self, code: str) -> Agency | None:
        row = await self._pool.fetchrow("SELECT * FROM agencies WHERE code = $1", code)
        if row is None:
            return None
        return Agency(
            row["code"],
            row["kind"],
            row["name_vi"],
            row["name_en"],
            row["locality_code"],
            row["active"],
        )

    async def save_agency(self, actor: str, agency: Agency) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            before = await conn.fetchrow(
                "SELECT * FROM agencies WHERE code = $1 FOR UPDATE", agency.code
            )
            await conn.execute(
                "INSERT INTO agencies (code, kind, name_vi, name_en, locality_code, active)"
                " VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (code) DO UPDATE SET kind = $2,"
                " name_vi = $3, name_en = $4, locality_code = $5, active = $6",
                agency.code,
                agency.kind,
                agency.name_vi,
                agency.name_en,
                agency.locality_code,
                agency.active,
            )
            await audit(
                conn,
                actor,
                "update" if before else "create",
                "agency",
                agency.code,
                dict(before) if before else None,
                agency,
            )

    async def save_rule(self, actor: str, rule: RoutingRule) -> None:
        key = f"{rule.category.value}/{rule.subcategory or '*'}/{rule.locality_code or '*'}"
        async with self._pool.acquire() as conn, conn.transaction():
            before = await conn.fetchrow(
                "SELECT category, subcategory, locality_code, agency_code FROM routing_rules"
                " WHERE category = $1 AND subcategory IS NOT DISTINCT FROM $2"
                " AND locality_code IS NOT DISTINCT FROM $3 FOR UPDATE",
                rule.category.value,
                rule.subcategory,
                rule.locality_code,
            )
            await conn.execute(
                "INSERT INTO routing_rules (category, subcategory, locality_code, agency_code)"
                " VALUES ($1,$2,$3,$4) ON CONFLICT (category, subcategory, locality_code)"
                " DO UPDATE SET agency_code = $4",
                rule.category.value,
                rule.subcategory,
                rule.locality_code,
                rule.agency_code,
            )
            await audit(
                conn,
                actor,
                "update" if before else "create",
                "routing_rule",
                key,
                dict(before) if before else None,
                rule,
            )

    async def set_holiday(self, actor: str, holiday: Holiday) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            before = await conn.fetchrow("SELECT * FROM holidays WHERE day = $1", holiday.day)
            await conn.execute(
                "INSERT INTO holidays (day, name_vi, name_en) VALUES ($1,$2,$3)"
                " ON CONFLICT (day) DO UPDATE SET name_vi = $2, name_en = $3",
                holiday.day,
                holiday.name_vi,
                holiday.name_en,
            )
            await audit(
                conn,
                actor,
                "update" if before else "create",
                "holiday",
                holiday.day.isoformat(),
                dict(before) if before else None,
                holiday,
            )

    async def set_category_deadline(self, actor: str, category: Category, days: int | None) -> None:
        async with self._pool.acquire() as conn, conn.transaction():
            before = await conn.fetchrow("SELECT * FROM categories WHERE code = $1", category.value)
            await conn.execute(
                "UPDATE categories SET deadline_days = $2 WHERE code = $1", category.value, days
            )
            await audit(
                conn,
                actor,
                "update",
                "category",
                category.value,
                dict(before) if before else None,
                {"deadline_days": days},
            )

    async def set_subcategory_deadline(self, actor: str, code: str, days: int | None) -> bool:
        """``False`` when there is no such subcategory. ``None``: the category's deadline."""
        async with self._pool.acquire() as conn, conn.transaction():
            before = await conn.fetchrow(
                "SELECT * FROM subcategories WHERE code = $1 FOR UPDATE", code
            )
            if before is None:
                return False
            await conn.execute(
                "UPDATE subcategories SET deadline_days = $2 WHERE code = $1", code, days
            )
            await audit(
                conn, actor, "update", "subcategory", code, dict(before), {"deadline_days": days}
            )
        return True

    async def audit_trail(
        self, entity: str | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT at, actor, action, entity, entity_key, before, after FROM admin_audit"
            " WHERE $1::text IS NULL OR entity = $1 ORDER BY at DESC, id DESC LIMIT $2 OFFSET $3",
            entity,
            limit,
            offset,
        )
        return [
            {
                "at": r["at"].isoformat(),
                "actor": r["actor"],
                "action": r["action"],
                "entity": r["entity"],
                "key": r["entity_key"],
                "before": json.loads(r["before"]) if r["before"] else None,
                "after": json.loads(r["after"]) if r["after"] else None,
            }
            for r in rows
        ]
