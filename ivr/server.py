"""The FastAGI server: accepts Asterisk's connections, routes each on its script name, and owns
every session task so a shutdown can let calls finish and then close what is left.

With a shared secret, a connection is served only once the PBX has shown it: the server asks
for the dialplan global ``HOTLINE_AGI_SECRET`` (``GET VARIABLE``), which Asterisk answers from
its own configuration. The secret is thus in no ``AGI()`` argument, so it stays out of
Asterisk's verbose log, its CDRs (``lastdata``) and AMI events (see asterisk_conf/README.md)."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from ivr.session import AgiConnection, AgiError, AgiProtocolError, AgiSession, parse_env
from runtime.logcontext import call_id
from runtime.metrics import Metrics

logger = logging.getLogger(__name__)

Handler = Callable[[AgiSession], Awaitable[None]]
MAX_BLOCK = 16 * 1024  # an agi_* block is ~1 kB; more is not Asterisk
SECRET_VARIABLE = "HOTLINE_AGI_SECRET"  # noqa: S105 (the name of the dialplan global)


class FastAgiServer:
    def __init__(
        self,
        routes: Mapping[str, Handler],
        *,
        header_timeout: float,
        reply_timeout: float,
        secret: str | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._routes = dict(routes)
        self._metrics = metrics or Metrics()
        self._header_timeout = header_timeout
        self._reply_timeout = reply_timeout
        self._secret = secret.encode("utf-8") if secret else None
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    @property
    def active_sessions(self) -> int:
        return len(self._sessions)

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def start(self, host: str, port: int) -> None:
        self._server = await asyncio.get_running_loop().create_server(
            lambda: AgiConnection(self._accept, limit=MAX_BLOCK), host, port, reuse_address=True
        )
        logger.info(
            "FastAGI listening on %s:%d (scripts: %s)", host, self.port, sorted(self._routes)
        )

    async def stop(self, grace: float) -> None:
        """Stop accepting, give running calls ``grace`` seconds, then cancel the rest."""
        if self._server is None:
            return
        self._server.close()
        if self._sessions:
            logger.info("waiting up to %.0f s for %d AGI sessions", grace, len(self._sessions))
            _, pending = await asyncio.wait(set(self._sessions), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning("cancelled %d AGI sessions still running at shutdown", len(pending))
                await asyncio.wait(pending)
        await self._server.wait_closed()
        self._server = None
        logger.info("FastAGI stopped")

    def _accept(self, conn: AgiConnection) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(conn))
        self._sessions.add(task)
        task.add_done_callback(self._sessions.discard)

    async def _serve(self, conn: AgiConnection) -> None:
        try:
            session = await self._open(conn)
            if session is not None:
                call_id.set(session.env["agi_uniqueid"])
                await self._routes[session.script](session)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("AGI handler failed (peer %s)", conn.peer)
        finally:
            conn.close()  # EOF: Asterisk leaves AGI() and goes on with the dialplan

    async def _open(self, conn: AgiConnection) -> AgiSession | None:
        peer = conn.peer
        try:
            block = await self._read_block(conn, time.monotonic() + self._header_timeout)
        except TimeoutError:
            logger.warning(
                "FastAGI peer %s sent no complete agi_* block within %.1f s; closing",
                peer,
                self._header_timeout,
            )
            return None
        except ConnectionError as err:
            logger.info("FastAGI peer %s dropped the connection: %s", peer, err)
            return None
        if block is None:
            return None
        try:
            parsed = parse_env(block)
        except AgiProtocolError as err:
            logger.warning("FastAGI peer %s is not Asterisk: %s", peer, err)
            return None
        env = parsed.values
        if parsed.repaired:
            logger.warning(  # names only: the values are the caller's (personal data)
                "call %s: %s not clean UTF-8 text; read as Windows-1258, controls replaced",
                env["agi_uniqueid"],
                ", ".join(parsed.repaired),
            )
        session = AgiSession(
            conn,
            env,
            reply_timeout=self._reply_timeout,
            on_turn=self._metrics.agi_turn_seconds.observe,
        )
        if session.script not in self._routes:
            logger.error(
                "FastAGI request for unknown script %r (from %s, call %s); known: %s",
                session.script,
                peer,
                env["agi_uniqueid"],
                sorted(self._routes),
            )
            return None
        if not await self._authentic(session, peer):
            return None
        return session

    async def _authentic(self, session: AgiSession, peer: object) -> bool:
        """Without a secret configured, every peer; else only one that knows it."""
        if self._secret is None:
            return True
        try:
            reply = await session.command("GET VARIABLE", SECRET_VARIABLE)
        except AgiError as err:
            logger.error("FastAGI peer %s: no answer to the secret check (%s)", peer, err)
            return False
        shown = (reply.data or "").encode("utf-8") if reply.result == "1" else b""
        if hmac.compare_digest(shown, self._secret):
            return True
        logger.error(
            "FastAGI peer %s (call %s) %s the shared secret; the call is not served by the IVR "
            "(Asterisk goes on with its dialplan). Set %s in the PBX's dialplan globals to "
            "HOTLINE_AGI_SECRET's value (asterisk_conf/README.md)",
            peer,
            session.env["agi_uniqueid"],
            "did not show" if not shown else "showed a wrong",
            SECRET_VARIABLE,
        )
        return False

    async def _read_block(self, conn: AgiConnection, deadline: float) -> bytes | None:
        """Header lines up to the blank line; ``None`` (logged) for anything else."""
        peer = conn.peer
        lines: list[bytes] = []
        size = 0
        while True:
            try:
                raw = await conn.line(deadline)
            except ValueError as err:  # a line too long, or too much sent unread
                logger.warning("FastAGI peer %s sent %s", peer, err)
                return None
            if not raw and not lines:
                logger.info("FastAGI peer %s connected and closed without a request", peer)
                return None
            if not raw.endswith(b"\n"):
                partial = b"".join(lines) + raw
                logger.warning(
                    "FastAGI peer %s closed after a truncated agi_* block (%d bytes): %r",
                    peer,
                    len(partial),
                    partial[-200:],
                )
                return None
            if raw == b"\n":
                return b"".join(lines)
            if not raw.startswith(b"agi_"):
                logger.warning("FastAGI peer %s is not Asterisk: sent %r", peer, raw[:80])
                return None
            lines.append(raw)
            size += len(raw)
            if size > MAX_BLOCK:
                logger.warning(
                    "FastAGI peer %s sent more than %d bytes of headers", peer, MAX_BLOCK
                )
                return None
