"""The queue_log, as Asterisk writes it (main/logger.c ``ast_queue_log``, branch 20).

app_queue calls ``ast_queue_log(queuename, callid, agent, event, fmt, …)`` at each step of a
queued call and each change of a member (reference §7). Asterisk then

* stores the entry through the realtime driver when ``extconfig.conf`` maps ``queue_log``
  (res_config_pgsql ``store_pgsql``: one ``INSERT`` of ``time, callid, queuename, agent, event,
  data1…data5`` — the "adaptive" form, because the table has ``data1``…``data5``; ``time`` is
  ``%F %T.%6q`` in GMT with ``queue_log_realtime_use_gmt = yes``). A failed insert is logged and
  **never retried**;
* and, with ``queue_log_to_file = yes`` (or without realtime), appends the line
  ``epoch|callid|queuename|agent|event|data…`` to the ``queue_log`` file (``time(NULL)``: whole
  seconds).

The emulator does the same: ``log`` records the entry at once; the rows go to PostgreSQL in
order through one connection that is opened again after a failure, the row that failed being
lost as on the real PBX, and each file line is written once its insert was tried (Asterisk's
channel thread waits for the insert, then writes the line).
``entries`` keeps every entry: the emulator's own record of what happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

from switchboard.clock import Clock

logger = logging.getLogger(__name__)

DATA_FIELDS = 5  # data1 … data5: AST_NONSTANDARD_APP_ARGS(args, qlog_msg, '|') with data[5]


@dataclass(frozen=True)
class QueueLogEntry:
    at: float  # the PBX's clock, seconds since the epoch
    callid: str
    queuename: str
    agent: str
    event: str
    data: str  # the formatted message: fields joined by ``|``

    @property
    def fields(self) -> tuple[str, ...]:
        """data1 … data5 as the adaptive realtime insert splits them (the fifth keeps the
        rest, ``|`` included)."""
        parts = self.data.split("|", DATA_FIELDS - 1) if self.data else []
        return tuple(parts + [""] * (DATA_FIELDS - len(parts)))

    @property
    def time_text(self) -> str:
        """``%F %T.%6q`` in GMT (``queue_log_realtime_use_gmt = yes``)."""
        return datetime.fromtimestamp(self.at, UTC).strftime("%Y-%m-%d %H:%M:%S.%f")

    @property
    def line(self) -> str:
        """The file's line: ``%ld|%s|%s|%s|%s|`` then the message."""
        return (
            f"{int(self.at)}|{self.callid}|{self.queuename}|{self.agent}|{self.event}|{self.data}"
        )


@dataclass(frozen=True)
class QueueLogConfig:
    """``extconfig.conf`` ``queue_log => pgsql,<database>,<table>`` with its connection
    (``res_pgsql.conf``) as ``database_url``, and ``logger.conf``'s file."""

    database_url: str | None = None
    table: str = "queue_log"
    file: Path | None = None


_INSERT = (
    "INSERT INTO {table} (time, callid, queuename, agent, event, data1, data2, data3, data4,"
    " data5) VALUES ($1::text::timestamp, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
)


class QueueLog:
    def __init__(self, config: QueueLogConfig, clock: Clock) -> None:
        self.config = config
        self._clock = clock
        self.entries: list[QueueLogEntry] = []
        self.lost: list[QueueLogEntry] = []  # realtime inserts that failed (not retried)
        self._pending: asyncio.Queue[QueueLogEntry] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._conn: asyncpg.Connection | None = None

    def log(self, queuename: str, callid: str, agent: str, event: str, *data: object) -> None:
        """``ast_queue_log(queuename, callid, agent, event, "%s|%s…", data…)``."""
        entry = QueueLogEntry(
            self._clock.now(), callid, queuename, agent, event, "|".join(str(d) for d in data)
        )
        self.entries.append(entry)
        if self.config.database_url is not None:
            self._pending.put_nowait(entry)  # the file line follows the insert, as in Asterisk
        else:
            self._write_line(entry)

    def _write_line(self, entry: QueueLogEntry) -> None:
        if self.config.file is not None:
            with self.config.file.open("a", encoding="utf-8") as out:
                out.write(entry.line + "\n")

    def of_call(self, callid: str) -> list[QueueLogEntry]:
        return [e for e in self.entries if e.callid == callid]

    async def start(self) -> None:
        if self.config.file is not None:
            self.config.file.parent.mkdir(parents=True, exist_ok=True)
        if self.config.database_url is not None and self._task is None:
            self._task = asyncio.create_task(self._store_all(), name="queue-log-realtime")

    async def flushed(self) -> None:
        """Every entry logged so far has been inserted (or lost)."""
        await self._pending.join()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None

    async def _store_all(self) -> None:
        while True:
            entry = await self._pending.get()
            try:
                await self._store(entry)
                self._write_line(entry)
            finally:
                self._pending.task_done()

    async def _store(self, entry: QueueLogEntry) -> None:
        """res_config_pgsql ``store_pgsql``: reconnect if needed, one INSERT; on failure a
        warning and the row is gone from the table (the file still has it)."""
        assert self.config.database_url is not None
        try:
            if self._conn is None or self._conn.is_closed():
                self._conn = await asyncpg.connect(self.config.database_url, timeout=2)
            await self._conn.execute(
                _INSERT.format(table=self.config.table),
                entry.time_text,
                entry.callid,
                entry.queuename,
                entry.agent,
                entry.event,
                *entry.fields,
            )
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as err:
            self.lost.append(entry)
            logger.warning("PostgreSQL RealTime: failed to store queue_log %s: %s", entry, err)
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close()
                self._conn = None
