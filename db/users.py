"""Users and bearer tokens (stored as SHA-256 hashes; the token itself is never stored), and
the administrator's changes to accounts, each audited in the same transaction (``admin_audit``,
as for the reference data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
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
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime

    def audited(self) -> dict[str, Any]:
        return {"role": self.role.value, "agency_code": self.agency_code, "active": self.active}


@dataclass(frozen=True)
class AccountChange:
    """What an administrator changes; ``password_hash`` also lifts a lockout."""

    role: Role
    agency_code: str | None
    active: bool
    password_hash: str | None = None


def _account(row: asyncpg.Record) -> UserAccount:
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
            "SELECT id, username, role, agency_code, password_hash, locked_until, active"
            " FROM users WHERE username = $1",
            username,
        )
        if row is None:
            return None
        return Credentials(_user(row), row["password_hash"], row["locked_until"], row["active"])

    async def record_failure(
        self, user_id: int, max_failures: int, lock_for: timedelta
    ) -> datetime | None:
        """Count a failed login; the ``max_failures``-th in a row locks the account for
        ``lock_for`` (and starts the count again). Returns the end of a lockout just set."""
        row = await self._pool.fetchrow(
            "UPDATE users SET"
            " failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,"
            " locked_until = CASE WHEN failed_logins + 1 >= $2 THEN now() + $3"
            " ELSE locked_until END"
            " WHERE id = $1 RETURNING failed_logins, locked_until",
            user_id,
            max_failures,
            lock_for,
        )
        if row is None or row["failed_logins"] != 0:
            return None
        locked: datetime | None = row["locked_until"]
        return locked

    async def clear_failures(self, user_id: int) -> None:
        await self._pool.execute(
            "UPDATE users SET failed_logins = 0, locked_until = NULL"
            " WHERE id = $1 AND (failed_logins <> 0 OR locked_until IS NOT NULL)",
            user_id,
        )

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

    async def purge_expired_tokens(self) -> int:
        status = await self._pool.execute("DELETE FROM auth_tokens WHERE expires_at <= now()")
        return int(status.split()[-1])

    # ------------------------------------------------------------ the administrator's changes

    async def accounts(self, *, limit: int, offset: int) -> tuple[list[UserAccount], int]:
        async with self._pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT username, role, agency_code, active, failed_logins, locked_until,"
                " created_at FROM users ORDER BY username LIMIT $1 OFFSET $2",
                limit,
                offset,
            )
            total = await conn.fetchval("SELECT count(*) FROM users")
        return [_account(r) for r in rows], int(total)

    async def account(self, username: str) -> UserAccount | None:
        row = await self._pool.fetchrow(
            "SELECT username, role, agency_code, active, failed_logins, locked_until,"
            " created_at FROM users WHERE username = $1",
            username,
        )
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
                row = await conn.fetchrow(
                    "INSERT INTO users (username, password_hash, role, agency_code)"
                    " VALUES ($1, $2, $3, $4) RETURNING username, role, agency_code, active,"
                    " failed_logins, locked_until, created_at",
                    username,
                    password_hash,
                    role.value,
                    agency_code,
                )
                assert row is not None
                created = _account(row)
                await audit(conn, actor, "create", "user", username, None, created.audited())
        except asyncpg.UniqueViolationError as err:
            raise UsernameTaken(f"user {username!r} already exists") from err
        return created

    async def change_account(self, actor: str, username: str, change: AccountChange) -> UserAccount:
        """Apply ``change``; refused (``LastAdmin``) when no active administrator would be left.
        An account switched off, or given a new password by someone else, loses its tokens and
        sessions (an administrator changing their own password stays logged in)."""
        async with self._pool.acquire() as conn, conn.transaction():
            # Every active administrator's row is locked first, so two concurrent demotions
            # cannot each see the other as the remaining one.
            admins = await conn.fetch(
                "SELECT username FROM users WHERE role = 'admin' AND active ORDER BY id FOR UPDATE"
            )
            row = await conn.fetchrow(
                "SELECT id, username, role, agency_code, active, failed_logins, locked_until,"
                " created_at FROM users WHERE username = $1 FOR UPDATE",
                username,
            )
            if row is None:
                raise UserNotFound(f"no user {username!r}")
            before = _account(row)
            stays_admin = change.role is Role.ADMIN and change.active
            others = [a["username"] for a in admins if a["username"] != username]
            if not stays_admin and not others:
                raise LastAdmin("at least one active administrator must remain")
            updated = await conn.fetchrow(
                "UPDATE users SET role = $2, agency_code = $3, active = $4,"
                " password_hash = coalesce($5, password_hash),"
                " failed_logins = CASE WHEN $5::text IS NULL THEN failed_logins ELSE 0 END,"
                " locked_until = CASE WHEN $5::text IS NULL THEN locked_until ELSE NULL END"
                " WHERE id = $1 RETURNING username, role, agency_code, active, failed_logins,"
                " locked_until, created_at",
                row["id"],
                change.role.value,
                change.agency_code,
                change.active,
                change.password_hash,
            )
            assert updated is not None
            after = _account(updated)
            ended = 0
            new_password = change.password_hash is not None and username != actor
            if not change.active or new_password:
                status = await conn.execute("DELETE FROM auth_tokens WHERE user_id = $1", row["id"])
                ended = int(status.split()[-1])
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
