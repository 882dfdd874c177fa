"""Fuzz: arbitrary bytes from "Asterisk" after a valid login reach our AMI adapter over a real
socket (panoramisk parses them, our callback makes ``AmiEvent``s, ``LiveModel.apply`` takes
them). Nothing may crash or hang: the adapter stays (or logs back) in, a valid event still
arrives, a valid action is still answered, and garbage about unknown queues, callers and
operators leaves the model's dictionaries exactly as big as they were.
``HOTLINE_FUZZ_EXAMPLES=5000`` runs a long campaign."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agents.ami import AmiConnection, AmiItem, AmiUrl
from agents.events import AmiEvent
from agents.model import LiveModel
from tests.support.fuzzing import LoopThread, fuzz_settings

QUEUES = ("hotline-1022", "emergency-115")
WITHIN = 10.0  # seconds: generous for a loaded machine (reconnects take ~1 s)


@dataclass
class TinyAsterisk:
    """A loopback AMI server: banner, answers every action with Success, and writes whatever
    the test injects to the logged-in session."""

    server: asyncio.Server | None = None
    sessions: list[asyncio.StreamWriter] = field(default_factory=list)
    actions: list[dict[str, str]] = field(default_factory=list)

    @property
    def port(self) -> int:
        assert self.server is not None
        port: int = self.server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)

    async def stop(self) -> None:
        for writer in self.sessions:
            writer.close()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def inject(self, data: bytes) -> None:
        for writer in self.sessions:
            if not writer.is_closing():
                writer.write(data)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"Asterisk Call Manager/9.0.0\r\n")
        try:
            while True:
                frame = await reader.readuntil(b"\r\n\r\n")
                action = {}
                for line in frame.decode().split("\r\n"):
                    key, sep, value = line.partition(": ")
                    if sep:
                        action[key.lower()] = value
                self.actions.append(action)
                reply = f"Response: Success\r\nActionID: {action.get('actionid', '')}\r\n"
                if action.get("action", "").lower() == "ping":
                    reply += "Ping: Pong\r\n"
                else:
                    reply += "Message: ok\r\n"
                writer.write(reply.encode() + b"\r\n")
                if action.get("action", "").lower() == "login":
                    self.sessions.append(writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            if writer in self.sessions:
                self.sessions.remove(writer)
            writer.close()


@dataclass
class Adapter:
    asterisk: TinyAsterisk
    ami: AmiConnection
    inbox: asyncio.Queue[AmiItem]
    model: LiveModel
    markers: set[str] = field(default_factory=set)
    consumer: asyncio.Task[None] | None = None

    async def consume(self) -> None:
        while True:
            item = await self.inbox.get()
            if isinstance(item, AmiEvent):
                self.model.apply(item)  # must never raise, whatever the frame held
                if item.name == "UserEvent":
                    self.markers.add(item.get("UserEvent"))


def sizes(model: LiveModel) -> tuple[int, int, int, int]:
    waiting = sum(len(q.waiting) for q in model.queues.values())
    ringing = sum(len(c.ringing) for q in model.queues.values() for c in q.waiting.values())
    memberships = sum(len(o.queues) for o in model.operators.values())
    return len(model.queues), len(model.operators), waiting + ringing, memberships


@pytest.fixture(scope="module")
def adapter() -> Iterator[tuple[LoopThread, Adapter]]:
    async def start() -> Adapter:
        asterisk = TinyAsterisk()
        await asterisk.start()
        inbox: asyncio.Queue[AmiItem] = asyncio.Queue()
        ami = AmiConnection(
            AmiUrl("127.0.0.1", asterisk.port, "hotline", "secret"),
            inbox,
            ping_interval=0.5,
            action_timeout=3.0,
        )
        model = LiveModel(QUEUES)
        # the state garbage must not disturb: one waiting caller, one operator
        model.apply(
            AmiEvent.of({"Event": "QueueCallerJoin", "Queue": QUEUES[0], "Uniqueid": "1.1"})
        )
        model.apply(
            AmiEvent.of(
                {"Event": "QueueMemberAdded", "Queue": QUEUES[0], "Interface": "PJSIP/op101"}
            )
        )
        state = Adapter(asterisk, ami, inbox, model)
        state.consumer = asyncio.create_task(state.consume(), name="fuzz-ami-consumer")
        await ami.start()
        async with asyncio.timeout(WITHIN):
            while not ami.connected:
                await asyncio.sleep(0.01)
        return state

    async def stop(state: Adapter) -> None:
        await state.ami.close()
        assert state.consumer is not None
        state.consumer.cancel()
        await state.asterisk.stop()

    with LoopThread() as thread:
        state = thread.run(start())
        yield thread, state
        thread.run(stop(state))


_markers = itertools.count()
LOOKUP_EVENTS = st.sampled_from(
    [
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentCalled",
        "AgentRingNoAnswer",
        "QueueMemberRemoved",
        "Hangup",
        "SomethingNew",
        "",
    ]
)
FIELD_NAMES = st.sampled_from(
    ["Queue", "Uniqueid", "Interface", "Position", "HoldTime", "CallerIDNum", "ActionID", "Event"]
) | st.text(max_size=12)
UNKNOWN = st.text(max_size=20).map(lambda t: f"fz-{t}")  # never a known queue/caller/operator


@st.composite
def lookup_frames(draw: st.DrawFn) -> bytes:
    """An event about queues, callers and operators nobody knows, with odd values."""
    lines = [f"Event: {draw(LOOKUP_EVENTS)}"]
    for key in ("Queue", "Uniqueid", "Interface"):
        if draw(st.booleans()):
            lines.append(f"{key}: {draw(UNKNOWN)}")
    for _ in range(draw(st.integers(0, 4))):
        lines.append(f"{draw(FIELD_NAMES)}: {draw(st.text(max_size=30))}")
    eol = draw(st.sampled_from(["\r\n", "\n"]))
    return (eol.join(lines) + "\r\n\r\n").encode("utf-8", "surrogatepass")


def wire_text() -> st.SearchStrategy[bytes]:
    return st.lists(
        st.sampled_from([b"\r\n", b"\r\n\r\n", b": ", b"Event: ", b"Response: ", b"ActionID: "])
        | st.binary(max_size=40),
        max_size=20,
    ).map(b"".join)


@fuzz_settings()
@given(data=st.one_of(st.binary(max_size=2048), wire_text(), lookup_frames()))
def test_given_arbitrary_bytes_after_login_when_the_adapter_reads_them_then_it_still_works_and_the_model_does_not_grow(
    adapter: tuple[LoopThread, Adapter], data: bytes
) -> None:
    thread, state = adapter
    before = sizes(state.model)
    pauses = sum(a.get("action") == "QueuePause" for a in state.asterisk.actions)

    async def feed() -> None:
        marker = f"marker-{next(_markers)}"
        state.asterisk.inject(data + b"\r\n\r\n")
        async with asyncio.timeout(WITHIN):
            while marker not in state.markers:  # a valid event still gets through
                if state.ami.connected:
                    state.asterisk.inject(
                        f"Event: UserEvent\r\nUserEvent: {marker}\r\n\r\n".encode()
                    )
                await asyncio.sleep(0.05)
            while not state.ami.connected:
                await asyncio.sleep(0.02)
            await state.ami.queue_pause("PJSIP/op101", True, "fuzz")  # and an action is answered

    thread.run(feed(), timeout=WITHIN + 5)

    assert sizes(state.model) == before
    assert sum(a.get("action") == "QueuePause" for a in state.asterisk.actions) == pauses + 1
