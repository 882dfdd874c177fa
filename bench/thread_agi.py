"""The thread-per-call FastAGI baseline of ``bench.agi_capacity``.

A standard-library ``socketserver.ThreadingTCPServer`` (one OS thread per call, blocking socket
I/O) that runs the same call flow as ``ivr.service.IvrService`` over the same menu file and
sends the same commands in the same order: read the ``agi_*`` block, GET VARIABLE
``CHANNEL(linkedid)``, SET VARIABLE queue/category/ticket, ANSWER, GET VARIABLE
``MIXMONITOR_FILENAME``, STREAM FILE greeting, GET DATA menu (1022: retries on an invalid key,
no input ⇒ operator), SET VARIABLE category, RECORD FILE where the menu records (1022 option 2,
the 115 location), STREAM FILE connecting. Like the service in the benchmark, it writes no
database: a ticket code comes from an in-memory counter and no snapshot is kept.

Only for benchmarks: it handles no hang-up, 5xx reply or fallback the way the service does.
"""

from __future__ import annotations

import itertools
import re
import socketserver
import threading
from datetime import UTC, datetime
from pathlib import Path

from ivr.menu import LineFlow, MenuFile, RecordStep
from tickets.codes import format_code
from tickets.model import Category, Line

PROMPT_DIR = "hotline"
_REPLY = re.compile(r"^(\d{3}) result=(-?[^ ]*)(?: \(([^)]*)\))?")


class CallEnded(Exception):
    """The channel hung up or the connection closed."""


def _quote(argument: str) -> str:
    if argument and not any(c in argument for c in ' \t"\\'):
        return argument
    return '"' + argument.replace("\\", "\\\\").replace('"', '\\"') + '"'


class ThreadAgiHandler(socketserver.StreamRequestHandler):
    server: ThreadAgiServer

    def command(self, *words: str) -> tuple[str, str | None]:
        line = " ".join([words[0], *(_quote(w) for w in words[1:])])
        self.wfile.write(line.encode("utf-8") + b"\n")
        while True:
            raw = self.rfile.readline()
            if not raw.endswith(b"\n"):
                raise CallEnded(f"connection closed during {words[0]}")
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if text and text != "HANGUP":
                break
        match = _REPLY.match(text)
        if match is None or match.group(1) != "200":
            raise CallEnded(f"{words[0]}: {text}")
        if match.group(3) == "hangup":
            raise CallEnded(f"{words[0]}: hung up")
        return match.group(2), match.group(3)

    def handle(self) -> None:
        env: dict[str, str] = {}
        while True:
            raw = self.rfile.readline()
            if not raw.endswith(b"\n"):
                return
            if raw == b"\n":
                break
            key, _, value = raw.decode("utf-8", errors="replace").partition(":")
            env[key.strip()] = value.strip()
        try:
            self.call(env)
        except (CallEnded, ConnectionError):
            return

    def call(self, env: dict[str, str]) -> None:
        menu = self.server.menu
        extension = env.get("agi_extension", "")
        line = Line(extension) if extension in {x.value for x in Line} else Line.CITIZEN
        flow = menu.lines[line]
        uniqueid = env.get("agi_uniqueid", "")
        self.command("GET VARIABLE", "CHANNEL(linkedid)")
        self.command("SET VARIABLE", "HOTLINE_QUEUE", flow.queue)
        self.command("SET VARIABLE", "HOTLINE_CATEGORY", flow.category.value)
        self.command("SET VARIABLE", "HOTLINE_TICKET", self.server.next_code(line))
        self.command("ANSWER")
        self.command("GET VARIABLE", "MIXMONITOR_FILENAME")
        self.play(flow.greeting)
        category, record = flow.category, flow.record
        if flow.menu is not None:
            category, record = self.menu_choice(flow)
        if category is not flow.category:
            self.command("SET VARIABLE", "HOTLINE_CATEGORY", category.value)
        if record is not None:
            self.play(record.prompt)
            day = datetime.now(UTC).strftime("%Y%m%d")
            target = self.server.recordings / day / f"{uniqueid}-{record.purpose}"
            target.parent.mkdir(parents=True, exist_ok=True)
            words = ["RECORD FILE", str(target), menu.recording.format]
            words += [menu.recording.escape_digits, str(record.max_seconds * 1000), "0"]
            if menu.recording.beep:
                words.append("BEEP")
            if record.silence_seconds:
                words.append(f"s={record.silence_seconds}")
            self.command(*words)
            if record.thanks:
                self.play(record.thanks)
        self.play(flow.connecting)

    def menu_choice(self, flow: LineFlow) -> tuple[Category, RecordStep | None]:
        menu = flow.menu
        assert menu is not None
        for attempt in range(1, menu.max_attempts + 1):
            digit, _ = self.command(
                "GET DATA", f"{PROMPT_DIR}/{menu.prompt}", str(menu.timeout_ms), "1"
            )
            if not digit or digit == "-1":
                break
            option = menu.option(digit)
            if option is not None:
                if option.category is Category.UNCLASSIFIED:
                    self.play(menu.operator)
                return option.category, option.record
            if attempt < menu.max_attempts:
                self.play(menu.invalid)
        self.play(menu.operator)
        return Category.UNCLASSIFIED, None

    def play(self, prompt: str) -> None:
        self.command("STREAM FILE", f"{PROMPT_DIR}/{prompt}", "")


class ThreadAgiServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 100  # asyncio.start_server's default backlog, as ours has

    def __init__(self, address: tuple[str, int], menu: MenuFile, recordings: Path) -> None:
        super().__init__(address, ThreadAgiHandler)
        self.menu = menu
        self.recordings = recordings
        self._lock = threading.Lock()
        self._numbers = {line: itertools.count(1) for line in Line}

    def next_code(self, line: Line) -> str:
        with self._lock:
            number = next(self._numbers[line])
        return format_code(line, datetime.now(UTC).year, number)
