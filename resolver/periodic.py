"""Periodic jobs without a separate scheduler: every worker process sends the named actors a
message every `interval` seconds; the actors themselves take a Redis lock so that, with many
workers, each job runs about once per interval."""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from dramatiq import Middleware

from resolver.redis_client import get_redis

logger = logging.getLogger(__name__)
LOCK_PREFIX = "resolver:periodic:"


def run_once_per(name: str, seconds: int) -> bool:
    """True for the first caller in a `seconds` window across all processes."""
    return bool(get_redis().set(f"{LOCK_PREFIX}{name}", "1", nx=True, ex=seconds))


class Periodic(Middleware):
    """Sends each named actor a message every `intervals[name]` seconds."""

    def __init__(self, intervals: dict[str, int]) -> None:
        self.intervals = intervals
        self.tick = min(intervals.values())
        self.stopped = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        threading.Thread(
            target=self._loop, args=(broker,), name="resolver-periodic", daemon=True
        ).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self.stopped.set()

    def _loop(self, broker: Any) -> None:
        elapsed = 0
        while not self.stopped.wait(self.tick):
            elapsed += self.tick
            for name, interval in self.intervals.items():
                if elapsed % interval >= self.tick:
                    continue  # not due on this tick
                # Redis down: the next tick tries again; /healthz reports the outage.
                with contextlib.suppress(Exception):
                    broker.get_actor(name).send()
