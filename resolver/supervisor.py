"""What keeps `make run` up: the web server and the worker as supervised child processes, the
embedded PostgreSQL and Redis as watched servers.

While the stack starts, a death of any of them is told at once (with the last lines of its log)
and stops everything: nothing is healthy yet, so waiting would only hide the cause. Once the
stack has been healthy, a unit that dies (crash, OOM, SIGKILL) is restarted with exponential
backoff and the restart is logged. Each child runs in its own process group, so a restart or
Ctrl-C also ends whatever it forked (Dramatiq's worker processes).

Stopping goes in reverse order of start and waits for each step: the web server and the worker
(both told at once, each waited for), then Redis, then PostgreSQL; nothing is restarted meanwhile.
A supervisor that dies without stopping (SIGKILL, the OOM killer) takes its children with it: on
Linux the kernel sends each SIGTERM (resolver.processes.die_with_parent).
"""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Protocol

from resolver.processes import die_with_parent, signal_group

# Seconds to wait before restart n (1-based) of a unit that keeps dying; the last value repeats.
BACKOFF_SECONDS = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
# A unit that stayed up this long starts its backoff over.
STABLE_SECONDS = 60.0
# How long a child has to stop on SIGTERM before what is left of its group is killed.
STOP_GRACE_SECONDS = 10.0
TAIL_LINES = 20


def describe_exit(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-returncode).name}"
        return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def tail_of_file(path: Path, lines: int = TAIL_LINES) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return []
    return text.splitlines()[-lines:]


class Unit(Protocol):
    name: str
    log_path: Path

    def is_alive(self) -> bool: ...

    def exit_reason(self) -> str: ...

    def restart(self) -> None: ...

    def tail(self) -> list[str]: ...


@dataclass
class ChildProcess:
    """A child whose output goes to the terminal, prefixed with its name, and to its log file."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    out: IO[str] = field(default_factory=lambda: sys.stderr)
    process: subprocess.Popen[bytes] | None = None
    _tail: collections.deque[str] = field(
        default_factory=lambda: collections.deque(maxlen=TAIL_LINES)
    )

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._tail.clear()
        self.process = subprocess.Popen(
            self.argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent(),
        )
        pump = threading.Thread(target=self._pump, args=(self.process,), daemon=True)
        pump.start()

    def restart(self) -> None:
        self.kill_group()
        self.start()

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def exit_reason(self) -> str:
        code = self.process.poll() if self.process is not None else None
        return "is not running" if code is None else describe_exit(code)

    def tail(self) -> list[str]:
        return list(self._tail)

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """SIGTERM to the child (uvicorn and Dramatiq stop their own children gracefully; a
        second SIGTERM would make Dramatiq's workers quit mid-message), then SIGKILL to what is
        left of its group after the grace period."""
        self.terminate()
        self.finish(time.monotonic() + grace_seconds)

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def finish(self, deadline: float) -> None:
        """Waits for the terminated child until `deadline`, then kills what is left of its group."""
        if self.process is None:
            return
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        self.kill_group()

    def kill_group(self) -> None:
        """Whatever is left of the group (e.g. worker processes whose parent was SIGKILLed)."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def _signal_group(self, signum: int) -> None:
        assert self.process is not None
        signal_group(self.process.pid, signum)

    def _pump(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        prefix = f"{self.name:<6}| "
        with open(self.log_path, "ab") as log:
            for raw in process.stdout:
                log.write(raw)
                log.flush()
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self._tail.append(line)
                with contextlib.suppress(ValueError, OSError):  # terminal gone at shutdown
                    self.out.write(prefix + line + "\n")
                    self.out.flush()


@dataclass
class WatchedServer:
    """A server that is not our child (the embedded PostgreSQL or Redis): we can tell whether
    it runs, read its log, and start it again."""

    name: str
    log_path: Path
    running: Callable[[], bool]
    start: Callable[[], None]
    # Ends this process's use of the server (the embedded servers stop with their last user).
    release: Callable[[], None] = lambda: None

    def is_alive(self) -> bool:
        return self.running()

    def exit_reason(self) -> str:
        return "is no longer running"

    def restart(self) -> None:
        self.start()

    def tail(self) -> list[str]:
        return tail_of_file(self.log_path)


@dataclass
class Backoff:
    failures: int = 0
    up_since: float = field(default_factory=time.monotonic)
    due: float | None = None

    def schedule(self, now: float) -> float:
        """After a death: when to restart (and counts the death)."""
        if now - self.up_since >= STABLE_SECONDS:
            self.failures = 0
        delay = BACKOFF_SECONDS[min(self.failures, len(BACKOFF_SECONDS) - 1)]
        self.failures += 1
        self.due = now + delay
        return delay


class Supervisor:
    """Supervises `units`, given in the order they were started."""

    def __init__(self, units: Sequence[Unit], say: Callable[[str], None]) -> None:
        self.units = list(units)
        self.say = say
        self.backoff = {unit.name: Backoff() for unit in self.units}
        self.stopping = False

    def dead(self) -> list[Unit]:
        return [unit for unit in self.units if not unit.is_alive()]

    def report(self, unit: Unit, what: str) -> None:
        lines = unit.tail()
        self.say(f"the {unit.name} {unit.exit_reason()}{what}")
        if lines:
            self.say(f"last lines of {unit.log_path}:")
            for line in lines:
                self.say(f"  {line}")

    def tick(self, now: float | None = None) -> None:
        """One round of supervision: schedule restarts of dead units, run those that are due."""
        if self.stopping:  # a unit that ends now is being stopped, not dying
            return
        now = time.monotonic() if now is None else now
        for unit in self.units:
            state = self.backoff[unit.name]
            if state.due is None:
                if unit.is_alive():
                    continue
                delay = state.schedule(now)
                self.report(unit, f"; restarting it in {delay:g} s (restart {state.failures})")
            if state.due is not None and now >= state.due:
                state.due = None
                state.up_since = now
                try:
                    unit.restart()
                except Exception as exc:  # a failed restart is a death like any other
                    self.say(f"restarting the {unit.name} failed: {exc}")

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stops every unit in reverse order of start, each before the next: the children first
        (all told at once, so the grace periods overlap), then the servers they use. A worker
        still running when Redis stops would log connection errors, or hang on (it did)."""
        self.stopping = True
        children = [unit for unit in reversed(self.units) if isinstance(unit, ChildProcess)]
        for child in children:
            child.terminate()
        deadline = time.monotonic() + grace_seconds
        for child in children:
            child.finish(deadline)
        for unit in reversed(self.units):
            if isinstance(unit, WatchedServer):
                try:
                    unit.release()
                except Exception as exc:  # the next server must still be stopped
                    self.say(f"stopping the {unit.name} failed: {exc}")
