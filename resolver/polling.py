"""Waiting for a condition with a deadline (servers starting, workers finishing)."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], seconds: float, interval: float = 0.05) -> bool:
    """True as soon as predicate() is truthy; False if it is still falsy after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False
