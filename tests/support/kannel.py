"""A real Kannel (bearerbox + smsbox from Debian's ``kannel``) on free loopback ports, with a
fake SMSC client that speaks ``smsc_fake``'s line protocol: it records every MT message the
gateway sends and injects MO messages. Config and logs live in a temporary directory."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

BEARERBOX = shutil.which("bearerbox") or "/usr/sbin/bearerbox"
SMSBOX = shutil.which("smsbox") or "/usr/sbin/smsbox"
USERNAME = "hotline"
PASSWORD = "kannel-test-password"
SHORT_CODE = "1022"

CONFIG = """\
group = core
admin-port = {admin}
admin-interface = 127.0.0.1
admin-password = adminpass
status-password = statuspass
admin-allow-ip = "127.0.0.1"
smsbox-port = {box}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
dlr-storage = internal
log-file = "{dir}/bearerbox.log"
log-level = 0

group = smsc
smsc = fake
smsc-id = fake1
port = {fake}
our-host = 127.0.0.1
connect-allow-ip = 127.0.0.1

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {box}
sendsms-port = {send}
sendsms-interface = 127.0.0.1
log-file = "{dir}/smsbox.log"
log-level = 0
mo-recode = true
http-request-retry = 5
http-queue-delay = 1

group = sendsms-user
username = {username}
password = {password}
default-sender = {short_code}
max-messages = 10
concatenation = true

group = sms-service
keyword = default
get-url = "{hook}/notify/kannel/mo?secret={secret}&from=%p&to=%P&text=%a&coding=%c&charset=%C"
max-messages = 0
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@dataclass(frozen=True)
class MtMessage:
    sender: str
    receiver: str
    text: str


@dataclass(frozen=True)
class MtPart:
    sender: str
    receiver: str
    text: str
    ref: int | None = None  # concatenated SMS: reference, part count, part number
    total: int = 1
    seq: int = 1


def _unquote(data: str) -> bytes:
    return urllib.parse.unquote_to_bytes(data.replace("+", "%20"))


def decode_mt(line: str) -> MtPart:
    """``1022 849… text Xin+chao``, ``… ucs-2 %00X%00i…`` (URL-encoded UTF-16BE), or one part
    of a long message: ``… udh %05%00%03<ref><total><seq> data <UTF-16BE>``."""
    sender, receiver, kind, data = line.split(" ", 3)
    ref: int | None = None
    total = seq = 1
    if kind == "udh":
        udh_data, kind, data = data.split(" ", 2)
        udh = _unquote(udh_data)
        if len(udh) >= 6 and udh[1] == 0:
            ref, total, seq = udh[3], udh[4], udh[5]
    raw = _unquote(data)
    text = raw.decode("utf-16-be") if kind in ("ucs-2", "data") else raw.decode("latin-1")
    return MtPart(sender, receiver, text, ref, total, seq)


class FakeSmsc:
    """Client of bearerbox's fake-SMSC port; reconnects when bearerbox comes back."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._lock = threading.Condition()
        self._sock: socket.socket | None = None
        self._closed = False
        self.received: list[MtMessage] = []
        self._parts: dict[tuple[str, int], dict[int, MtPart]] = {}
        self._thread = threading.Thread(target=self._run, name="fake-smsc", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            try:
                sock = socket.create_connection(("127.0.0.1", self._port), timeout=1.0)
            except OSError:
                time.sleep(0.05)
                continue
            sock.settimeout(0.2)
            with self._lock:
                self._sock = sock
                self._lock.notify_all()
            buffer = b""
            while not self._closed:
                try:
                    chunk = sock.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not chunk:
                    break
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                with self._lock:
                    for line in lines:
                        if line.strip():
                            self._add(decode_mt(line.decode("ascii").strip()))
                    self._lock.notify_all()
            with self._lock:
                self._sock = None
            sock.close()

    def _add(self, part: MtPart) -> None:
        """Whole messages only: the parts of a concatenated one are joined in order."""
        if part.ref is None:
            self.received.append(MtMessage(part.sender, part.receiver, part.text))
            return
        parts = self._parts.setdefault((part.receiver, part.ref), {})
        parts[part.seq] = part
        if len(parts) == part.total:
            del self._parts[(part.receiver, part.ref)]
            text = "".join(parts[n].text for n in sorted(parts))
            self.received.append(MtMessage(part.sender, part.receiver, text))

    def wait_connected(self, timeout: float = 10.0) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self._sock is not None, timeout):
                raise RuntimeError("the fake SMSC did not connect to bearerbox")

    def wait_disconnected(self, timeout: float = 10.0) -> None:
        with self._lock:
            if not self._lock.wait_for(lambda: self._sock is None, timeout):
                raise RuntimeError("the fake SMSC is still connected")

    def mo(self, sender: str, receiver: str, text: str) -> None:
        if all(32 <= ord(c) < 127 for c in text) and " " not in text:
            line = f"{sender} {receiver} text {text}\n"
        else:
            data = urllib.parse.quote_from_bytes(text.encode("utf-16-be"))
            line = f"{sender} {receiver} ucs2 {data}\n"
        self.wait_connected()
        with self._lock:
            assert self._sock is not None
            self._sock.sendall(line.encode("ascii"))

    def wait_for(self, count: int, timeout: float = 20.0) -> list[MtMessage]:
        with self._lock:
            self._lock.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        self._closed = True
        if self._thread.is_alive():
            self._thread.join(timeout=5)


class Kannel:
    def __init__(self, directory: Path, hook_url: str, secret: str) -> None:
        self.dir = directory
        self.admin, self.box, self.send, self.fake = (free_port() for _ in range(4))
        self.config = directory / "kannel.conf"
        self.config.write_text(
            CONFIG.format(
                admin=self.admin,
                box=self.box,
                send=self.send,
                fake=self.fake,
                dir=directory,
                username=USERNAME,
                password=PASSWORD,
                short_code=SHORT_CODE,
                hook=hook_url,
                secret=urllib.parse.quote(secret, safe=""),
            )
        )
        self._bearerbox: subprocess.Popen[bytes] | None = None
        self._smsbox: subprocess.Popen[bytes] | None = None
        self.smsc = FakeSmsc(self.fake)

    @property
    def sendsms_url(self) -> str:
        return f"http://127.0.0.1:{self.send}/cgi-bin/sendsms"

    def start(self) -> None:
        """bearerbox first (smsbox gives up when it finds no bearerbox), then smsbox."""
        out = (self.dir / "boxes.out").open("ab")
        self._bearerbox = subprocess.Popen(
            [BEARERBOX, "-v", "2", str(self.config)], stdout=out, stderr=out, cwd=self.dir
        )
        wait_port(self.box)
        wait_port(self.fake)
        self._smsbox = subprocess.Popen(
            [SMSBOX, "-v", "2", str(self.config)], stdout=out, stderr=out, cwd=self.dir
        )
        wait_port(self.send)
        if not self.smsc._thread.is_alive():
            self.smsc.start()
        self.smsc.wait_connected()

    def stop(self) -> None:
        """SIGTERM to bearerbox; it tells smsbox to go too."""
        for proc in (self._bearerbox, self._smsbox):
            if proc is not None and proc.poll() is None:
                proc.terminate()
        for proc in (self._bearerbox, self._smsbox):
            if proc is not None:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self._bearerbox = self._smsbox = None
        if self.smsc._thread.is_alive():
            self.smsc.wait_disconnected()

    def close(self) -> None:
        self.stop()
        self.smsc.close()
