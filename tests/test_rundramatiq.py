"""`manage.py rundramatiq` (the container's worker command) stops its Dramatiq processes the way
Dramatiq is told to stop: in-flight runs get their shutdown time-out before anything is killed."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from django.core.management import call_command

from resolver import processes
from resolver.management.commands import rundramatiq


def test_stopping_waits_longer_than_the_workers_shutdown_timeout(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.AGENT_RUN_TIME_LIMIT_SECONDS = 300
    real_popen = subprocess.Popen
    started: list[list[str]] = []
    graces: list[float] = []

    def popen(argv: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        started.append(argv)
        return real_popen([sys.executable, "-c", "import time; time.sleep(60)"])

    def stop_all(children: Any, grace_seconds: float = 10) -> None:
        graces.append(grace_seconds)
        processes.stop_all(children, grace_seconds=1)

    def stopped(children: Any) -> None:
        raise KeyboardInterrupt  # SIGTERM, as the container runtime sends it

    monkeypatch.setattr(rundramatiq.subprocess, "Popen", popen)
    monkeypatch.setattr(rundramatiq, "stop_all", stop_all)
    monkeypatch.setattr(rundramatiq, "wait_first_exit", stopped)
    monkeypatch.setattr(rundramatiq, "raise_on_stop_signal", lambda **kwargs: None)
    call_command("rundramatiq", processes=1, threads=1)
    argv = started[0]
    shutdown_ms = int(argv[argv.index("--worker-shutdown-timeout") + 1])
    assert shutdown_ms >= 300_000
    assert graces == [pytest.approx(shutdown_ms / 1000 + 5)]
