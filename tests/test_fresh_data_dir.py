"""Management commands on a database nobody migrated: a fresh embedded data dir is migrated
first; a configured DATABASE_URL gets one line saying what to run. Real subprocesses, real
embedded servers in a temporary data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """`manage.py ARGS` as a new user runs it: no DATABASE_URL/REDIS_URL unless given."""
    base = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**base, "RESOLVER_DATA_DIR": str(data_dir), **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_ingest_then_search_draft_and_triage_on_a_fresh_data_dir(tmp_path: Path) -> None:
    """The README's Knowledge base section, as a new user runs it, first command first."""
    articles = tmp_path / "kb.jsonl"
    article = {
        "external_id": "returns",
        "title": "Returning an item",
        "content": "You can return any item within 30 days from the Orders page.",
        "intent": "return_item",
        "category": "REFUND",
    }
    articles.write_text(json.dumps(article) + "\n")
    data = tmp_path / "data"

    ingested = manage("ingest_kb", "jsonl", str(articles), data_dir=data)

    assert ingested.returncode == 0, ingested.stderr
    assert "migrations to apply to the new database; migrating..." in ingested.stderr
    assert "created 1" in ingested.stdout
    searched = manage("kb_search", "--json", "how do I return an item", data_dir=data)
    assert searched.returncode == 0, searched.stderr
    assert "migrating" not in searched.stderr
    assert json.loads(searched.stdout)["results"][0]["title"] == "Returning an item"
    for command in ("draft", "triage"):
        done = manage(command, "--json", "how do I return an item", data_dir=data)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        assert json.loads(done.stdout)["intent"]


def test_create_api_key_on_a_fresh_data_dir(tmp_path: Path) -> None:
    done = manage("create_api_key", "first", "--scopes", "read", data_dir=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "migrating" in done.stderr
    assert done.stdout.strip().splitlines()[-1].startswith("rk_")


def test_an_empty_knowledge_base_is_named(tmp_path: Path) -> None:
    done = manage("kb_search", "refund", data_dir=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "the knowledge base has no published articles: load the demo" in done.stderr


@pytest.fixture
def unmigrated_database() -> Iterator[str]:
    """A new, empty database on the test server, as an operator's DATABASE_URL would name."""
    name = "resolver_unmigrated"
    admin = psycopg.connect(settings.DATABASE_URL, autocommit=True)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
    admin.execute(f'CREATE DATABASE "{name}"')
    url = settings.DATABASE_URL.replace("/resolver?", f"/{name}?")
    assert url != settings.DATABASE_URL
    yield url
    admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    admin.close()


def test_a_configured_database_is_not_migrated_behind_the_operators_back(
    tmp_path: Path, unmigrated_database: str
) -> None:
    done = manage(
        "kb_search",
        "refund",
        data_dir=tmp_path,
        DATABASE_URL=unmigrated_database,
        REDIS_URL=settings.REDIS_URL,
    )

    assert done.returncode == 1
    assert done.stderr.strip() == (
        "resolver: the database at DATABASE_URL has unapplied migrations; run "
        "`.venv/bin/python manage.py migrate` first"
    )


def test_a_data_dir_of_another_major_version_says_how_to_move_on(tmp_path: Path) -> None:
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "PG_VERSION").write_text("16\n")

    done = manage("dbcheck", data_dir=tmp_path)

    assert done.returncode == 1
    line = done.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"resolver: {tmp_path / 'pg'} was made by PostgreSQL 16 and this")
    assert f"mv {tmp_path / 'pg'} {tmp_path / 'pg'}-16" in line
