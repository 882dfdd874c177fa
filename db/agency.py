"""Storage for the agency side and the citizen lookup: an agency's inbox (overdue first, then
by deadline), the files attached to answers (``tickets.attachments.AttachmentStore``), notes on
a ticket's timeline, and what the public lookup may read of a ticket."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tickets.attachments import Attachment, Upload
from tickets.events import EventKind
from tickets.model import TicketStatus

# What a citizen may see happen to a ticket (the rest stays internal).
PUBLIC_EVENT_KINDS = tuple(
    EventKind(k)
    for k in (
        "forward", "reassign", "accept", "respond", "close", "completed", "reopen", "merge",
        "transferred",
    )
)  # fmt: skip


@dataclass(frozen=True)
class InboxItem:
    id: int
    code: str
    category: str
    category_name_vi: str | None
    category_name_en: str | None
    subcategory: str | None
    locality: str | None
    locality_name_vi: str | None
    locality_name_en: str | None
    status: TicketStatus
    caller_phone: str | None
    request_text: str | None  # the description, else the transcript, in full
    created_at: datetime
    deadline_at: datetime | None
    accepted_at: datetime | None
    responded_at: datetime | None
    response: str | None
    overdue: bool
    attachments: int


@dataclass(frozen=True)
class PublicStep:
    at: datetime
    kind: str
    agency_name_vi: str | None
    agency_name_en: str | None
    response: str | None


@dataclass(frozen=True)
class PublicTicket:
    """A ticket as the lookup reads it; ``caller_phone`` is only compared, never shown."""

    code: str
    caller_phone: str | None
    status: TicketStatus
    created_at: datetime
    steps: list[PublicStep]


_INBOX = """
SELECT t.id, t.code, t.category, c.name_vi AS category_name_vi, c.name_en AS category_name_en,
       t.subcategory, t.locality, l.name_vi AS locality_name_vi, l.name_en AS locality_name_en,
       t.status, t.caller_phone, coalesce(t.description, t.transcript) AS request_text,
       t.created_at, t.deadline_at, t.accepted_at, t.responded_at, t.response,
       (t.deadline_at < $2 AND t.status IN ('forwarded', 'accepted')) AS overdue,
       (SELECT count(*) FROM ticket_attachments a WHERE a.ticket_id = t.id) AS attachments,
       count(*) OVER () AS total
