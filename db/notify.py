"""The notification outbox (``notify.service.OutboxStore``) and the insert that the back office
runs inside the transaction of a ticket change."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from db.pool import Pool
from notify.events import events_for, is_urgent
from notify.service import DeliveryState, Notification, Refresher, ZaloTokens
from notify.templates import Event

Connection = asyncpg.Connection | PoolConnectionProxy

_ENQUEUE = """
INSERT INTO notifications (ticket_id, event, channel, phone, params, urgent, created_at)
SELECT t.id, e.event,
       -- Zalo first when it is set up (the survey answer comes back by SMS)
       CASE WHEN e.event <> 'survey' AND EXISTS (SELECT 1 FROM zalo_tokens) THEN 'zalo'
            ELSE 'sms' END,
       t.caller_phone,
       jsonb_build_object('code', t.code, 'line', t.line, 'agency', a.name_vi), $3, $4
FROM tickets t
LEFT JOIN agencies a ON a.code = t.agency_code
CROSS JOIN unnest($2::text[]) AS e(event)
WHERE t.id = $1 AND t.caller_phone IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM notify_optouts o WHERE o.phone = t.caller_phone)
ON CONFLICT (ticket_id, event, channel) DO NOTHING
"""


async def enqueue_notifications(
    conn: Connection, ticket_id: int, line: str, action: str, at: datetime
) -> None:
    """Outbox rows for what this change tells the citizen; once per (ticket, event, channel)."""
    events = events_for(action, line)
    if events:
        await conn.execute(_ENQUEUE, ticket_id, [e.value for e in events], is_urgent(line), at)


# A claim pushes the row's next attempt past the lease and stamps it with the claimer's token;
# every later write of that claim names the token (``lease = $2``), so it changes nothing once the
# lease ran out and another worker claimed the row.
_CLAIM = """
UPDATE notifications SET attempts = attempts + 1, next_attempt_at = now() + $2::interval,
       lease = $3, updated_at = now()
WHERE id IN (
    SELECT id FROM notifications
    WHERE status = 'pending' AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id
    LIMIT $1
    FOR UPDATE SKIP LOCKED)
RETURNING id, ticket_id, event, channel, phone, params, urgent, attempts
"""

# The gateway's delivery report may arrive before the worker records the send (a fast SMSC): the
# row is then already delivered (or undelivered) and still under this claim's lease, which only
# another claim replaces; the send is recorded without undoing the report.
_MARK_SENT = """
UPDATE notifications SET status = CASE WHEN status = 'pending' THEN 'sent' ELSE status END,
       sent_at = coalesce(sent_at, now()), provider_id = $3, last_error = NULL,
       lease = NULL, updated_at = now()
WHERE id = $1 AND status IN ('pending', 'delivered', 'undelivered') AND lease = $2
"""
_RETRY_IN = """
UPDATE notifications SET next_attempt_at = now() + $3::interval, last_error = $4, lease = NULL,
       updated_at = now()
WHERE id = $1 AND status = 'pending' AND lease = $2
"""
_DEFER = """
UPDATE notifications SET next_attempt_at = $3, attempts = attempts - 1, lease = NULL,
       updated_at = now()
