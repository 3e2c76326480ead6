"""Running child processes in the foreground and stopping them cleanly (Ctrl-C, SIGTERM), and
making sure none outlives the process that started it (SIGKILL, the OOM killer)."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

# Exit codes of a child that stopped because of Ctrl-C / SIGTERM rather than a failure.
STOPPED_BY_SIGNAL = (0, -2, -15, 130, 143)
# What asks a foreground command to stop: Ctrl-C, systemd / a container runtime / `kill`, a closed
# terminal.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# prctl(2) option: the signal the kernel sends this process when its parent dies.
PR_SET_PDEATHSIG = 1


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


def raise_on_stop_signal(on_repeat: Callable[[], None] | None = None) -> None:
    """Turn the first SIGTERM, SIGINT or SIGHUP into KeyboardInterrupt so `finally` blocks and
    atexit handlers run. Only the first: a second one (make passes the SIGTERM sent to its group
    on to its child; an impatient second Ctrl-C) would interrupt the stop half-way, and Redis would
    be stopped under a worker that was never told to stop. Later ones call `on_repeat`."""

    def again(signum: int, frame: object) -> None:
        if on_repeat is not None:
            on_repeat()

    def first(signum: int, frame: object) -> None:
        # Swapped before raising: a signal arriving while this one unwinds finds `again`.
        for stop_signal in STOP_SIGNALS:
            signal.signal(stop_signal, again)
        raise KeyboardInterrupt

    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, first)


def wait_first_exit(children: Sequence[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """Block until one child exits and return it."""
    while True:
        for child in children:
            if child.poll() is not None:
                return child
        time.sleep(0.2)


def _load_prctl() -> Callable[..., int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
        return prctl
    except (OSError, AttributeError):
        return None


# Looked up once here: a preexec_fn runs between fork and exec, where loading a library is unsafe.
_PRCTL = _load_prctl()


def die_with_parent() -> Callable[[], None] | None:
    """A `preexec_fn` (Linux) that makes the kernel send the child SIGTERM when this process dies,
    however it dies: a SIGKILLed or OOM-killed supervisor leaves no child running. SIGTERM, not
    SIGKILL: uvicorn and Dramatiq stop gracefully on it and end what they forked. None where
    prctl(2) does not exist: there the next `make run` stops what is left (resolver/run_lock.py).
    What a child forks is not covered (the setting is not inherited across fork): Dramatiq's
    worker processes run `watch_parent` for that.

    The kernel counts the parent *thread*: start children from a thread that lives as long as the
    process (make run's main thread)."""
    prctl = _PRCTL
    if prctl is None:
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def watch_parent(on_gone: Callable[[], None], interval: float = 1.0) -> threading.Thread:
    """Calls `on_gone` once, from a daemon thread, when this process's parent has died (it has
    been given to another parent then: init or a subreaper). Polling, so it works on any OS and
    in processes forked by a child, which a parent-death signal does not reach."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        on_gone()

    thread = threading.Thread(target=watch, name="resolver-parent-watch", daemon=True)
    thread.start()
    return thread


def terminate_self() -> None:
    """SIGTERM to this process: what its own handlers treat as a request to stop gracefully."""
    os.kill(os.getpid(), signal.SIGTERM)


def signal_group(pgid: int, signum: int) -> None:
    """`signum` to every process of group `pgid`; one already gone (or not ours) is no error."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)
