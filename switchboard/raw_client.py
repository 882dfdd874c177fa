"""A byte-level AMI client for tests: sends exactly what it is given and hands back each
message as received (ordered ``(key, value)`` pairs), so tests can check Asterisk's bytes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass

from switchboard.ami_wire import Fields, encode


@dataclass(frozen=True)
class Message:
    raw: bytes
    fields: tuple[tuple[str, str], ...]

    def get(self, key: str) -> str | None:
        return next((v for k, v in self.fields if k == key), None)

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: object) -> bool:
        return any(k == key for k, _ in self.fields)

    def keys(self) -> list[str]:
        return [k for k, _ in self.fields]

    @property
    def event(self) -> str | None:
        return self.get("Event")


class RawAmi:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.banner = b""

    @classmethod
    async def connect(cls, host: str, port: int) -> RawAmi:
        reader, writer = await asyncio.open_connection(host, port)
        client = cls(reader, writer)
        client.banner = await reader.readline()
        return client

    def send_raw(self, data: bytes) -> None:
        self.writer.write(data)

    def send(self, fields: Iterable[tuple[str, str]]) -> None:
        self.writer.write(encode(fields))

    async def read(self, within: float = 5.0) -> Message:
        raw = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), within)
        lines = raw[:-4].decode().split("\r\n")
        fields: Fields = []
        for line in lines:
            key, _, value = line.partition(": ")
            fields.append((key, value))
        return Message(raw, tuple(fields))

    async def action(self, name: str, *headers: tuple[str, str], within: float = 5.0) -> Message:
        """Send an action and return the first message that is not an event."""
        self.send([("Action", name), *headers])
        while True:
            message = await self.read(within)
            if message.event is None:
                return message

    async def next_event(self, name: str, within: float = 5.0) -> Message:
        """The next event called ``name``; other messages are skipped."""
        while True:
            message = await self.read(within)
            if message.event == name:
                return message

    async def login(self, username: str, secret: str, events: str = "on") -> Message:
        return await self.action(
            "Login", ("Username", username), ("Secret", secret), ("Events", events)
        )

    async def until(self, event: str, within: float = 5.0) -> list[Message]:
        """Every message up to and including the first event named ``event``."""
        seen: list[Message] = []
        while True:
            message = await self.read(within)
            seen.append(message)
            if message.event == event:
                return seen

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()
