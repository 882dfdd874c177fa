"""Users and bearer tokens (stored as SHA-256 hashes; the token itself is never stored), and
the administrator's changes to accounts, each audited in the same transaction (``admin_audit``,
as for the reference data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from db.province import audit
from tickets.errors import DomainError, NotFound
from tickets.model import Credentials, Role, User


def _user(row: asyncpg.Record) -> User:
    return User(row["id"], row["username"], Role(row["role"]), row["agency_code"])


class UsernameTaken(DomainError):
    error_id = "username-taken"
    status = 409


class UserNotFound(NotFound):
    error_id = "user-not-found"


class LastAdmin(DomainError):
    """The change would leave no active administrator."""

    error_id = "last-admin"
    status = 409


@dataclass(frozen=True)
class UserAccount:
    """An account as the administrator sees it (never its password hash)."""

    username: str
    role: Role
    agency_code: str | None
    active: bool
    failed_logins: int  # failed logins for this name in the last day, from every address
    locked_until: datetime | None  # the latest wait they set for some address
    created_at: datetime

    def audited(self) -> dict[str, Any]:
        return {"role": self.role.value, "agency_code": self.agency_code, "active": self.active}


@dataclass(frozen=True)
class AccountChange:
    """What an administrator changes; ``password_hash`` also lifts the waits after failed
    logins."""

    role: Role
    agency_code: str | None
    active: bool
    password_hash: str | None = None


# An account with its failed logins (from every address) and the latest wait they set.
_ACCOUNT = """
SELECT u.username, u.role, u.agency_code, u.active, u.created_at,
       coalesce(f.failures, 0) AS failed_logins, f.blocked_until AS locked_until
