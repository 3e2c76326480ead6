"""E-mail under load with the SMTP server down part of the time (#25's target): N e-mails (1,000
by default) through POST /api/v1/inbound/email on uvicorn, each from its own sender, plus a tenth
of them posted a second time (the same Message-ID: a duplicate); a real Dramatiq worker drafts
them; every SUGGESTED draft is approved through the API while a real SMTP server (aiosmtpd on
loopback) is stopped, and the server is started again after OUTAGE seconds.

Reports: answers by status (5xx must be 0), e-mails stored (one message per Message-ID), drafts
by status, approved replies, replies the SMTP server received and how many distinct Message-IDs
they carry (each approved reply exactly once), delivery statuses and attempts, and the ingest
latency. Writes bench/results/email_flood.json."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from _setup import latency_summary, setup_django, write_result
from aiosmtpd.controller import Controller
from ingest import BASE, start_server

QUESTIONS = [
    "Where is my order NW-{n}? It was supposed to arrive yesterday.",
    "How do I reset my password? I cannot log in.",
    "Can I change the shipping address of order NW-{n}?",
    "How long does a refund take?",
    "I want to cancel my order NW-{n}, please.",
    "What payment methods do you accept?",
]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Recorder:
    """aiosmtpd handler: the Message-ID of every mail accepted."""

    def __init__(self) -> None:
        self.message_ids: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        from email import message_from_bytes

        message_id = str(message_from_bytes(bytes(envelope.content))["Message-ID"])
        with self.lock:
            self.message_ids.append(message_id)
        return "250 Message accepted for delivery"


def email(n: int) -> bytes:
    text = QUESTIONS[n % len(QUESTIONS)].format(n=10000 + n)
    return (
        f"From: Customer {n} <customer{n}.{uuid.uuid4().hex[:6]}@mail.example>\r\n"
        f"To: Support <support@shop.example>\r\nSubject: Question {n}\r\n"
        f"Message-ID: <{uuid.uuid4().hex}@mail.example>\r\nMIME-Version: 1.0\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
    ).encode()


async def pool(
    items: list[Any], concurrency: int, send: Callable[[aiohttp.ClientSession, Any], Awaitable[int]]
) -> tuple[Counter[int], list[float]]:
    """`send` on each item over `concurrency` connections: answers by status, latencies (ms)."""
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    queue: asyncio.Queue[Any] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker() -> None:
            while not queue.empty():
                item = queue.get_nowait()
                started = time.perf_counter()
                statuses[await send(session, item)] += 1
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses, latencies


async def post_all(raws: list[bytes], key: str, concurrency: int) -> dict[str, Any]:
    headers = {"content-type": "message/rfc822", "authorization": f"Bearer {key}"}

    async def send(session: aiohttp.ClientSession, raw: bytes) -> int:
        url = f"{BASE}/api/v1/inbound/email"
        async with session.post(url, data=raw, headers=headers) as response:
            await response.read()
            return response.status

    statuses, latencies = await pool(raws, concurrency, send)
    return {"statuses": dict(statuses), "latency": latency_summary(latencies)}


async def approve_all(draft_ids: list[str], key: str, concurrency: int) -> Counter[int]:
    headers = {"content-type": "application/json", "authorization": f"Bearer {key}"}

    async def send(session: aiohttp.ClientSession, draft_id: str) -> int:
        url = f"{BASE}/api/v1/drafts/{draft_id}/approve"
        async with session.post(url, data=b"{}", headers=headers) as response:
            await response.read()
            return response.status

    statuses, _ = await pool(draft_ids, concurrency, send)
    return statuses


def wait_until(check: Any, seconds: float, every: float = 1.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return bool(check())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument(
        "--outage", type=float, default=20.0, help="seconds the SMTP server is down"
    )
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    smtp_port = free_port()
    # The server and the worker read these at start (children inherit the environment).
    os.environ.update(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "EMAIL_TIMEOUT": "5",
            "SUPPORT_EMAIL_FROM": "Shop Support <support@shop.example>",
            "EMAIL_DELIVERY_BACKOFF_SECONDS": "1",
            "EMAIL_DELIVERY_MAX_ATTEMPTS": "20",
            "INBOUND_EMAIL_RATE_LIMIT_PER_HOUR": "0",
            "API_RATE_LIMIT_PER_MINUTE": "1000000",
        }
    )
    setup_django()
    from django.core.management import call_command

    from resolver.broker import child_environment, worker_command
    from resolver.processes import stop_all
    from support.models import (
        Channel,
        Conversation,
        Draft,
        InboundEmail,
        Message,
        MessageRole,
        ReplyDelivery,
    )

    call_command("load_demo_kb", verbosity=0)
    from resolver.models import ApiKey

    issued, key = ApiKey.issue("bench-email-flood", ["ingest", "read", "act"])
    since = time.time()
    recorder = Recorder()
    smtp = Controller(recorder, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    server = start_server()
    worker = subprocess.Popen(worker_command(processes=1, threads=4), env=child_environment())
    try:
        raws = [email(n) for n in range(args.emails)]
        duplicates = raws[: max(1, args.emails // 10)]
        started = time.perf_counter()
        ingest = asyncio.run(post_all(raws + duplicates, key, args.concurrency))
        ingest_seconds = round(time.perf_counter() - started, 1)

        conversations = Conversation.objects.filter(
            channel=Channel.EMAIL, created_at__gte=ingest_started(since)
        )
        drafts = Draft.objects.filter(conversation__in=conversations)

        def drafted() -> bool:
            return not drafts.filter(status="PENDING").exists()

        drafted_in_time = wait_until(drafted, 1800, every=2)
        suggested = [
            str(pk) for pk in drafts.filter(status="SUGGESTED").values_list("pk", flat=True)
        ]

        # The SMTP server is down while the replies are approved, and for `outage` seconds.
        smtp.stop()
        approve_started = time.perf_counter()
        approvals = asyncio.run(approve_all(suggested, key, args.concurrency))
        remaining = args.outage - (time.perf_counter() - approve_started)
        if remaining > 0:
            time.sleep(remaining)
        smtp = Controller(recorder, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        back = time.perf_counter()
        replies = ReplyDelivery.objects.filter(message__conversation__in=conversations)

        def delivered() -> bool:
            return not replies.filter(status="queued").exists()

        delivered_in_time = wait_until(delivered, 900, every=2)
        delivery_seconds = round(time.perf_counter() - back, 1)
        time.sleep(5)  # anything sent twice would arrive now
        received = list(recorder.message_ids)
        agent_messages = Message.objects.filter(
            conversation__in=conversations, role=MessageRole.AGENT
        ).count()
        result = {
            "emails": args.emails,
            "duplicates_posted": len(duplicates),
            "outage_seconds": args.outage,
            "ingest": {**ingest, "seconds": ingest_seconds},
            "answers_5xx": sum(n for status, n in ingest["statuses"].items() if status >= 500),
            "inbound_emails_by_status": dict(
                Counter(
                    InboundEmail.objects.filter(
                        message__conversation__in=conversations
                    ).values_list("status", flat=True)
                )
            ),
            "customer_messages": Message.objects.filter(
                conversation__in=conversations, role=MessageRole.CUSTOMER
            ).count(),
            "drafts": dict(Counter(drafts.values_list("status", flat=True))),
            "drafted_in_time": drafted_in_time,
            "approvals": dict(approvals),
            "agent_messages": agent_messages,
            "deliveries": dict(Counter(replies.values_list("status", flat=True))),
            "delivery_attempts": dict(Counter(replies.values_list("attempts", flat=True))),
            "delivered_in_time": delivered_in_time,
            "seconds_to_deliver_after_smtp_back": delivery_seconds,
            "smtp_received": len(received),
            "smtp_distinct_message_ids": len(set(received)),
        }
        result["every_approved_reply_once"] = (
            len(received) == len(set(received)) == agent_messages == len(suggested)
        )
    finally:
        stop_all([worker])
        server.terminate()
        server.wait(timeout=30)
        with contextlib.suppress(Exception):  # already stopped when the outage was cut short
            smtp.stop()
        issued.revoke()
    write_result("email_flood", result)


def ingest_started(since: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(since, tz=UTC)


if __name__ == "__main__":
    main()
