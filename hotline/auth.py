"""Users, argon2 password hashes and bearer tokens (only their SHA-256 is stored)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from runtime.secrets_compare import same_secret
from tickets.model import Credentials, Role, User

logger = logging.getLogger(__name__)
_R = TypeVar("_R")

MIN_PASSWORD_LENGTH = 10
HASHING_AT_ONCE = 2  # argon2 hashes computed at once (each takes 64 MiB and a core)
MAX_USERNAME = 64
IN_PROCESS = "in-process"  # the address of a login made by the process itself (demo, tests)


class InvalidUser(Exception):
    error_id = "invalid-user"


class TokenKind(StrEnum):
    """An API bearer token, or a browser session (cookie; its writes need the CSRF token)."""

    API = "api"
    SESSION = "session"


class LoginStatus(StrEnum):
    OK = "ok"
    INVALID = "invalid"
    DELAYED = "delayed"  # too many failures for this name from this address: wait


@dataclass(frozen=True)
class LoginResult:
    status: LoginStatus
    token: str | None = None
    retry_at: datetime | None = None


@dataclass(frozen=True)
class LoginDelay:
    """Failed logins are counted per (name, address), for names that exist or not: past
    ``free`` failures in a row that pair waits ``first``, doubled at each further failure up to
    ``longest``; a failure ``forget_after`` the previous one starts the count again. Nobody
    is locked out from somewhere else, and nothing tells a known name from an unknown one."""

    free: int = 5
    first: timedelta = timedelta(seconds=30)
    longest: timedelta = timedelta(minutes=15)
    forget_after: timedelta = timedelta(days=1)

    def after(self, failures: int) -> timedelta | None:
        """How long the pair waits after its ``failures``-th failure in a row."""
        if failures < self.free:
            return None
        doublings = min(failures - self.free, 32)
        wait: timedelta = min(self.longest, self.first * 2**doublings)
        return wait


class UserRepository(Protocol):
    async def add(
        self, username: str, password_hash: str, role: Role, agency_code: str | None
    ) -> User: ...

    async def credentials(self, username: str) -> Credentials | None: ...

    async def blocked_until(self, username: str, address: str) -> datetime | None: ...

    async def record_failure(
        self, username: str, address: str, at: datetime, forget_before: datetime
    ) -> int: ...

    async def block(self, username: str, address: str, until: datetime) -> None: ...

    async def clear_failures(self, username: str, address: str | None = None) -> None: ...

    async def purge_failures(self, before: datetime) -> int: ...

    async def set_password_hash(self, user_id: int, password_hash: str) -> None: ...

    async def add_token(
        self, token_hash: bytes, user_id: int, expires_at: datetime, kind: str = "api"
    ) -> None: ...

    async def user_for_token(self, token_hash: bytes, kind: str = "api") -> User | None: ...

    async def delete_token(self, token_hash: bytes) -> None: ...

    async def end_tokens(self, user_id: int, keep: bytes | None = None) -> int: ...

    async def purge_expired_tokens(self) -> int: ...


def token_hash(token: str) -> bytes:
    """What is stored of a token (its SHA-256); a token of any characters hashes."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of a browser session: an HMAC keyed by the session's secret token, so
    only a page that was given it (never another site) can send it back."""
    return hmac.new(session_token.encode(), b"hotline-csrf", hashlib.sha256).hexdigest()


def csrf_matches(session_token: str, presented: str) -> bool:
    return same_secret(csrf_token(session_token), presented)


class AuthService:
    """Argon2 runs in threads, never on the event loop: a hash or a check takes a core for a
    tenth of a second or more, which on the loop would stop every other request and call."""

    def __init__(
        self,
        users: UserRepository,
        *,
        token_ttl: timedelta,
        delay: LoginDelay | None = None,
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._users = users
        self._ttl = token_ttl
        self._delay = delay or LoginDelay()
        self._hasher = hasher or PasswordHasher()
        self._hashing = asyncio.Semaphore(HASHING_AT_ONCE)
        self._dummy_hash: str | None = None  # what unknown names are checked against

    async def hash_password(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidUser(f"password: at least {MIN_PASSWORD_LENGTH} characters")
        return await self._argon2(self._hasher.hash, password)

    async def _verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored`` (None: an unknown name or a switched-off
        account, checked against a hash of a random password at the same cost)."""
        if stored is None:
            if self._dummy_hash is None:
                self._dummy_hash = await self._argon2(self._hasher.hash, secrets.token_hex(16))
            stored = self._dummy_hash
        try:
            return await self._argon2(self._hasher.verify, stored, password)
        except (VerificationError, InvalidHashError):
            return False

    async def _argon2(self, work: Callable[..., _R], *args: str) -> _R:
        async with self._hashing:
            return await asyncio.to_thread(work, *args)

    async def add_user(
        self, username: str, password: str, role: Role, agency_code: str | None = None
    ) -> User:
        if not username.isascii() or not username.replace(".", "").replace("_", "").isalnum():
            raise InvalidUser("username: letters, digits, '.' and '_' only")
        if len(username) > MAX_USERNAME:
            raise InvalidUser(f"username: at most {MAX_USERNAME} characters")
        if (role is Role.AGENCY) != (agency_code is not None):
            raise InvalidUser("--agency is required for the agency role and only for it")
        password_hash = await self.hash_password(password)
        return await self._users.add(username, password_hash, role, agency_code)

    async def set_password(self, username: str, password: str) -> bool:
        """Replace a user's password: every token and session of theirs ends, waits after
        failed logins are lifted. False when there is no such user."""
        password_hash = await self.hash_password(password)
        found = await self._users.credentials(username)
        if found is None:
            return False
        await self._users.set_password_hash(found.user.id, password_hash)
        ended = await self._users.end_tokens(found.user.id)
        await self._users.clear_failures(username)
        logger.info("password of %s replaced; %d tokens ended", username, ended)
        return True

    async def login(
        self,
        username: str,
        password: str,
        kind: TokenKind = TokenKind.API,
        *,
        address: str = IN_PROCESS,
    ) -> LoginResult:
        """A new token, or why not, alike for every name: a (name, address) pair that failed
        too often waits, checked before any password; otherwise the same argon2 work is done
        for unknown names and switched-off accounts, and their failures count the same."""
        now = datetime.now(UTC)
        name = username[:MAX_USERNAME]
        blocked = await self._users.blocked_until(name, address)
        if blocked is not None and blocked > now:
            return LoginResult(LoginStatus.DELAYED, retry_at=blocked)
        found = await self._users.credentials(name) if len(username) <= MAX_USERNAME else None
        usable = found is not None and found.active
        stored = found.password_hash if found is not None and usable else None
        verified = await self._verify(stored, password) and usable
        if found is None or not verified:
            failures = await self._users.record_failure(
                name, address, now, now - self._delay.forget_after
            )
            wait = self._delay.after(failures)
            if wait is not None:
                await self._users.block(name, address, now + wait)
                logger.warning(
                    "login: %d failures in a row for %r from %s; it waits %s",
                    failures,
                    name,
                    address,
                    wait,
                )
            return LoginResult(LoginStatus.INVALID)
        user = found.user
        await self._users.clear_failures(name, address)
        if self._hasher.check_needs_rehash(found.password_hash):
            rehashed = await self._argon2(self._hasher.hash, password)
            await self._users.set_password_hash(user.id, rehashed)
        await self._users.purge_expired_tokens()
        await self._users.purge_failures(now - self._delay.forget_after)
        token = secrets.token_urlsafe(32)
        await self._users.add_token(token_hash(token), user.id, now + self._ttl, kind.value)
        return LoginResult(LoginStatus.OK, token=token)

    async def authenticate(self, token: str, kind: TokenKind = TokenKind.API) -> User | None:
        return await self._users.user_for_token(token_hash(token), kind.value)

    async def logout(self, token: str) -> None:
        await self._users.delete_token(token_hash(token))
