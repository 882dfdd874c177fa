"""Helpers for the hypothesis fuzz tests: how many examples (``HOTLINE_FUZZ_EXAMPLES`` for a
long run, a short default in CI), an asyncio loop in a thread so that a synchronous hypothesis
test can drive real asyncio servers over real sockets, and strategies for ``agi_*`` blocks."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

T = TypeVar("T")
SHORT_RUN = 60


def fuzz_settings(short: int = SHORT_RUN) -> settings:
    """``HOTLINE_FUZZ_EXAMPLES=5000`` for a long run; no deadline (sockets, a loaded machine)."""
    examples = int(os.environ.get("HOTLINE_FUZZ_EXAMPLES") or short)
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


class LoopThread:
    """One event loop running in a daemon thread; ``run`` blocks on a coroutine there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="fuzz-loop", daemon=True)

    def __enter__(self) -> LoopThread:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)


# The fields of an agi_* block in Asterisk's order (res_agi.c launch_netscript + setup_env).
AGI_FIELDS = (
    "network",
    "network_script",
    "request",
    "channel",
    "language",
    "type",
    "uniqueid",
    "version",
    "callerid",
    "calleridname",
    "callingpres",
    "callingani2",
    "callington",
    "callingtns",
    "dnid",
    "rdnis",
    "context",
    "extension",
    "priority",
    "enhanced",
    "accountcode",
    "threadid",
)
VIETNAMESE = "Nguyễn Trần Lê Phạm Hoàng Huỳnh Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý Văn Thị Ánh Đức "


def agi_value() -> st.SearchStrategy[bytes]:
    """What a channel may carry in one header: UTF-8 text (Vietnamese included), Latin-1 or
    Windows-1258 bytes, or any bytes at all; never a line break (that ends the line)."""
    return st.one_of(
        st.text(max_size=40).map(lambda t: t.encode("utf-8")),
        st.text(alphabet=VIETNAMESE, max_size=40).map(lambda t: t.encode("utf-8")),
        st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=40).map(
            lambda t: t.encode("latin-1")
        ),
        st.binary(max_size=60),
    ).map(lambda raw: raw.replace(b"\n", b"").replace(b"\r", b""))


@st.composite
def agi_blocks(draw: st.DrawFn, script: bytes = b"hotline") -> tuple[bytes, dict[str, bytes]]:
    """An ``agi_*`` block as Asterisk writes it (the header names, their order, ``agi_arg_N``
    after them, the blank line), every value but the script's drawn from ``agi_value``; and
    the values by field name."""
    values = {f"agi_{name}": draw(agi_value()) for name in AGI_FIELDS}
    values["agi_network_script"] = script
    for n in range(1, draw(st.integers(0, 3)) + 1):
        values[f"agi_arg_{n}"] = draw(agi_value())
    block = b"".join(b"%s: %s\n" % (name.encode(), value) for name, value in values.items())
    return block + b"\n", values
