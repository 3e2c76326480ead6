"""Running child processes in the foreground and stopping them cleanly (Ctrl-C, SIGTERM)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Sequence

# Exit codes of a child that stopped because of Ctrl-C / SIGTERM rather than a failure.
STOPPED_BY_SIGNAL = (0, -2, -15, 130, 143)


def stop_all(children: Sequence[subprocess.Popen[bytes]], grace_seconds: float = 10) -> None:
    """SIGTERM every child still running, then SIGKILL the ones that outlive the grace period."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def raise_on_sigterm() -> None:
    """Turn SIGTERM into KeyboardInterrupt so `finally` blocks and atexit handlers run."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


def wait_first_exit(children: Sequence[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """Block until one child exits and return it."""
    while True:
        for child in children:
            if child.poll() is not None:
                return child
        time.sleep(0.2)
