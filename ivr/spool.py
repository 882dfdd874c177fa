"""The local spool: call snapshots that could not reach the database wait here as JSON files
(one per call, replaced atomically) until the replayer stores them.

Nothing here raises. A file that no longer reads as a snapshot (written by an older version, cut
short, edited by hand) is moved to ``rejected/`` with a log line, and so is a snapshot the
database refuses for good, so one bad file never holds up the others; a snapshot that cannot be
written is logged whole, so an administrator can still replay it. Writing and removing block on
the disk (``fsync``): the recorder calls them in a worker thread, never on the event loop.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import zlib
from datetime import UTC, datetime
from pathlib import Path

from tickets.intake import CallIntake, SaveAction, StoredCall, save_action

logger = logging.getLogger(__name__)

LOCK_STRIPES = 64  # writes of one call are serialised; different calls rarely share a lock


class IntakeSpool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.rejected = directory / "rejected"
        self.rejected.mkdir(parents=True, exist_ok=True)
        self._locks = [threading.RLock() for _ in range(LOCK_STRIPES)]
        for partial in directory.glob(".*.tmp"):  # a write cut short by a crash
            partial.unlink(missing_ok=True)

    def _path(self, intake: CallIntake) -> Path:
        return self.directory / f"{intake.file_stem}.json"

    def _lock(self, path: Path) -> threading.RLock:
        return self._locks[zlib.crc32(path.name.encode()) % LOCK_STRIPES]

    def put(self, intake: CallIntake) -> bool:
        """Write durably (fsync, atomic rename, fsync of the folder). One file per call: what
        is already there is replaced as a store would replace it (``save_action``). Blocking.
        ``False`` when it could not be written: the whole snapshot is then in the log."""
        path = self._path(intake)
        try:
            with self._lock(path):
                current = self.get(path)
                action = save_action(None if current is None else StoredCall.of(current), intake)
                if action is SaveAction.KEEP:
                    return True
                if action is SaveAction.REFUSE:
                    return self.reject_snapshot(intake, "another session of a spooled call")
                self._write(path, intake)
        except Exception as err:
            _log_lost(intake, "could not be stored nor spooled", err)
            return False
        return True

    def _write(self, path: Path, intake: CallIntake) -> None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(intake.to_json(), fh, ensure_ascii=False, default=str)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)  # the rename itself survives a crash
        finally:
            os.close(folder)

    def get(self, path: Path) -> CallIntake | None:
        """The snapshot in ``path``; ``None`` when it is gone, or when it does not read as one
        (it is then in ``rejected/``, logged)."""
        try:
            with path.open(encoding="utf-8") as fh:
                return CallIntake.from_json(json.load(fh))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            self.reject(path, f"{type(err).__name__}: {err}")
            return None

    def pending(self) -> list[Path]:
        return [path for _, path in waiting(self.directory)]

    def remove(self, path: Path, version: int) -> None:
        """Remove a stored snapshot unless a newer version was spooled meanwhile. Blocking."""
        try:
            with self._lock(path):
                current = self.get(path)
                if current is not None and current.version <= version:
                    path.unlink(missing_ok=True)
        except OSError:
            logger.exception("could not remove %s; it will be stored again (no harm)", path)

    def discard(self, intake: CallIntake) -> None:
        """The database has ``intake``: remove the call's file unless it holds a newer version.
        Blocking."""
        self.remove(self._path(intake), intake.version)

    def reject(self, path: Path, reason: str) -> None:
        """Move ``path`` out of the replayer's way, into ``rejected/``, with a log line."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        target = self.rejected / f"{path.stem}.{stamp}{path.suffix}"
        try:
            os.replace(path, target)
        except FileNotFoundError:
            return
        except OSError:
            logger.exception("spool file %s cannot be read (%s) nor moved aside", path, reason)
            return
        logger.error(
            "spool file %s cannot be stored (%s); moved to %s for an administrator",
            path.name,
            reason,
            target,
        )

    def reject_snapshot(self, intake: CallIntake, reason: str) -> bool:
        """Keep a snapshot the database refuses for good in ``rejected/`` (newest version per
        call), with a log line. Blocking. ``False`` when it could not be written (then it is
        in the log)."""
        path = self.rejected / f"{intake.file_stem}.refused.json"
        try:
            with self._lock(path):
                self._write(path, intake)
        except Exception as err:
            _log_lost(intake, f"was refused ({reason}) and could not be kept", err)
            return False
        logger.error(
            "call %s (version %d) refused: %s; kept in %s",
            intake.uniqueid,
            intake.version,
            reason,
            path,
        )
        return True


def waiting(directory: Path) -> list[tuple[float, Path]]:
    """The snapshots waiting in a spool folder with their modification times, oldest first
    (what the replayer stores next, and what ``/metrics`` counts). Blocking."""
    paths = []
    for path in directory.glob("*.json"):
        try:
            paths.append((path.stat().st_mtime, path))
        except FileNotFoundError:
            continue  # stored and removed meanwhile
    return sorted(paths)


def _log_lost(intake: CallIntake, what: str, err: Exception) -> None:
    """Last resort: the whole snapshot in the log, so an administrator can still replay it."""
    logger.critical(
        "call %s %s; snapshot: %s",
        intake.uniqueid,
        what,
        json.dumps(intake.to_json(), ensure_ascii=False, default=str),
        exc_info=err,
    )
