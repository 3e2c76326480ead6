"""Waking idle consumers when a message is queued, instead of letting them sleep out a poll.

Dramatiq's Redis consumer has no blocking fetch: an idle one polls with an exponential backoff
(5-10 ms, then 10-20, 20-40 ... up to the worker's timeout, CONSUMER_IDLE_POLL_MS in
resolver/broker.py). A message that arrives while it sleeps waits out the sleep: at a quiet
worker's pace the sleeps reach 50-100 ms, and bench/agent.py measured time-to-draft p50 117 ms
before this module and 69 ms after (README, "time-to-draft: a message no longer waits").

Here every immediate enqueue also publishes the queue's name on one Redis channel, and each
worker process listens on it in one thread: the consumer of that queue stops sleeping and
fetches. The polling stays as it was (a missed wake, a listener reconnecting, delayed messages
falling due): the wake only shortens a sleep, it never replaces the fetch."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import compute_backoff
from dramatiq.errors import ConnectionClosed

logger = logging.getLogger(__name__)

# How long a consumer, created before the listener has subscribed, waits for it: after that it
# polls as before until the subscription comes.
SUBSCRIBE_WAIT_SECONDS = 2.0
# After the listener's connection failed, it subscribes again this much later.
RESUBSCRIBE_SECONDS = 1.0


def wake_channel(namespace: str) -> str:
    return f"{namespace}:wake"


class _Run:
    """One listening thread's handle: stopping it never stops a thread started after it."""

    def __init__(self) -> None:
        self.stopped = threading.Event()
        self.pubsub: Any = None


class WakeListener:
    """One per worker process: a thread subscribed to the wake channel that sets the event of
    the queue named in each message, while consumers are open. Consumers take their queue's
    event (event_for) and give it back when they close (release); the last one stops the thread."""

    def __init__(self, client: redis.Redis, channel: str) -> None:
        self.client = client
        self.channel = channel
        self.events: dict[str, threading.Event] = {}
        self.subscribed = threading.Event()
        self._users: dict[str, int] = {}
        self._run: _Run | None = None
        self._lock = threading.Lock()
        self._owner = 0  # the pid whose thread listens (a forked child starts its own)

    def event_for(self, queue_name: str) -> threading.Event:
        with self._lock:
            self._users[queue_name] = self._users.get(queue_name, 0) + 1
            event = self.events.setdefault(queue_name, threading.Event())
            started = self._ensure_thread()
        if started:
            self.subscribed.wait(SUBSCRIBE_WAIT_SECONDS)
        return event

    def release(self, queue_name: str) -> None:
        with self._lock:
            left = self._users.get(queue_name, 0) - 1
            if left > 0:
                self._users[queue_name] = left
                return
            self._users.pop(queue_name, None)
            self.events.pop(queue_name, None)
            if not self._users:
                self._stop()

    def stop(self) -> None:
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        """Ends the thread (its blocking read fails on the closed connection)."""
        run, self._run, self._owner = self._run, None, 0
        if run is not None:
            run.stopped.set()
            if run.pubsub is not None:
                run.pubsub.close()
        self._wake_all()

    def _ensure_thread(self) -> bool:
        if self._owner == os.getpid():
            return False
        self.subscribed.clear()
        self._run = run = _Run()
        threading.Thread(target=self._listen, args=(run,), name="broker-wake", daemon=True).start()
        self._owner = os.getpid()
        return True

    def _listen(self, run: _Run) -> None:
        failures = 0
        while not run.stopped.is_set():
            try:
                run.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                run.pubsub.subscribe(self.channel)
                self.subscribed.set()
                failures = 0
                # Wakes published while it was not subscribed are lost: every consumer looks.
                self._wake_all()
                for item in run.pubsub.listen():
                    self._wake(item.get("data"))
            except Exception:
                if run.stopped.is_set():
                    return
                self.subscribed.clear()
                if not failures:  # once per outage: the consumers poll meanwhile
                    logger.warning("broker wake listener lost Redis; polling meanwhile")
                failures += 1
                run.stopped.wait(RESUBSCRIBE_SECONDS)

    def _wake(self, name: bytes | str | None) -> None:
        event = self.events.get(name.decode() if isinstance(name, bytes) else str(name))
        if event is not None:
            event.set()

    def _wake_all(self) -> None:
        for event in list(self.events.values()):
            event.set()


class WakeableConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer (dramatiq/brokers/redis.py, _RedisConsumer.__next__) with its
    idle sleep interruptible by a wake for its queue."""

    def __init__(self, broker: WakeableRedisBroker, queue_name: str, prefetch: int, timeout: int):
        super().__init__(broker, queue_name, prefetch, timeout)
        self.wake = broker.listener.event_for(queue_name)
        self._listener: WakeListener | None = broker.listener

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.release(self.queue_name)
        super().close()

    def __next__(self) -> Any:
        try:
            if self.message_cache:
                return super().__next__()  # the fast path: no network, no sleep
            # Cleared before the fetch: a message queued after it wakes the wait below.
            self.wake.clear()
            if self.outstanding_message_count < self.prefetch:
                self.message_cache = self.broker.do_fetch(
                    self.queue_name, self.prefetch - self.outstanding_message_count
                )
            if self.message_cache:
                return super().__next__()
            self.misses, backoff_ms = compute_backoff(self.misses, max_backoff=self.timeout)
            if self.wake.wait(backoff_ms / 1000):
                self.misses = 0  # a message came: the next sleeps start short again
            return None
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None


class WakeableRedisBroker(RedisBroker):
    """A RedisBroker whose immediate enqueues wake the queue's idle consumers (WakeableConsumer)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listener = WakeListener(self.client, wake_channel(self.namespace))

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> WakeableConsumer:
        return WakeableConsumer(self, queue_name, prefetch, timeout)

    def enqueue(self, message: Message[Any], *, delay: int | None = None) -> Message[Any]:
        queued = super().enqueue(message, delay=delay)
        if delay is None:  # a delayed message is moved to its queue when due (and wakes it then)
            try:
                self.client.publish(self.listener.channel, queued.queue_name)
            except redis.RedisError:
                # Queued all the same: the consumer finds it at its next poll.
                logger.warning("no wake for queue %s", queued.queue_name, exc_info=True)
        return queued

    def close(self) -> None:
        self.listener.stop()
        super().close()
