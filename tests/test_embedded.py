"""Embedded services recover from a crashed run: stale pid files and dead users never block."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import psutil
import psycopg
import pytest
import redis

from resolver.embedded import EmbeddedPostgres, EmbeddedRedis
from resolver.polling import wait_for

pytestmark = pytest.mark.slow


def crash(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    assert wait_for(
        lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie", 10
    )


def test_postgres_restarts_after_crash_with_reused_pid(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path)
    server.start()
    try:
        with psycopg.connect(server.url()) as conn:
            conn.execute("CREATE TABLE survivor (id int)")
            conn.execute("INSERT INTO survivor VALUES (42)")
        postmaster = int((server.pgdata / "postmaster.pid").read_text().split()[0])
        crash(postmaster)
        assert wait_for(lambda: not server.running(), 10)
        # The crashed run's pid is reused by an unrelated live process (here: pytest itself),
        # and the users list still names a process that is gone.
        pid_file = server.pgdata / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        pid_file.write_text("\n".join([str(os.getpid()), *lines[1:]]) + "\n")
        server.users.path.write_text("[999999]")

        server.start()

        assert server.running()
        with psycopg.connect(server.url()) as conn:
            assert conn.execute("SELECT id FROM survivor").fetchone() == (42,)
            assert conn.execute(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
        assert server.users.live() == [os.getpid()]
    finally:
        server.release()
    assert not server.running()


def test_redis_restarts_after_crash_and_keeps_data(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    try:
        client = redis.Redis.from_url(server.url())
        client.set("kept", "yes")
        crash(int(server.pidfile.read_text()))
        assert wait_for(lambda: not server.running(), 10)
        server.pidfile.write_text(str(os.getpid()))  # stale pid now belongs to another process

        server.start()

        assert server.running()
        assert redis.Redis.from_url(server.url()).get("kept") == b"yes"  # append-only file
    finally:
        server.release()
    assert not server.running()


def test_last_user_stops_server_others_keep_it(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path)
    server.start()
    other = psutil.Popen(["sleep", "30"])  # a second live process using the same server
    try:
        server.users.add(other.pid)
        server.release()
        assert server.running(), "another live user still needs the server"
        other.kill()
        other.wait()
        server.start()
    finally:
        server.release()
    assert not server.running()
