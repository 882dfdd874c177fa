"""Users, argon2 password hashes and bearer tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from tickets.model import Role, User

MIN_PASSWORD_LENGTH = 10


class InvalidUser(Exception):
    error_id = "invalid-user"


class UserRepository(Protocol):
    async def add(
        self, username: str, password_hash: str, role: Role, agency_code: str | None
    ) -> User: ...

    async def credentials(self, username: str) -> tuple[User, str] | None: ...

    async def set_password_hash(self, user_id: int, password_hash: str) -> None: ...

    async def add_token(self, token_hash: bytes, user_id: int, expires_at: datetime) -> None: ...

    async def user_for_token(self, token_hash: bytes) -> User | None: ...

    async def purge_expired_tokens(self) -> int: ...


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class AuthService:
    def __init__(self, users: UserRepository, *, token_ttl: timedelta) -> None:
        self._users = users
        self._ttl = token_ttl
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    async def add_user(
        self, username: str, password: str, role: Role, agency_code: str | None = None
    ) -> User:
        if not username.isascii() or not username.replace(".", "").replace("_", "").isalnum():
            raise InvalidUser("username: letters, digits, '.' and '_' only")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidUser(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        if (role is Role.AGENCY) != (agency_code is not None):
            raise InvalidUser("--agency is required for the agency role and only for it")
        return await self._users.add(username, self._hasher.hash(password), role, agency_code)

    async def set_password(self, username: str, password: str) -> bool:
        """Replace a user's password; False when there is no such user."""
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidUser(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        found = await self._users.credentials(username)
        if found is None:
            return False
        await self._users.set_password_hash(found[0].id, self._hasher.hash(password))
        return True

    async def login(self, username: str, password: str) -> str | None:
        """A new bearer token, or ``None``; the same work is done for unknown users."""
        found = await self._users.credentials(username)
        stored = found[1] if found else self._dummy_hash
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if found is None:
            return None
        user = found[0]
        if self._hasher.check_needs_rehash(stored):
            await self._users.set_password_hash(user.id, self._hasher.hash(password))
        await self._users.purge_expired_tokens()
        token = secrets.token_urlsafe(32)
        await self._users.add_token(_token_hash(token), user.id, datetime.now(UTC) + self._ttl)
        return token

    async def authenticate(self, token: str) -> User | None:
        return await self._users.user_for_token(_token_hash(token))