FROM tickets t
LEFT JOIN categories c ON c.code = t.category
LEFT JOIN localities l ON l.code = t.locality
WHERE t.agency_code = $1 AND t.status = ANY($3::text[])
ORDER BY overdue DESC, t.deadline_at ASC NULLS LAST, t.created_at DESC, t.id DESC
LIMIT $4 OFFSET $5
"""

_ATTACHMENT = (
    "SELECT id, ticket_id, filename, stored_name, content_type, size, sha256, uploaded_by, at"
    " FROM ticket_attachments"
)


def _attachment(row: asyncpg.Record) -> Attachment:
    return Attachment(
        id=row["id"],
        ticket_id=row["ticket_id"],
        filename=row["filename"],
        stored_name=row["stored_name"],
        content_type=row["content_type"],
        size=row["size"],
        sha256=row["sha256"],
        uploaded_by=row["uploaded_by"],
        at=row["at"],
    )


def _data(raw: Any) -> dict[str, Any]:
    value = json.loads(raw) if isinstance(raw, str) else raw
    return value if isinstance(value, dict) else {}


class PostgresAgencyRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def inbox(
        self,
        agency_code: str,
        statuses: frozenset[TicketStatus],
        now: datetime,
        *,
        limit: int,
        offset: int,
    ) -> tuple[list[InboxItem], int]:
        """One page of the agency's tickets in ``statuses`` and how many there are in all."""
        rows = await self._pool.fetch(
            _INBOX,
            agency_code,
            now,
            sorted(s.value for s in statuses),
            limit,
            offset,
        )
        total = rows[0]["total"] if rows else await self._count(agency_code, statuses)
        items = [
            InboxItem(
                id=r["id"],
                code=r["code"],
                category=r["category"],
                category_name_vi=r["category_name_vi"],
                category_name_en=r["category_name_en"],
                subcategory=r["subcategory"],
                locality=r["locality"],
                locality_name_vi=r["locality_name_vi"],
                locality_name_en=r["locality_name_en"],
                status=TicketStatus(r["status"]),
                caller_phone=r["caller_phone"],
                request_text=r["request_text"],
                created_at=r["created_at"],
                deadline_at=r["deadline_at"],
                accepted_at=r["accepted_at"],
                responded_at=r["responded_at"],
                response=r["response"],
                overdue=bool(r["overdue"]),
                attachments=int(r["attachments"]),
            )
            for r in rows
        ]
        return items, int(total)

    async def _count(self, agency_code: str, statuses: frozenset[TicketStatus]) -> int:
        """The total when the page is empty (an offset past the end)."""
        value = await self._pool.fetchval(
            "SELECT count(*) FROM tickets WHERE agency_code = $1 AND status = ANY($2::text[])",
            agency_code,
            sorted(s.value for s in statuses),
        )
        return int(value)

    async def note(
        self, ticket_id: int, at: datetime, actor: str, kind: EventKind, data: dict[str, Any]
    ) -> None:
        """An event on the ticket's timeline without a status change."""
        await self._pool.execute(
            "INSERT INTO ticket_events (ticket_id, at, actor, kind, data)"
            " VALUES ($1, $2, $3, $4, $5::jsonb)",
            ticket_id,
            at,
            actor,
            kind,
            json.dumps(data, ensure_ascii=False),
        )

    async def add_attachment(
        self, ticket_id: int, upload: Upload, uploaded_by: str, at: datetime
    ) -> Attachment:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "INSERT INTO ticket_attachments (ticket_id, filename, stored_name, content_type,"
                " size, sha256, uploaded_by, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                " RETURNING id, ticket_id, filename, stored_name, content_type, size, sha256,"
                " uploaded_by, at",
                ticket_id,
                upload.filename,
                upload.stored_name,
                upload.content_type,
                upload.size,
                upload.sha256,
                uploaded_by,
                at,
            )
            assert row is not None
            await conn.execute(
                "INSERT INTO ticket_events (ticket_id, at, actor, kind, data)"
                " VALUES ($1, $2, $3, $4, $5::jsonb)",
                ticket_id,
                at,
                uploaded_by,
                EventKind.ATTACHMENT_ADDED,
                json.dumps(
                    {
                        "attachment": row["id"],
                        "filename": upload.filename,
                        "content_type": upload.content_type,
                        "size": upload.size,
                    },
                    ensure_ascii=False,
                ),
            )
        return _attachment(row)

    async def attachments(self, ticket_id: int) -> list[Attachment]:
        rows = await self._pool.fetch(
            _ATTACHMENT + " WHERE ticket_id = $1 ORDER BY at, id", ticket_id
        )
        return [_attachment(r) for r in rows]

    async def attachment(self, ticket_id: int, attachment_id: int) -> Attachment | None:
        row = await self._pool.fetchrow(
            _ATTACHMENT + " WHERE ticket_id = $1 AND id = $2", ticket_id, attachment_id
        )
        return None if row is None else _attachment(row)

    async def public_ticket(self, code: str) -> PublicTicket | None:
        """The ticket ``code`` with only the steps a citizen may see (agency names, the
        published responses), oldest first."""
        ticket = await self._pool.fetchrow(
            "SELECT id, code, caller_phone, status, created_at FROM tickets WHERE code = $1", code
        )
        if ticket is None:
            return None
        rows = await self._pool.fetch(
            "SELECT e.at, e.kind, e.data, a.name_vi, a.name_en FROM ticket_events e"
            " LEFT JOIN agencies a ON a.code = e.data->>'agency'"
            " WHERE e.ticket_id = $1 AND e.kind = ANY($2::text[]) ORDER BY e.at, e.id",
            ticket["id"],
            list(PUBLIC_EVENT_KINDS),
        )
        steps = []
        for r in rows:
            response = _data(r["data"]).get("response") if r["kind"] == "respond" else None
            steps.append(
                PublicStep(
                    at=r["at"],
                    kind=r["kind"],
                    agency_name_vi=r["name_vi"],
                    agency_name_en=r["name_en"],
                    response=response if isinstance(response, str) else None,
                )
            )
        return PublicTicket(
            code=ticket["code"],
            caller_phone=ticket["caller_phone"],
            status=TicketStatus(ticket["status"]),
            created_at=ticket["created_at"],
            steps=steps,
        )
