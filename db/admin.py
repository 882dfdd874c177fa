"""Prompt texts the administrator edited in the console (``prompt_texts``): they override the
menu file's texts when ``python -m hotline.prompts`` makes the sound files again. Each change is
audited in the same transaction (``admin_audit``, entity ``prompt``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from db.errors import DatabaseUnavailable
from db.migrations import Connection
from db.province import audit


@dataclass(frozen=True)
class PromptOverride:
    key: str
    lang: str
    text: str
    updated_by: str
    updated_at: datetime


async def read_overrides(conn: Connection) -> list[PromptOverride]:
    rows = await conn.fetch(
        "SELECT key, lang, text, updated_by, updated_at FROM prompt_texts ORDER BY key, lang"
    )
    return [
        PromptOverride(r["key"], r["lang"], r["text"], r["updated_by"], r["updated_at"])
        for r in rows
    ]


async def overrides_at(database_url: str) -> list[PromptOverride]:
    """The edited texts, over one connection of its own (``python -m hotline.prompts``)."""
    try:
        conn = await asyncpg.connect(database_url)
        try:
            return await read_overrides(conn)
        finally:
            await conn.close()
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as err:
        raise DatabaseUnavailable(str(err)) from err


class PostgresPromptTexts:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def overrides(self) -> list[PromptOverride]:
        async with self._pool.acquire() as conn:
            return await read_overrides(conn)

    async def save(
        self,
        actor: str,
        key: str,
        texts: Mapping[str, str],
        defaults: Mapping[str, str],
    ) -> None:
        """Store ``texts`` (language → text) for ``key``; a text equal to the menu file's
        (``defaults``) removes the override, so the file's text applies again."""
        async with self._pool.acquire() as conn, conn.transaction():
            rows = await conn.fetch(
                "SELECT lang, text FROM prompt_texts WHERE key = $1 FOR UPDATE", key
            )
            stored = {r["lang"]: r["text"] for r in rows}
            before = {lang: stored.get(lang, defaults[lang]) for lang in texts}
            for lang, text in texts.items():
                if text == defaults[lang]:
                    await conn.execute(
                        "DELETE FROM prompt_texts WHERE key = $1 AND lang = $2", key, lang
                    )
                else:
                    await conn.execute(
                        "INSERT INTO prompt_texts (key, lang, text, updated_by)"
                        " VALUES ($1, $2, $3, $4) ON CONFLICT (key, lang) DO UPDATE"
                        " SET text = $3, updated_by = $4, updated_at = now()",
                        key,
                        lang,
                        text,
                        actor,
                    )
            if before != dict(texts):
                await audit(conn, actor, "update", "prompt", key, before, dict(texts))
