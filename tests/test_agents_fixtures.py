"""Real AMI transcripts (panoramisk's recorded fixtures, Asterisk 11 era) replayed over TCP to
our AMI adapter: every frame parses, unknown and old-style events are ignored, nothing breaks."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agents.ami import AmiConnection, AmiItem, AmiUrl, Reconnected
from agents.events import AmiEvent
from agents.model import LiveModel

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "reference" / "ami_fixtures"
EVENT_FILES = [
    "agent_loggued_in.yaml",
    "agent_not_in_pause.yaml",
    "originate_with_events.yaml",
    "queue_status.yaml",
]


def blocks(name: str) -> list[str]:
    text = (FIXTURES / name).read_text(encoding="utf-8", errors="replace")
    return [b.strip("\n") for b in text.split("\n\n") if b.strip().startswith("Event:")]


async def replay_server(frames: list[str]) -> tuple[asyncio.Server, int]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        login = (await reader.readuntil(b"\r\n\r\n")).decode()
        action_id = next(
            line.split(": ", 1)[1]
            for line in login.split("\r\n")
            if line.lower().startswith("actionid")
        )
        writer.write(
            f"Response: Success\r\nActionID: {action_id}\r\nMessage: Authentication accepted\r\n\r\n".encode()
        )
        for frame in frames:
            writer.write(frame.replace("\n", "\r\n").encode() + b"\r\n\r\n")
        await writer.drain()
        await reader.read()  # keep the session open until the client goes

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
def fixtures_present() -> None:
    if not FIXTURES.is_dir():
        pytest.skip(f"shared AMI fixtures not found at {FIXTURES}")


@pytest.fixture
def inbox() -> asyncio.Queue[AmiItem]:
    return asyncio.Queue()


@pytest.mark.usefixtures("fixtures_present")
@pytest.mark.parametrize("name", EVENT_FILES)
async def test_given_a_recorded_transcript_when_replayed_over_tcp_then_every_event_reaches_the_model(
    name: str, inbox: asyncio.Queue[AmiItem]
) -> None:
    frames = blocks(name)
    server, port = await replay_server(frames)
    ami = AmiConnection(
        AmiUrl("127.0.0.1", port, "hotline", "s"), inbox, ping_interval=30, action_timeout=2
    )
    await ami.start()
    try:
        received: list[AmiEvent] = []
        async with asyncio.timeout(10):
            while len(received) < len(frames):
                item = await inbox.get()
                if not isinstance(item, Reconnected):
                    received.append(item)
    finally:
        await ami.close()
        server.close()
        await server.wait_closed()

    model = LiveModel(["hotline-1022"])
    for event in received:
        model.apply(event)
    assert [e.name for e in received] == [
        f.split("\n", 1)[0].split(": ", 1)[1].strip() for f in frames
    ]
    assert all(e.fields for e in received)


@pytest.mark.usefixtures("fixtures_present")
def test_given_the_fixture_folder_when_listed_then_the_event_transcripts_have_events() -> None:
    assert all(len(blocks(name)) > 0 for name in EVENT_FILES)
