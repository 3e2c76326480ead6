"""Worker liveness: each worker process refreshes a Redis key with a TTL; /healthz counts them."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable

import psutil
import redis

KEY_PREFIX = "resolver:heartbeat:worker:"
# A worker's key outlives this many missed beats; then it counts as dead.
MISSED_BEATS = 3


def worker_id(pid: int | None = None) -> str:
    """This process (or process `pid` of this host), as its heartbeat names it: host and pid."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def worker_key(worker: str | None = None) -> str:
    return f"{KEY_PREFIX}{worker or worker_id()}"


def is_beating(client: redis.Redis, worker: str) -> bool:
    """Whether the worker process `worker` (a worker_id()) has a live heartbeat."""
    return bool(client.exists(worker_key(worker)))


def beat(client: redis.Redis, ttl_seconds: int) -> None:
    client.set(worker_key(), "1", ex=ttl_seconds)


def beats_under(client: redis.Redis, pid: int) -> bool:
    """Whether a worker process started under process `pid` of this host has a live heartbeat:
    Dramatiq's main process forks its worker processes, and each beats only once warm."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return False
    return any(is_beating(client, worker_id(child.pid)) for child in children)


def live_workers(client: redis.Redis) -> int:
    return sum(1 for _ in client.scan_iter(match=f"{KEY_PREFIX}*", count=100))


class HeartbeatThread(threading.Thread):
    """Refreshes this process's key every `interval` seconds until stopped (and calls `also`)."""

    def __init__(
        self, client: redis.Redis, interval: int, also: Callable[[], object] | None = None
    ) -> None:
        super().__init__(name="resolver-heartbeat", daemon=True)
        self.client = client
        self.interval = interval
        self.also = also
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            # Redis down: /healthz already reports it; keep trying.
            with contextlib.suppress(redis.RedisError):
                beat(self.client, ttl_seconds=self.interval * MISSED_BEATS)
                if self.also is not None:
                    self.also()
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        with contextlib.suppress(redis.RedisError):
            self.client.delete(worker_key())