FROM users u
LEFT JOIN LATERAL (
    SELECT sum(l.failures)::int AS failures, max(l.blocked_until) AS blocked_until
    FROM login_failures l WHERE l.username = u.username
) f ON true
"""


def _account(row: asyncpg.Record | None) -> UserAccount:
    assert row is not None
    return UserAccount(
        row["username"],
        Role(row["role"]),
        row["agency_code"],
        row["active"],
        row["failed_logins"],
        row["locked_until"],
        row["created_at"],
    )


class PostgresUserRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(
        self, username: str, password_hash: str, role: Role, agency_code: str | None
    ) -> User:
        try:
            row = await self._pool.fetchrow(
                "INSERT INTO users (username, password_hash, role, agency_code)"
                " VALUES ($1, $2, $3, $4) RETURNING id, username, role, agency_code",
                username,
                password_hash,
                role.value,
                agency_code,
            )
        except asyncpg.UniqueViolationError as err:
            raise UsernameTaken(f"user {username!r} already exists") from err
        assert row is not None
        return _user(row)

    async def credentials(self, username: str) -> Credentials | None:
        row = await self._pool.fetchrow(
            "SELECT id, username, role, agency_code, password_hash, active"
            " FROM users WHERE username = $1",
            username,
        )
        if row is None:
            return None
        return Credentials(_user(row), row["password_hash"], row["active"])

    # ------------------------------------------------ failed logins per (name, client address)

    async def blocked_until(self, username: str, address: str) -> datetime | None:
        value: datetime | None = await self._pool.fetchval(
            "SELECT blocked_until FROM login_failures WHERE username = $1 AND address = $2",
            username,
            address,
        )
        return value

    async def record_failure(
        self, username: str, address: str, at: datetime, forget_before: datetime
    ) -> int:
        """Count a failure of the pair; one after ``forget_before`` of quiet starts again at 1.
        Returns the failures in a row."""
        failures: int = await self._pool.fetchval(
            "INSERT INTO login_failures (username, address, failures, last_at)"
            " VALUES ($1, $2, 1, $3) ON CONFLICT (username, address) DO UPDATE SET"
            " failures = CASE WHEN login_failures.last_at < $4 THEN 1"
            " ELSE login_failures.failures + 1 END, last_at = $3"
            " RETURNING failures",
            username,
            address,
            at,
            forget_before,
        )
        return failures

    async def block(self, username: str, address: str, until: datetime) -> None:
        await self._pool.execute(
            "UPDATE login_failures SET blocked_until = $3 WHERE username = $1 AND address = $2",
            username,
            address,
            until,
        )

    async def clear_failures(self, username: str, address: str | None = None) -> None:
        """The pair's failures, or (``address`` None) the name's from everywhere."""
        await self._pool.execute(
            "DELETE FROM login_failures WHERE username = $1 AND ($2::text IS NULL OR address = $2)",
            username,
            address,
        )

    async def purge_failures(self, before: datetime) -> int:
        status = await self._pool.execute(
            "DELETE FROM login_failures WHERE last_at < $1 AND"
            " (blocked_until IS NULL OR blocked_until < $1)",
            before,
        )
        return int(status.split()[-1])

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._pool.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash
        )

    async def add_token(
        self, token_hash: bytes, user_id: int, expires_at: datetime, kind: str = "api"
    ) -> None:
        await self._pool.execute(
            "INSERT INTO auth_tokens (token_hash, user_id, expires_at, kind)"
            " VALUES ($1, $2, $3, $4)",
            token_hash,
            user_id,
            expires_at,
            kind,
        )

    async def user_for_token(self, token_hash: bytes, kind: str = "api") -> User | None:
        row = await self._pool.fetchrow(
            "SELECT u.id, u.username, u.role, u.agency_code FROM auth_tokens a"
            " JOIN users u ON u.id = a.user_id"
            " WHERE a.token_hash = $1 AND a.kind = $2 AND a.expires_at > now() AND u.active",
            token_hash,
            kind,
        )
        return None if row is None else _user(row)

    async def delete_token(self, token_hash: bytes) -> None:
        await self._pool.execute("DELETE FROM auth_tokens WHERE token_hash = $1", token_hash)

    async def end_tokens(self, user_id: int, keep: bytes | None = None) -> int:
        """End every token and session of the user but ``keep`` (the one asking)."""
        status = await self._pool.execute(
            "DELETE FROM auth_tokens WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
            user_id,
            keep,
        )
        return int(status.split()[-1])

    async def purge_expired_tokens(self) -> int:
        status = await self._pool.execute("DELETE FROM auth_tokens WHERE expires_at <= now()")
        return int(status.split()[-1])

    # ------------------------------------------------------------ the administrator's changes

    async def accounts(self, *, limit: int, offset: int) -> tuple[list[UserAccount], int]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                _ACCOUNT + " ORDER BY u.username LIMIT $1 OFFSET $2", limit, offset
            )
            total = await conn.fetchval("SELECT count(*) FROM users")
        return [_account(r) for r in rows], int(total)

    async def account(self, username: str) -> UserAccount | None:
        row = await self._pool.fetchrow(_ACCOUNT + " WHERE u.username = $1", username)
        return None if row is None else _account(row)

    async def create_account(
        self,
        actor: str,
        username: str,
        password_hash: str,
        role: Role,
        agency_code: str | None,
    ) -> UserAccount:
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await conn.execute(
                    "INSERT INTO users (username, password_hash, role, agency_code)"
                    " VALUES ($1, $2, $3, $4)",
                    username,
                    password_hash,
                    role.value,
                    agency_code,
                )
                created = _account(
                    await conn.fetchrow(_ACCOUNT + " WHERE u.username = $1", username)
                )
                await audit(conn, actor, "create", "user", username, None, created.audited())
        except asyncpg.UniqueViolationError as err:
            raise UsernameTaken(f"user {username!r} already exists") from err
        return created

    async def change_account(
        self, actor: str, username: str, change: AccountChange, *, keep: bytes | None = None
    ) -> UserAccount:
        """Apply ``change``; refused (``LastAdmin``) when no active administrator would be left.
        An account switched off, or given a new password, loses its tokens and sessions but
        ``keep`` (the one asking: an administrator changing their own password stays logged
        in there); a new password also lifts the waits after failed logins."""
        async with self._pool.acquire() as conn, conn.transaction():
            # Every active administrator's row is locked first, so two concurrent demotions
            # cannot each see the other as the remaining one.
            admins = await conn.fetch(
                "SELECT username FROM users WHERE role = 'admin' AND active ORDER BY id FOR UPDATE"
            )
            user_id = await conn.fetchval(
                "SELECT id FROM users WHERE username = $1 FOR UPDATE", username
            )
            if user_id is None:
                raise UserNotFound(f"no user {username!r}")
            before = _account(await conn.fetchrow(_ACCOUNT + " WHERE u.username = $1", username))
            stays_admin = change.role is Role.ADMIN and change.active
            others = [a["username"] for a in admins if a["username"] != username]
            if not stays_admin and not others:
                raise LastAdmin("at least one active administrator must remain")
            await conn.execute(
                "UPDATE users SET role = $2, agency_code = $3, active = $4,"
                " password_hash = coalesce($5, password_hash) WHERE id = $1",
                user_id,
                change.role.value,
                change.agency_code,
                change.active,
                change.password_hash,
            )
            if change.password_hash is not None:
                await conn.execute("DELETE FROM login_failures WHERE username = $1", username)
            ended = 0
            if not change.active or change.password_hash is not None:
                status = await conn.execute(
                    "DELETE FROM auth_tokens WHERE user_id = $1 AND token_hash IS DISTINCT FROM $2",
                    user_id,
                    keep,
                )
                ended = int(status.split()[-1])
            after = _account(await conn.fetchrow(_ACCOUNT + " WHERE u.username = $1", username))
            await audit(
                conn,
                actor,
                "update",
                "user",
                username,
                {**before.audited(), "locked_until": before.locked_until},
                {
                    **after.audited(),
                    "password_changed": change.password_hash is not None,
                    "tokens_ended": ended,
                },
            )
        return after
