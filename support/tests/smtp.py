"""A real SMTP server for tests (aiosmtpd, on loopback): records every message it accepts, and
answers scripted refusals (per recipient, or the next DATA commands). Started once per test
session (support/tests/conftest.py: `smtp_server`); stopped and started again on the same port to
play an outage."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = message_from_bytes(self.raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Handler:
    received: list[Received] = field(default_factory=list)
    # Recipients refused at RCPT with this reply ("550 5.1.1 no such user").
    refuse: dict[str, str] = field(default_factory=dict)
    # Replies to the next DATA commands, in order ("451 4.3.0 try later"); then accepted.
    data_replies: list[str] = field(default_factory=list)
    # Seconds each DATA takes before it is answered (a slow server: sends that overlap).
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if reply := self.refuse.get(address.lower()):
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content))
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    def __init__(self, port: int) -> None:
        self.host, self.port = "127.0.0.1", port
        self.handler = Handler()
        self.controller: Controller | None = None

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def start(self) -> None:
        if self.controller is None:
            self.controller = Controller(self.handler, hostname=self.host, port=self.port)
            self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def reset(self) -> None:
        """Running, with nothing received and nothing scripted."""
        self.start()
        with self.handler.lock:
            self.handler.received.clear()
            self.handler.refuse.clear()
            self.handler.data_replies.clear()
            self.handler.delay = 0.0
