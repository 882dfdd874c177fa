"""Where callers' recordings are, as the database keeps them.

Asterisk records into a spool shared with the backend (``HOTLINE_RECORDINGS_DIR``), one folder
per local day: ``<spool>/<YYYYMMDD>/<uniqueid>-<purpose>.<format>``. The spool is mounted where
each machine likes (Asterisk's ``/var/spool/asterisk/hotline`` may be the backend's
``/srv/hotline/recordings``), so tickets and calls keep the path *inside* the spool,
``<YYYYMMDD>/<file>``, and every reader joins it to its own spool folder. Migration
``0012_recordings_relative`` rewrote the paths stored before this rule the same way.
"""

from __future__ import annotations

import re
from pathlib import PurePath

_DAY_AND_FILE = re.compile(r"(?:^|/)(\d{8}/[^/]+)$")


def spool_relative(path: str | PurePath, spool: PurePath) -> str:
    """``path`` as stored: relative to ``spool`` when it lies there; otherwise (a path as another
    machine sees the spool, e.g. Asterisk's MixMonitor file) its day folder and file name when it
    has the spool's layout; otherwise unchanged, for the reader to refuse."""
    pure = PurePath(path)
    if pure.is_absolute() and pure.is_relative_to(spool):
        return pure.relative_to(spool).as_posix()
    found = _DAY_AND_FILE.search(pure.as_posix())
    return found.group(1) if found else str(path)