WHERE id = $1 AND status = 'pending' AND lease = $2
"""
_GIVE_UP = """
UPDATE notifications SET status = 'dead', last_error = $3, lease = NULL, updated_at = now()
WHERE id = $1 AND status = 'pending' AND lease = $2
"""
_CANCEL = """
UPDATE notifications SET status = 'cancelled', last_error = $3, lease = NULL, updated_at = now()
WHERE id = $1 AND status = 'pending' AND lease = $2
"""
_FALL_BACK = """
UPDATE notifications SET status = 'fallback', last_error = $3, lease = NULL, updated_at = now()
WHERE id = $1 AND status = 'pending' AND lease = $2
RETURNING ticket_id, event, phone, params, urgent
"""

_EXTEND = """
UPDATE notifications SET next_attempt_at = now() + $3::interval
WHERE id = ANY($1::bigint[]) AND status = 'pending' AND lease = $2
RETURNING id
"""


class PostgresOutbox:
    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def claim(self, limit: int, lease: timedelta) -> list[Notification]:
        token = uuid.uuid4().hex
        rows = await self._pool.fetch(_CLAIM, limit, lease, token)
        claimed = [
            Notification(
                id=r["id"],
                ticket_id=r["ticket_id"],
                event=Event(r["event"]),
                channel=r["channel"],
                phone=r["phone"],
                params=json.loads(r["params"]) if isinstance(r["params"], str) else r["params"],
                urgent=r["urgent"],
                attempts=r["attempts"],
                lease=token,
            )
            for r in rows
        ]
        return sorted(claimed, key=lambda n: n.id)

    async def extend(self, held: Sequence[Notification], lease: timedelta) -> set[int]:
        if not held:
            return set()
        rows = await self._pool.fetch(_EXTEND, [n.id for n in held], held[0].lease, lease)
        return {r["id"] for r in rows}

    async def _end(self, sql: str, n: Notification, *args: object) -> bool:
        status = await self._pool.execute(sql, n.id, n.lease, *args)
        return status.endswith(" 1")

    async def mark_sent(self, n: Notification, provider_id: str | None) -> bool:
        return await self._end(_MARK_SENT, n, provider_id)

    async def retry_in(self, n: Notification, delay: timedelta, error: str) -> bool:
        return await self._end(_RETRY_IN, n, delay, error)

    async def defer(self, n: Notification, at: datetime) -> bool:
        return await self._end(_DEFER, n, at)

    async def give_up(self, n: Notification, error: str) -> bool:
        return await self._end(_GIVE_UP, n, error)

    async def cancel(self, n: Notification, reason: str) -> bool:
        return await self._end(_CANCEL, n, reason)

    async def opted_out(self, phone: str) -> bool:
        found = await self._pool.fetchval("SELECT 1 FROM notify_optouts WHERE phone = $1", phone)
        return found is not None

    async def opt_out(self, phone: str) -> None:
        await self._pool.execute(
            "INSERT INTO notify_optouts (phone) VALUES ($1) ON CONFLICT DO NOTHING", phone
        )

    async def delivery_report(self, notification_id: int, state: DeliveryState) -> bool:
        """A late or repeated report never undoes ``delivered``; a delivery report may also
        overtake our own record of the send."""
        if state is DeliveryState.ACCEPTED:
            found = await self._pool.fetchval(
                "SELECT 1 FROM notifications WHERE id = $1", notification_id
            )
            return found is not None
        status = await self._pool.execute(
            "UPDATE notifications SET status = $2, sent_at = coalesce(sent_at, now()),"
            " delivered_at = CASE WHEN $2 = 'delivered' THEN now() END, updated_at = now()"
            " WHERE id = $1 AND status IN ('pending', 'sent', 'undelivered')",
            notification_id,
            state.value,
        )
        return status.endswith(" 1")

    async def survey_ticket(self, phone: str) -> int | None:
        value = await self._pool.fetchval(
            "SELECT n.ticket_id FROM notifications n JOIN tickets t ON t.id = n.ticket_id"
            " WHERE n.phone = $1 AND n.event = 'survey' AND n.status IN ('sent', 'delivered')"
            " AND t.status = 'responded' ORDER BY n.sent_at DESC, n.id DESC LIMIT 1",
            phone,
        )
        return None if value is None else int(value)

    async def fall_back(self, n: Notification, error: str) -> bool:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(_FALL_BACK, n.id, n.lease, error)
            if row is not None:
                await conn.execute(
                    "INSERT INTO notifications (ticket_id, event, channel, phone, params, urgent)"
                    " VALUES ($1, $2, 'sms', $3, $4, $5)"
                    " ON CONFLICT (ticket_id, event, channel) DO NOTHING",
                    row["ticket_id"],
                    row["event"],
                    row["phone"],
                    row["params"],
                    row["urgent"],
                )
            return row is not None

    async def zalo_delivered(self, msg_id: str) -> bool:
        status = await self._pool.execute(
            "UPDATE notifications SET status = 'delivered', delivered_at = now(),"
            " updated_at = now() WHERE provider_id = $1 AND channel = 'zalo'"
            " AND status IN ('pending', 'sent')",
            msg_id,
        )
        return status.endswith(" 1")


class PostgresZaloTokens:
    """The OA token pair in one row. The refresh token is single-use: whoever refreshes holds
    the row lock, and a caller that finds the access token already replaced uses the new one
    instead of spending the refresh token again."""

    def __init__(self, pool: Pool) -> None:
        self._pool = pool

    async def seed(self, refresh_token: str) -> None:
        """First start: the refresh token from the administrator; an expired access token."""
        await self._pool.execute(
            "INSERT INTO zalo_tokens (id, access_token, refresh_token, expires_at)"
            " VALUES (1, '', $1, 'epoch') ON CONFLICT (id) DO NOTHING",
            refresh_token,
        )

    async def current(self) -> ZaloTokens | None:
        row = await self._pool.fetchrow(
            "SELECT access_token, expires_at FROM zalo_tokens WHERE id = 1"
        )
        return None if row is None else ZaloTokens(row["access_token"], row["expires_at"])

    async def rotate(self, stale_access_token: str, refresher: Refresher) -> ZaloTokens:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                "SELECT access_token, refresh_token, expires_at FROM zalo_tokens"
                " WHERE id = 1 FOR UPDATE"
            )
            if row is None:
                raise LookupError("no Zalo tokens: set HOTLINE_ZALO_REFRESH_TOKEN")
            if row["access_token"] != stale_access_token:
                return ZaloTokens(row["access_token"], row["expires_at"])
            access, refresh, expires_in = await refresher(row["refresh_token"])
            expires_at = await conn.fetchval(
                "UPDATE zalo_tokens SET access_token = $1, refresh_token = $2,"
                " expires_at = now() + make_interval(secs => $3), updated_at = now()"
                " WHERE id = 1 RETURNING expires_at",
                access,
                refresh,
                float(expires_in),
            )
            return ZaloTokens(access, expires_at)
