"""Waiting for a condition with a deadline (servers starting, workers finishing)."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable


def wait_for(predicate: Callable[[], object], seconds: float, interval: float = 0.05) -> bool:
    """True as soon as predicate() is truthy; False if it is still falsy after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return False


def answers(url: str) -> bool:
    """Whether `url` answers with a 2xx/3xx within 2 s (a server being up)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except OSError:
        return False
