"""A real SMTP server for tests: aiosmtpd's Controller on 127.0.0.1 and a free port.

Every message the server accepts is kept, parsed, with its envelope. Helpers read what kflow's
mails say: the (rung, case id) items of a reminder or digest, the case links of a hand-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
import re
import socket
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
RUNG_BY_LABEL = {
    "Förfaller snart": "upcoming",
    "Förfaller i dag": "due",
    "Försenat": "overdue",
    "Eskalerat": "escalated",
}
_CASE_LINK = re.compile(r"/arenden/(\d+)$")


def digest_items(text: str) -> list[tuple[str, int]]:
    """(rung, case id) for every item of a reminder/digest mail's text body."""
    found: list[tuple[str, int]] = []
    label: str | None = None
    for line in text.splitlines():
        if line.startswith("- "):
            label = line[2:].split(":", 1)[0]
        link = _CASE_LINK.search(line.strip())
        if link and label is not None:
            found.append((RUNG_BY_LABEL[label], int(link.group(1))))
            label = None
    return found


def case_links(text: str) -> list[int]:
    """The case ids of the deep links (``.../arenden/<id>``) in a text body, in order."""
    lines = (line.strip() for line in text.splitlines())
    return [int(m.group(1)) for m in map(_CASE_LINK.search, lines) if m]


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
    return port


@dataclasses.dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage

    @property
    def to(self) -> str:
        assert len(self.rcpt_tos) == 1, self.rcpt_tos
        return self.rcpt_tos[0]

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])

    def text(self) -> str:
        part = self.message.get_body(preferencelist=("plain",))
        assert part is not None, "no text/plain part"
        return str(part.get_content())

    def html(self) -> str:
        part = self.message.get_body(preferencelist=("html",))
        assert part is not None, "no text/html part"
        return str(part.get_content())

    def items(self) -> list[tuple[str, int]]:
        return digest_items(self.text())

    def links(self) -> list[int]:
        return case_links(self.text())


class Capture:
    """aiosmtpd handler that keeps every message; with a ``delay``, each answer to a message
    comes that many seconds late (other sessions go on meanwhile), as from a busy server."""

    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.delay = delay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = bytes(envelope.content)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), raw, message)
            )
        return "250 OK"


class SmtpServer:
    """Start, stop and restart a capturing SMTP server on one fixed port."""

    def __init__(self, port: int | None = None, delay: float = 0.0) -> None:
        self.host = HOST
        self.port = port or free_port()
        self.capture = Capture(delay)
        self._controller: Controller | None = None

    def start(self) -> None:
        controller = Controller(self.capture, hostname=self.host, port=self.port)
        try:
            controller.start()
        except BaseException:
            controller.stop(no_assert=True)
            raise
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def messages(self) -> list[Received]:
        with self.capture.lock:
            return list(self.capture.received)

    def clear(self) -> None:
        with self.capture.lock:
            self.capture.received.clear()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} of {count} mails arrived"
            time.sleep(0.01)
        return self.messages

    def settings(self) -> dict[str, Any]:
        """Settings overrides pointing kflow's SMTP transport at this server."""
        return {"backend": "smtp", "smtp_host": self.host, "smtp_port": self.port}

    def env(self) -> dict[str, str]:
        """The same, as the short environment names of the operations guide."""
        return {
            "KFLOW_MAIL_BACKEND": "smtp",
            "KFLOW_SMTP_HOST": self.host,
            "KFLOW_SMTP_PORT": str(self.port),
            "KFLOW_SMTP_TIMEOUT": "10",
        }


@contextlib.contextmanager
def running_server(port: int | None = None, delay: float = 0.0) -> Iterator[SmtpServer]:
    server = SmtpServer(port, delay)
    server.start()
    try:
        yield server
    finally:
        server.stop()
