"""API keys for systems that create requests through Open311 (``POST requests.json``). Only the
SHA-256 of a key is stored; the key is shown once, when it is created."""

from __future__ import annotations

import hashlib
import secrets

import asyncpg

KEY_BYTES = 24


class ApiKeyNameTaken(Exception):
    error_id = "api-key-name-taken"


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class PostgresApiKeyRepository:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def add(self, name: str) -> str:
        """Create a key for ``name`` and return it (the only time it is visible)."""
        key = secrets.token_urlsafe(KEY_BYTES)
        try:
            await self._pool.execute(
                "INSERT INTO api_keys (name, key_hash) VALUES ($1, $2)", name, key_hash(key)
            )
        except asyncpg.UniqueViolationError as err:
            raise ApiKeyNameTaken(f"an API key named {name!r} already exists") from err
        return key

    async def owner(self, key: str) -> str | None:
        """The name of the valid (not revoked) key, else ``None``."""
        name = await self._pool.fetchval(
            "SELECT name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", key_hash(key)
        )
        return None if name is None else str(name)

    async def revoke(self, name: str) -> bool:
        status = await self._pool.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL", name
        )
        return status.endswith(" 1")
