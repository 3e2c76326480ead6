"""Process-wide lazy singletons (models, compiled graphs): built on first use, never at import,
exactly once even when several worker or ASGI threads ask at the same moment."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def once_per_process(build: Callable[[], T]) -> Callable[[], T]:
    lock = threading.Lock()
    built: list[T] = []

    @functools.wraps(build)
    def get() -> T:
        if not built:  # fast path without the lock once built
            with lock:
                if not built:  # another thread may have built it while we waited
                    built.append(build())
        return built[0]

    return get
