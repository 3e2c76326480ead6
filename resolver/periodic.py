"""Periodic jobs without a separate scheduler: every worker process looks every tick whether a
named actor is due, and the one that claims its interval in Redis sends it: each job is sent
about once per interval across all workers, counted on Redis's clock rather than from a
process's boot (a fleet restarted more often than an hourly job's interval still runs it). The
actors also take a lock of half their interval (run_once_per), so a stray second message of
the same interval does nothing."""

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
    """True for the first caller in half a `seconds` window across all processes: a job sent
    once per interval runs each time (a window as long as the interval skipped a run whose
    message waited less in the queue than the last one's), a duplicate of it does nothing."""
    return bool(get_redis().set(f"{LOCK_PREFIX}{name}", "1", nx=True, ex=max(1, seconds // 2)))


def claim_send(name: str, interval: int, tick: int) -> bool:
    """Whether this process sends `name` now: the first to ask since the last send, an
    interval ago less half a tick (the next tick after it falls due finds it free)."""
    window_ms = max(1, int((interval - tick / 2) * 1000))
    return bool(get_redis().set(f"{LOCK_PREFIX}sent:{name}", "1", nx=True, px=window_ms))


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
        while not self.stopped.wait(self.tick):
            for name, interval in self.intervals.items():
                # Redis down: the next tick tries again; /healthz reports the outage.
                with contextlib.suppress(Exception):
                    if claim_send(name, interval, self.tick):
                        broker.get_actor(name).send()
