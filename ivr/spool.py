"""The local spool: call snapshots that could not reach the database wait here as JSON files
(one per call, replaced atomically) until the replayer stores them."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from tickets.intake import CallIntake

logger = logging.getLogger(__name__)


class IntakeSpool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, uniqueid: str) -> Path:
        safe = "".join(c if c.isalnum() or c in ".-_" else "_" for c in uniqueid)
        return self.directory / f"{safe}.json"

    def put(self, intake: CallIntake) -> None:
        """Write durably (fsync, then atomic rename); keeps the newest version of a call."""
        path = self._path(intake.uniqueid)
        current = self.get(path)
        if current is not None and current.version >= intake.version:
            return
        tmp = path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(intake.to_json(), fh, ensure_ascii=False)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    def get(self, path: Path) -> CallIntake | None:
        try:
            with path.open(encoding="utf-8") as fh:
                return CallIntake.from_json(json.load(fh))
        except FileNotFoundError:
            return None

    def pending(self) -> list[Path]:
        return sorted(self.directory.glob("*.json"), key=lambda p: p.stat().st_mtime)

    def remove(self, path: Path, version: int) -> None:
        """Remove a stored snapshot unless a newer version was spooled meanwhile."""
        current = self.get(path)
        if current is not None and current.version <= version:
            path.unlink(missing_ok=True)
