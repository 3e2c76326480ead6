"""The database self-check: passes on whatever machine runs the suite, and names the cause when
the PostgreSQL backend dies under it (a real SIGILL sent to the backend doing the check)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

from resolver.dbcheck import (
    VECTOR_CHECK,
    DatabaseCheckFailed,
    check_vector,
    startup_check,
)
from resolver.embedded import EmbeddedPostgres
from resolver.polling import wait_for


def test_passes_on_this_machine() -> None:
    result = startup_check(settings.DATABASE_URL, settings.RESOLVER_DATA_DIR)

    assert result.postgres.startswith("18.")
    assert result.pgvector.startswith("0.8.")


def test_dbcheck_command_says_ok() -> None:
    done = subprocess.run(
        [sys.executable, "manage.py", "dbcheck"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "DATABASE_URL": settings.DATABASE_URL},
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("database ok: PostgreSQL 18.")


def test_leaves_nothing_behind() -> None:
    check_vector(settings.DATABASE_URL)

    with psycopg.connect(settings.DATABASE_URL) as conn:
        assert conn.execute("SELECT to_regclass('resolver_dbcheck')").fetchone() == (None,)


def test_a_wrong_distance_fails() -> None:
    wrong = (*VECTOR_CHECK[:4], "SELECT '[1,2,3]'::vector <=> '[1,2,4]'::vector")

    with pytest.raises(DatabaseCheckFailed, match="wrong cosine distance"):
        check_vector(settings.DATABASE_URL, statements=wrong)


def _kill_backend_when_sleeping(url: str, signum: int) -> threading.Thread:
    def kill() -> None:
        with psycopg.connect(url, autocommit=True) as watcher:
            query = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'"

            def sleeping() -> int | None:
                row = watcher.execute(query).fetchone()
                return int(row[0]) if row else None

            assert wait_for(lambda: sleeping() is not None, 20)
            os.kill(sleeping() or 0, signum)

    thread = threading.Thread(target=kill)
    thread.start()
    return thread


@pytest.mark.slow
def test_a_crashed_backend_is_named_and_the_server_stopped(tmp_path: Path) -> None:
    """What an AVX-512-only pgvector does on a CPU without it: the backend dies with SIGILL.
    The check says so in one line and stops its embedded server (no restart loop)."""
    server = EmbeddedPostgres(tmp_path)
    server.start()
    try:
        crashing = (*VECTOR_CHECK[:2], "SELECT pg_sleep(30)")
        killer = _kill_backend_when_sleeping(server.url(), signal.SIGILL)

        with pytest.raises(DatabaseCheckFailed) as failed:
            startup_check(server.url(), tmp_path, statements=crashing)
        killer.join()

        message = str(failed.value)
        assert message.startswith("pgvector crashed with SIGILL: this build needs CPU")
        assert "DATABASE_URL" in message
        assert "\n" not in message
        assert not server.running()
    finally:
        server.release()
