"""A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives, for tests of the
e-mail channels: alerts, deadline callbacks and extract delivery.

`with smtp_server() as server:` serves on a free port in a thread of its own (aiosmtpd's
`Controller`); `server.port` goes into the test's `AIRFLOW_CONN_*`, and `server.messages`
holds each accepted mail as its envelope and parsed message.
"""

from __future__ import annotations

import email
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from typing import Any

from tests.local_servers import free_port


@dataclass(frozen=True)
class Mail:
    sender: str
    recipients: list[str]
    raw: bytes

    @property
    def message(self) -> Message:
        return email.message_from_bytes(self.raw)


@dataclass
class SmtpServer:
    port: int = 0
    messages: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        """aiosmtpd's hook for a message whose data arrived: keep it."""
        self.messages.append(
            Mail(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.original_content))
        )
        return "250 Message accepted for delivery"


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    from aiosmtpd.controller import Controller

    received = SmtpServer(port=free_port())
    controller = Controller(received, hostname="127.0.0.1", port=received.port)
    controller.start()
    try:
        yield received
    finally:
        controller.stop()
