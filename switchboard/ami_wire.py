"""AMI framing: ``Key: value`` lines, CRLF, a blank line ends a message (reference §3.1).

Asterisk writes CRLF and accepts CRLF or LF from clients; header names are case-insensitive.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

Fields = list[tuple[str, str]]
MAX_LINE = 1024  # Asterisk's session input buffer is 1025 bytes
BANNER_VERSION = "9.0.0"  # AMI_VERSION at the tip of Asterisk 20


def encode(fields: Iterable[tuple[str, str]]) -> bytes:
    """One message: each header on its CRLF line, then the empty line."""
    return ("".join(f"{key}: {value}\r\n" for key, value in fields) + "\r\n").encode()


def banner(version: str = BANNER_VERSION) -> bytes:
    return f"Asterisk Call Manager/{version}\r\n".encode()


@dataclass
class Action:
    """A message from the client; header lookups ignore case, repeated headers are kept."""

    headers: Fields = field(default_factory=list)
    too_long: bool = False

    def get(self, key: str, default: str | None = None) -> str | None:
        wanted = key.lower()
        for name, value in self.headers:
            if name.lower() == wanted:
                return value
        return default

    def text(self, key: str) -> str:
        return self.get(key) or ""

    def get_all(self, key: str) -> list[str]:
        wanted = key.lower()
        return [value for name, value in self.headers if name.lower() == wanted]

    @property
    def name(self) -> str:
        return self.text("Action").strip()

    @property
    def action_id(self) -> str | None:
        return self.get("ActionID")


class FrameReader:
    """Turns the client's byte stream into actions (CRLF or LF line endings)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._current = Action()

    def feed(self, data: bytes) -> list[Action]:
        self._buffer += data
        actions: list[Action] = []
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                if len(self._buffer) > MAX_LINE:
                    self._buffer = b""
                    self._current.too_long = True
                break
            raw, self._buffer = self._buffer[:end], self._buffer[end + 1 :]
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if len(raw) > MAX_LINE:
                self._current.too_long = True
                continue
            if not line:
                if self._current.headers or self._current.too_long:
                    actions.append(self._current)
                    self._current = Action()
                continue
            key, sep, value = line.partition(":")
            if sep:
                self._current.headers.append((key.strip(), value.lstrip(" \t")))
        return actions
