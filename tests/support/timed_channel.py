"""A simulated Asterisk channel that times every AGI turn from its own side: from the moment it
sent its last bytes (the ``agi_*`` block or a reply) until the backend's next command line."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from switchboard.fastagi import SimulatedChannel


@dataclass
class TimedChannel(SimulatedChannel):
    # (command that followed, seconds the backend took to send it)
    turns: list[tuple[str, float]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self._sent_at = time.monotonic()
        self.on_exchange = self._exchanged

    def agi_block(self, host: str, port: int, script: str) -> bytes:
        block = super().agi_block(host, port, script)
        self._sent_at = time.monotonic()
        return block

    def _execute(self, line: str) -> list[str]:
        # called as soon as the command line is read, except after the caller's key_delay
        self.turns.append((line, time.monotonic() - self._sent_at))
        return super()._execute(line)

    def _exchanged(self, line: str, reply: list[str]) -> None:
        self._sent_at = time.monotonic()  # the reply is written right after this callback
