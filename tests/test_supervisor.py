"""make run's supervision on real processes: deaths are told with the log's last lines,
restarts follow the backoff, and a restart leaves no orphan of the dead process behind; children
die with a SIGKILLed supervisor, stopping goes in reverse order of start, and a data dir is
claimed by one run at a time, what a dead run left running being stopped first."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from resolver.polling import wait_for
from resolver.run_lock import RunLock, RunLockHeld, describe
from resolver.supervisor import (
    BACKOFF_SECONDS,
    STABLE_SECONDS,
    Backoff,
    ChildProcess,
    Supervisor,
    WatchedServer,
    describe_exit,
)

ROOT = Path(__file__).resolve().parent.parent


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


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def run_script(code: str, **kwargs: object) -> subprocess.Popen[str]:
    """A Python process running `code` from the repository root (it may import resolver)."""
    return subprocess.Popen(
        [sys.executable, "-u", "-c", textwrap.dedent(code)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[call-overload]
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(PR_SET_PDEATHSIG)")
def test_children_die_with_a_sigkilled_supervisor(tmp_path: Path) -> None:
    """SIGKILL (or the OOM killer) gives the supervisor no chance to stop anything: the kernel
    tells its children, each in a process group of its own, to stop."""
    supervisor = run_script(
        f"""
        import sys, time
        from pathlib import Path
        from resolver.supervisor import ChildProcess
        child = ChildProcess("worker", [sys.executable, "-c", "import time; time.sleep(300)"],
                             {{}}, Path({str(tmp_path)!r}) / "worker.log")
        child.start()
        print(child.process.pid, flush=True)
        time.sleep(300)
        """
    )
    assert supervisor.stdout is not None
    child = int(supervisor.stdout.readline())
    assert os.getpgid(child) == child  # its own group: a Ctrl-C in the terminal does not reach it

    supervisor.kill()
    supervisor.wait(10)

    assert wait_for(lambda: gone(child), 10)


def test_a_process_whose_parent_died_is_told(tmp_path: Path) -> None:
    """The watch Dramatiq's worker processes run (resolver.broker.ParentWatch): a parent-death
    signal does not reach what a child forks, and does not exist outside Linux."""
    parent = run_script(
        """
        import subprocess, sys, time
        code = ("import time; from resolver.processes import watch_parent, terminate_self; "
                "watch_parent(terminate_self, interval=0.1); print('watching', flush=True); "
                "time.sleep(300)")
        child = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
        print(child.pid, flush=True)
        time.sleep(300)
        """
    )
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert parent.stdout.readline() == "watching\n"  # the child's line, through the same pipe
    assert not gone(child)

    parent.kill()
    parent.wait(10)

    assert wait_for(lambda: gone(child), 10)


def test_stop_goes_in_reverse_order_of_start_and_restarts_nothing(tmp_path: Path) -> None:
    """Web server and worker first, each waited for, then Redis, then PostgreSQL: a worker still
    running when Redis stops logs connection errors (or, told nothing, ran on for good)."""
    events: list[str] = []
    stopping = "import signal, sys, time; "
    stopping += "signal.signal(signal.SIGTERM, lambda *a: (time.sleep(0.5), sys.exit(0))); "
    stopping += "print('up', flush=True); time.sleep(300)"
    web, worker = child(tmp_path, stopping, "web"), child(tmp_path, stopping, "worker")

    def server(name: str) -> WatchedServer:
        def release() -> None:
            ended = [c.name for c in (web, worker) if c.process and c.process.poll() is not None]
            events.append(f"{name} released after {ended}")

        return WatchedServer(name, tmp_path / f"{name}.log", lambda: True, lambda: None, release)

    supervisor = Supervisor([server("PostgreSQL"), server("Redis"), web, worker], say=events.append)
    for unit in (web, worker):
        unit.start()
    assert wait_for(lambda: web.tail() == ["up"] and worker.tail() == ["up"], 10)

    supervisor.stop(grace_seconds=10)
    supervisor.tick(now=10_000.0)  # as the loop would, were it still running

    assert events == [
        "Redis released after ['web', 'worker']",
        "PostgreSQL released after ['web', 'worker']",
    ]
    assert web.process is not None and worker.process is not None
    assert (web.process.returncode, worker.process.returncode) == (0, 0)  # stopped, not killed
    assert not web.is_alive() and not worker.is_alive()  # and not restarted


def test_a_data_dir_is_claimed_by_one_run_at_a_time(tmp_path: Path) -> None:
    first = RunLock(tmp_path)
    first.acquire()
    first.record([])  # as runresolver does at once, before any child has started
    with pytest.raises(RunLockHeld, match=rf"\(supervisor pid {os.getpid()}\); stop it first"):
        RunLock(tmp_path).acquire()
    first.record([SimpleNamespace(name="web", argv=["uvicorn"], process=SimpleNamespace(pid=41))])

    with pytest.raises(RunLockHeld) as refused:
        RunLock(tmp_path).acquire()

    assert str(refused.value) == (
        f"another `make run` is using {tmp_path} (supervisor pid {os.getpid()}; web pid 41); "
        f"stop it first (Ctrl-C in its terminal, or kill {os.getpid()}), or give this one its "
        "own RESOLVER_DATA_DIR"
    )
    first.release()
    assert not (tmp_path / "run.json").exists()
    RunLock(tmp_path).acquire()  # free again


def test_what_a_dead_run_left_running_is_stopped_by_the_next(tmp_path: Path) -> None:
    """Where children do not die with their supervisor (no prctl, or a child that ignores the
    signal), the next run stops them: a worker left running took the next run's messages."""
    # Forks as Dramatiq's main process does: the forked process has the same command line.
    argv = [sys.executable, "-c", "import os, time; os.fork(); time.sleep(300)"]
    left = subprocess.Popen(argv, start_new_session=True)  # a worker and its forked process
    assert wait_for(lambda: len(psutil.Process(left.pid).children()) == 1, 10)
    (forked,) = psutil.Process(left.pid).children()
    unrelated = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    dead_run = RunLock(tmp_path)
    dead_run.acquire()
    dead_run.record(
        [
            SimpleNamespace(name="worker", argv=argv, process=left),
            # a pid reused by someone else's process: not ours to stop
            SimpleNamespace(name="web", argv=["uvicorn", "x"], process=unrelated),
        ]
    )
    assert dead_run._handle is not None
    dead_run._handle.close()  # the supervisor dies: the kernel drops its lock, run.json stays

    next_run = RunLock(tmp_path)
    next_run.acquire()
    leftovers = next_run.leftovers()
    assert leftovers == {"worker": sorted([left.pid, forked.pid])}
    assert describe(leftovers) == f"worker pids {', '.join(map(str, leftovers['worker']))}"
    next_run.clean_up(grace_seconds=1)

    assert left.wait(5) == -signal.SIGTERM  # its leader told first (Dramatiq's passes it on)
    assert wait_for(lambda: gone(forked.pid), 10)  # and what outlived the grace period killed
    assert unrelated.poll() is None
    unrelated.kill()
    unrelated.wait()
    assert next_run.leftovers() == {}
