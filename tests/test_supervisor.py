"""make run's supervision on real processes: deaths are told with the log's last lines,
restarts follow the backoff, and a restart leaves no orphan of the dead process behind."""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

import psutil

from resolver.polling import wait_for
from resolver.supervisor import (
    BACKOFF_SECONDS,
    STABLE_SECONDS,
    Backoff,
    ChildProcess,
    Supervisor,
    WatchedServer,
    describe_exit,
)


def child(tmp_path: Path, code: str, name: str = "worker") -> ChildProcess:
    argv = [sys.executable, "-u", "-c", code]
    return ChildProcess(name, argv, dict(os.environ), tmp_path / f"{name}.log", out=io.StringIO())


def test_a_dead_child_is_reported_with_its_last_lines_and_restarted(tmp_path: Path) -> None:
    failing = child(tmp_path, "print('loading models'); print('boom: out of memory'); exit(3)")
    said: list[str] = []
    supervisor = Supervisor([failing], say=said.append)
    failing.start()
    assert failing.process is not None
    first = failing.process.pid
    assert wait_for(lambda: not failing.is_alive() and len(failing.tail()) == 2, 10)

    supervisor.tick(now=1000.0)

    assert said == [
        "the worker exited with code 3; restarting it in 0 s (restart 1)",
        f"last lines of {tmp_path / 'worker.log'}:",
        "  loading models",
        "  boom: out of memory",
    ]
    assert failing.process.pid != first  # restarted at once: the first backoff is 0 s
    assert (tmp_path / "worker.log").read_text().count("boom: out of memory") >= 1
    assert failing.out.getvalue().startswith("worker| loading models\n")  # type: ignore[attr-defined]
    failing.stop()


def test_backoff_grows_and_starts_over_after_a_stable_run() -> None:
    backoff = Backoff(up_since=0.0)
    delays = []
    now = 1.0
    for _ in range(len(BACKOFF_SECONDS) + 1):
        delays.append(backoff.schedule(now))
        backoff.up_since = now  # restarted, and dies again at once
    assert delays == [*BACKOFF_SECONDS, BACKOFF_SECONDS[-1]]

    backoff.up_since = now
    assert backoff.schedule(now + STABLE_SECONDS) == BACKOFF_SECONDS[0]


def test_a_restart_waits_for_its_backoff(tmp_path: Path) -> None:
    dying = child(tmp_path, "exit(1)")
    supervisor = Supervisor([dying], say=lambda line: None)
    supervisor.backoff["worker"].failures = 2  # died twice in a row already
    supervisor.backoff["worker"].up_since = 1000.0
    dying.start()
    assert dying.process is not None
    dying.process.wait(10)
    first = dying.process.pid

    supervisor.tick(now=1000.5)
    assert dying.process.pid == first  # due at 1002.5
    supervisor.tick(now=1002.5)
    assert dying.process.pid != first
    dying.stop()


def test_stop_ends_the_whole_process_group(tmp_path: Path) -> None:
    """A Dramatiq main process killed with SIGKILL leaves its worker processes running; the
    restart must not leave them consuming beside the new ones."""
    parent = child(
        tmp_path,
        "import subprocess, time; subprocess.Popen(['sleep', '300']); "
        "print('forked', flush=True); time.sleep(300)",
    )
    parent.start()
    assert wait_for(lambda: parent.tail() == ["forked"], 10)
    assert parent.process is not None
    leader = psutil.Process(parent.process.pid)
    orphan = next(p for p in leader.children() if p.name() == "sleep")
    leader.kill()
    parent.process.wait(10)
    assert orphan.is_running()

    parent.restart()

    assert wait_for(lambda: not orphan.is_running() or orphan.status() == "zombie", 10)
    assert parent.is_alive()
    parent.stop()
    assert not parent.is_alive()


def test_a_watched_server_is_restarted(tmp_path: Path) -> None:
    running = {"now": False}
    log = tmp_path / "pg.log"
    log.write_text("LOG:  database system is ready\nPANIC:  could not write to file\n")
    server = WatchedServer(
        "PostgreSQL", log, lambda: running["now"], lambda: running.update(now=True)
    )
    said: list[str] = []

    Supervisor([server], say=said.append).tick(now=50.0)

    assert said[0] == "the PostgreSQL is no longer running; restarting it in 0 s (restart 1)"
    assert said[-1] == "  PANIC:  could not write to file"
    assert running["now"]


def test_exit_descriptions() -> None:
    assert describe_exit(-9) == "was killed by SIGKILL"
    assert describe_exit(1) == "exited with code 1"
