"""Users, argon2 password hashes and bearer tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from runtime.secrets_compare import same_secret
from tickets.model import Credentials, Role, User

logger = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 10


class InvalidUser(Exception):
    error_id = "invalid-user"


class TokenKind(StrEnum):
    """An API bearer token, or a browser session (cookie; its writes need the CSRF token)."""

    API = "api"
    SESSION = "session"


class LoginStatus(StrEnum):
    OK = "ok"
    INVALID = "invalid"
    LOCKED = "locked"


@dataclass(frozen=True)
class LoginResult:
    status: LoginStatus
    token: str | None = None
    locked_until: datetime | None = None


@dataclass(frozen=True)
class Lockout:
    """``failures`` wrong passwords in a row lock the account for ``duration``."""

    failures: int = 5
    duration: timedelta = timedelta(minutes=15)


class UserRepository(Protocol):
    async def add(
        self, username: str, password_hash: str, role: Role, agency_code: str | None
    ) -> User: ...

    async def credentials(self, username: str) -> Credentials | None: ...

    async def record_failure(
        self, user_id: int, max_failures: int, lock_for: timedelta
    ) -> datetime | None: ...

    async def clear_failures(self, user_id: int) -> None: ...

    async def set_password_hash(self, user_id: int, password_hash: str) -> None: ...

    async def add_token(
        self, token_hash: bytes, user_id: int, expires_at: datetime, kind: str = "api"
    ) -> None: ...

    async def user_for_token(self, token_hash: bytes, kind: str = "api") -> User | None: ...

    async def delete_token(self, token_hash: bytes) -> None: ...

    async def purge_expired_tokens(self) -> int: ...


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a browser session: an HMAC keyed by the session's secret token, so
    only a page that was given it (never another site) can send it back."""
    return hmac.new(session_token.encode(), b"hotline-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, presented: str) -> bool:
    return same_secret(csrf_token(session_token), presented)


class AuthService:
    def __init__(
        self, users: UserRepository, *, token_ttl: timedelta, lockout: Lockout | None = None
    ) -> None:
        self._users = users
        self._ttl = token_ttl
        self._lockout = lockout or Lockout()
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))

    def hash_password(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidUser(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        return self._hasher.hash(password)

    async def add_user(
        self, username: str, password: str, role: Role, agency_code: str | None = None
    ) -> User:
        if not username.isascii() or not username.replace(".", "").replace("_", "").isalnum():
            raise InvalidUser("username: letters, digits, '.' and '_' only")
        if (role is Role.AGENCY) != (agency_code is not None):
            raise InvalidUser("--agency is required for the agency role and only for it")
        return await self._users.add(username, self.hash_password(password), role, agency_code)

    async def set_password(self, username: str, password: str) -> bool:
        """Replace a user's password (and lift a lockout); False when there is no such user."""
        password_hash = self.hash_password(password)
        found = await self._users.credentials(username)
        if found is None:
            return False
        await self._users.set_password_hash(found.user.id, password_hash)
        await self._users.clear_failures(found.user.id)
        return True

    async def login(
        self, username: str, password: str, kind: TokenKind = TokenKind.API
    ) -> LoginResult:
        """A new token, or why not. The same argon2 work is done for unknown users, switched-off
        accounts and locked ones, so timing tells nothing; a locked account is not checked."""
        found = await self._users.credentials(username)
        now = datetime.now(UTC)
        usable = found is not None and found.active
        stored = found.password_hash if found is not None and usable else self._dummy_hash
        try:
            self._hasher.verify(stored, password)
            verified = usable
        except (VerificationError, InvalidHashError):
            verified = False
        if found is None or not found.active:
            return LoginResult(LoginStatus.INVALID)
        user = found.user
        if found.locked_until is not None and found.locked_until > now:
            logger.warning("login: %s is locked until %s", user.username, found.locked_until)
            return LoginResult(LoginStatus.LOCKED, locked_until=found.locked_until)
        if not verified:
            locked = await self._users.record_failure(
                user.id, self._lockout.failures, self._lockout.duration
            )
            if locked is not None:
                logger.warning(
                    "login: %s locked until %s after %d failed attempts",
                    user.username,
                    locked,
                    self._lockout.failures,
                )
                return LoginResult(LoginStatus.LOCKED, locked_until=locked)
            return LoginResult(LoginStatus.INVALID)
        await self._users.clear_failures(user.id)
        if self._hasher.check_needs_rehash(stored):
            await self._users.set_password_hash(user.id, self._hasher.hash(password))
        await self._users.purge_expired_tokens()
        token = secrets.token_urlsafe(32)
        await self._users.add_token(_token_hash(token), user.id, now + self._ttl, kind.value)
        return LoginResult(LoginStatus.OK, token=token)

    async def authenticate(self, token: str, kind: TokenKind = TokenKind.API) -> User | None:
        return await self._users.user_for_token(_token_hash(token), kind.value)

    async def logout(self, token: str) -> None:
        await self._users.delete_token(_token_hash(token))
