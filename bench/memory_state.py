"""What memory adds to building the agent's state (#26 target: ≤ 10 ms p95): state_for_message
for a verified customer with 20 earlier conversations of 10 messages each (5 read, the
MEMORY_CONVERSATIONS default), with memory and without it (MEMORY_CONVERSATIONS=0: the same
builder, no earlier conversations read), on the bench's own embedded PostgreSQL. The rows are
written in a transaction rolled back at the end."""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

from _setup import latency_summary, setup_django, write_result

EARLIER = 20
MESSAGES = 10


class _Rollback(Exception):
    pass


def _write_history(ref: str) -> Any:
    from django.utils import timezone

    from support.inbound import receive_message
    from support.models import (
        Conversation,
        ConversationStatus,
        Customer,
        Draft,
        DraftStatus,
        Message,
        MessageRole,
        Order,
    )

    customer = Customer.objects.create(ref=ref, name="Bench")
    for index in range(EARLIER):
        number = f"BM-{10000 + index}"
        Order.objects.create(number=number, customer=customer)
        when = timezone.now() - timedelta(days=EARLIER - index)
        conversation = Conversation.objects.create(
            customer=customer, customer_ref=ref, status=ConversationStatus.RESOLVED
        )
        for turn in range(MESSAGES):
            customer_turn = turn % 2 == 0
            message = Message.objects.create(
                conversation=conversation,
                role=MessageRole.CUSTOMER if customer_turn else MessageRole.AGENT,
                body=f"my order {number} arrived broken, turn {turn}"
                if customer_turn
                else f"We have sent a replacement for order {number}. Tracking number 1Z{turn}.",
            )
            if customer_turn:
                Draft.objects.create(
                    message=message,
                    conversation=conversation,
                    status=DraftStatus.SENT,
                    intent="get_refund",
                    facts={"entities": {"order_numbers": [number]}},
                )
            Message.objects.filter(pk=message.pk).update(created_at=when + timedelta(minutes=turn))
        Conversation.objects.filter(pk=conversation.pk).update(created_at=when)
    message, _ = receive_message(
        "any news on my replacement?", customer_ref=ref, enqueue=False, verified_by="api_key"
    )
    Conversation.objects.filter(pk=message.conversation_id).update(customer=customer)
    return Message.objects.select_related("conversation").get(pk=message.pk)


def _time(message: Any, runs: int) -> list[float]:
    from django.db import connection

    from agents.state_builder import state_for_message

    millis = []
    for _ in range(runs):
        fresh = type(message).objects.select_related("conversation").get(pk=message.pk)
        connection.ensure_connection()
        started = time.perf_counter()
        state_for_message(fresh)
        millis.append((time.perf_counter() - started) * 1000)
    return millis


def measure(runs: int) -> dict[str, Any]:
    from django.conf import settings
    from django.db import transaction

    from agents.state_builder import state_for_message

    result: dict[str, Any] = {}
    try:
        with transaction.atomic():
            message = _write_history(f"bench-memory-{time.time_ns()}")
            earlier = state_for_message(message)["earlier"]
            _time(message, 20)  # warm: plans cached, connection busy
            with_memory = _time(message, runs)
            configured = settings.MEMORY_CONVERSATIONS
            settings.MEMORY_CONVERSATIONS = 0
            try:
                without = _time(message, runs)
            finally:
                settings.MEMORY_CONVERSATIONS = configured
            with_p = latency_summary(with_memory)
            without_p = latency_summary(without)
            result = {
                "earlier_conversations_stored": EARLIER,
                "messages_each": MESSAGES,
                "earlier_conversations_read": len(earlier),
                "with_memory": with_p,
                "without_memory": without_p,
                "added_p50_ms": round(with_p["p50_ms"] - without_p["p50_ms"], 2),
                "added_p95_ms": round(with_p["p95_ms"] - without_p["p95_ms"], 2),
                "target_added_p95_ms": 10,
            }
            raise _Rollback
    except _Rollback:
        pass
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=300)
    args = parser.parse_args()
    setup_django()
    write_result("memory_state", measure(args.runs))


if __name__ == "__main__":
    main()
