"""Sending on the channel layer from synchronous code, on one event loop per process (#30).

`async_to_sync(layer.group_send)` in a plain thread (a worker's, a sync view's after commit)
makes a new event loop for each call, and channels_redis keeps its Redis connections per event
loop: every broadcast paid for a loop and a new Redis connection (~3.5 ms of a draft's 60 in
`make profile`). Here one daemon thread per process runs one loop for the life of the process,
so the layer's connection for that loop is opened once and reused.

Any thread may call `group_send`; it waits for Redis's answer (or `SEND_TIMEOUT`), so a caller
still hears of a refusal. The loop is made again in a forked child (a Dramatiq worker process is
forked from its parent), whose copy of the parent's thread does not run."""

from __future__ import annotations

import asyncio
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

# A broadcast is a few Redis round trips; a Redis that does not answer in this long is treated as
# down (the caller logs it) rather than holding the worker's draft.
SEND_TIMEOUT = 5.0

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def _sender_loop() -> asyncio.AbstractEventLoop:
    """This process's sending loop, started on first use (and again after a fork)."""
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="channel-layer-sender", daemon=True
            )
            thread.start()
            _loop, _loop_pid = loop, os.getpid()
        return _loop


def group_send(group: str, message: dict[str, Any], timeout: float = SEND_TIMEOUT) -> None:
    """`channel_layer.group_send(group, message)`, from sync code; raises what the layer raised
    (or TimeoutError)."""
    layer = get_channel_layer()
    if layer is None:  # pragma: no cover - CHANNEL_LAYERS is always configured
        raise RuntimeError("no channel layer configured")
    future = asyncio.run_coroutine_threadsafe(layer.group_send(group, message), _sender_loop())
    try:
        future.result(timeout)
    except TimeoutError:
        future.cancel()
        raise
