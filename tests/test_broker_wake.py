"""An idle consumer wakes when a message is queued (resolver/broker_wake.py), on real Redis."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from django.conf import settings
from dramatiq import Message

from resolver.broker import build_broker
from resolver.broker_wake import WakeableConsumer, WakeableRedisBroker
from resolver.polling import wait_for

# Dramatiq's backoff after this many empty polls is at least half the consumer's timeout.
MANY_MISSES = 20
TIMEOUT_MS = 8000


def _message(queue: str) -> Message[Any]:
    return Message(queue_name=queue, actor_name="nobody", args=(), kwargs={}, options={})


def _first_message(consumer: WakeableConsumer, found: list[tuple[float, Any]]) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000 * 2
    while time.monotonic() < deadline:
        message = next(consumer)
        if message is not None:
            found.append((time.monotonic(), message))
            return


def _consume_while_idle(broker: WakeableRedisBroker, queue: str) -> float:
    """Starts the queue's consumer asleep in a long backoff, queues a message, and returns how
    long after the enqueue the consumer had it."""
    broker.declare_queue(queue)
    consumer = broker.consume(queue, prefetch=1, timeout=TIMEOUT_MS)
    assert isinstance(consumer, WakeableConsumer)
    consumer.misses = MANY_MISSES  # its next sleep: 4 to 8 s
    found: list[tuple[float, Any]] = []
    thread = threading.Thread(target=_first_message, args=(consumer, found), daemon=True)
    thread.start()
    time.sleep(0.3)  # asleep by now
    sent = broker.enqueue(_message(queue))
    queued_at = time.monotonic()
    thread.join(TIMEOUT_MS / 1000 * 2)
    assert found, "the consumer never had the message"
    (arrived_at, message) = found[0]
    consumer.ack(message)
    consumer.close()
    assert not broker.listener.events  # the queue's event given back
    assert message.message_id == sent.message_id
    return arrived_at - queued_at


def _listening_threads() -> int:
    return sum(thread.name == "broker-wake" for thread in threading.enumerate())


def test_a_queued_message_wakes_the_idle_consumer() -> None:
    broker = build_broker(settings.REDIS_URL)
    assert isinstance(broker, WakeableRedisBroker)
    before = _listening_threads()
    try:
        waited = _consume_while_idle(broker, f"wake-test-{uuid.uuid4().hex[:8]}")
    finally:
        broker.close()
    # Without the wake the consumer would sleep out its backoff: 4 s at least.
    assert waited < 2.0
    # Its consumer closed, the process listens no more (a stopped worker leaves no thread).
    assert wait_for(lambda: _listening_threads() == before, 5)


def test_a_delayed_message_wakes_nobody_until_it_falls_due() -> None:
    broker = build_broker(settings.REDIS_URL)
    queue = f"wake-test-{uuid.uuid4().hex[:8]}"
    received: list[bytes] = []
    pubsub = broker.client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(broker.listener.channel)
    try:
        broker.declare_queue(queue)
        broker.enqueue(_message(queue), delay=60_000)
        broker.enqueue(_message(queue))
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not received:
            item = pubsub.get_message(timeout=0.2)
            if item is not None:
                received.append(item["data"])
        # Only the immediate one announced itself, by its queue's name.
        assert received == [queue.encode()]
        assert pubsub.get_message(timeout=0.3) is None
    finally:
        pubsub.close()
        broker.flush(queue)
