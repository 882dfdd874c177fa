"""The progress bar of ``hotline simulate``."""

from __future__ import annotations

from typing import TextIO


class Progress:
    """A bar on stderr redrawn in place with ``\\r`` (``--no-progress``: none)."""

    def __init__(self, out: TextIO, total_seconds: float, enabled: bool) -> None:
        self._out = out
        self._total = max(total_seconds, 1e-9)
        self._enabled = enabled

    def draw(self, simulated: float, placed: int, active: int) -> None:
        if not self._enabled:
            return
        share = min(1.0, max(0.0, simulated / self._total))
        filled = int(share * 30)
        self._out.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {100 * share:5.1f} %  "
            f"{min(simulated, self._total) / 60:6.1f} of {self._total / 60:.1f} simulated min  "
            f"calls {placed}  in progress {active:<4}"
        )
        self._out.flush()

    def done(self) -> None:
        if self._enabled:
            self._out.write("\n")
            self._out.flush()
