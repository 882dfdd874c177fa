"""Users and bearer tokens (stored as SHA-256 hashes; the token itself is never stored)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from tickets.model import Role, User


def _user(row: asyncpg.Record) -> User:
    return User(row["id"], row["username"], Role(row["role"]), row["agency_code"])


class UsernameTaken(Exception):
    error_id = "username-taken"


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

    async def credentials(self, username: str) -> tuple[User, str] | None:
        row = await self._pool.fetchrow(
            "SELECT id, username, role, agency_code, password_hash FROM users WHERE username = $1",
            username,
        )
        return None if row is None else (_user(row), row["password_hash"])

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._pool.execute(
            "UPDATE users SET password_hash = $2 WHERE id = $1", user_id, password_hash
        )

    async def add_token(self, token_hash: bytes, user_id: int, expires_at: datetime) -> None:
        await self._pool.execute(
            "INSERT INTO auth_tokens (token_hash, user_id, expires_at) VALUES ($1, $2, $3)",
            token_hash,
            user_id,
            expires_at,
        )

    async def user_for_token(self, token_hash: bytes) -> User | None:
        row = await self._pool.fetchrow(
            "SELECT u.id, u.username, u.role, u.agency_code FROM auth_tokens a"
            " JOIN users u ON u.id = a.user_id"
            " WHERE a.token_hash = $1 AND a.expires_at > now()",
            token_hash,
        )
        return None if row is None else _user(row)

    async def purge_expired_tokens(self) -> int:
        status = await self._pool.execute("DELETE FROM auth_tokens WHERE expires_at <= now()")
        return int(status.split()[-1])
