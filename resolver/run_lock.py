"""`make run`'s claim on its data dir: one run at a time, and nothing left by an earlier one.

`run.lock` is locked (flock) for as long as the supervisor lives: the kernel drops the lock when
the process dies, however it dies, so a held lock always means a live run. `run.json` records
the supervisor's pid and the process group of each child it started (the group also holds what
the child forked: Dramatiq's worker processes). A run that finds the lock free but a record whose
processes still run (a supervisor killed on a system where children do not die with it, or a
child that ignored the signal) stops them before it starts its own: a worker left behind would
take the new run's messages from Redis and sit on them.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import psutil

from resolver.polling import wait_for
from resolver.processes import signal_group


class RunLockHeld(RuntimeError):
    """Another live run holds the data dir; the message says which pids."""


@dataclass(frozen=True)
class Started:
    """A child as run.json records it: its name, pid (= its process group) and command line."""

    name: str
    pid: int
    argv: list[str]


class RunLock:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.lock_path = data_dir / "run.lock"
        self.record_path = data_dir / "run.json"
        self._handle: IO[str] | None = None
        self._recorded: list[Started] | None = None

    def acquire(self) -> None:
        """Takes the data dir, or raises RunLockHeld naming the live run's pids."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+")  # noqa: SIM115 (held until release)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise RunLockHeld(self._held_message()) from None
        self._handle = handle

    def leftovers(self) -> dict[str, list[int]]:
        """What the last run recorded that still runs, by child name: pids (its group's members
        that still have the recorded command line; a reused pid is someone else's process)."""
        found: dict[str, list[int]] = {}
        for child in self._read()[1]:
            if pids := _group_members(child):
                found[child.name] = pids
        return found

    def clean_up(self, grace_seconds: float = 10) -> None:
        """SIGTERM to what the last run left (gracefully: a worker hands its messages back),
        SIGKILL to what outlives `grace_seconds`."""
        children = [child for child in self._read()[1] if _group_members(child)]
        for child in children:
            members = _group_members(child)
            # The leader only, when it lives: Dramatiq's main process passes SIGTERM on to its
            # workers, and a worker told twice quits mid-message.
            for pid in [child.pid] if child.pid in members else members:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGTERM)
        wait_for(lambda: not any(_group_members(c) for c in children), grace_seconds, 0.2)
        for child in children:
            if _group_members(child):
                signal_group(child.pid, signal.SIGKILL)
        wait_for(lambda: not any(_group_members(c) for c in children), 5, 0.1)
        self.record_path.unlink(missing_ok=True)

    def record(self, children: Sequence[Any]) -> None:
        """Writes this run's supervisor and children (objects with name, argv and a running
        `process`), when they changed since the last write (a restart)."""
        started = [
            Started(child.name, child.process.pid, list(child.argv))
            for child in children
            if child.process is not None
        ]
        if started == self._recorded:
            return
        body = {"supervisor": os.getpid(), "children": [vars(child) for child in started]}
        temporary = self.record_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(body))
        temporary.replace(self.record_path)
        self._recorded = started

    def release(self) -> None:
        """At the end of a run whose children are stopped: forget them, free the data dir."""
        if self._handle is None:
            return
        self.record_path.unlink(missing_ok=True)
        fcntl.flock(self._handle, fcntl.LOCK_UN)
        self._handle.close()
        self._handle = None

    def _read(self) -> tuple[int | None, list[Started]]:
        try:
            body = json.loads(self.record_path.read_text())
            children = [
                Started(c["name"], int(c["pid"]), list(c["argv"])) for c in body["children"]
            ]
            return int(body["supervisor"]), children
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return None, []

    def _held_message(self) -> str:
        supervisor, children = self._read()
        who = f"supervisor pid {supervisor}" if supervisor else "its supervisor"
        named = ", ".join(f"{child.name} pid {child.pid}" for child in children)
        return (
            f"another `make run` is using {self.data_dir} ({who}"
            f"{'; ' + named if named else ''}); stop it first (Ctrl-C in its terminal, or "
            f"kill {supervisor or '<pid>'}), or give this one its own RESOLVER_DATA_DIR"
        )


def _group_members(child: Started) -> list[int]:
    """Live processes of the child's process group still running its command line."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if (
                process.info["cmdline"] == child.argv
                and os.getpgid(process.pid) == child.pid
                and process.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(process.pid)
    return sorted(found)


def describe(leftovers: dict[str, list[int]]) -> str:
    """'web pid 12, worker pids 14, 15'."""
    return ", ".join(
        f"{name} pid{'s' if len(pids) > 1 else ''} {', '.join(map(str, pids))}"
        for name, pids in leftovers.items()
    )
