"""Two open transactions never add to the same tally or rollup row (migration 0038): each claims
a shard of its own, so neither waits on the other however their statements interleave (with
one shard per pid % 16, two sessions sharing a shard deadlocked under bench/agent.py's load).
Real connections to the test database, two of them chosen to share a pid % 16 shard."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from support import rollups, tallies
from support.models import DraftStatus
from support.tests.conftest import MakeDraft
from tests.helpers import second_connection

SHARDS = 16


@pytest.fixture
def same_pid_shard() -> Iterator[tuple[psycopg.Connection, psycopg.Connection]]:
    """Two connections whose backend pids share pid % 16 (one of 17 connections must)."""
    opened = [second_connection() for _ in range(SHARDS + 1)]
    try:
        by_shard: dict[int, list[psycopg.Connection]] = {}
        for conn in opened:
            by_shard.setdefault(conn.info.backend_pid % SHARDS, []).append(conn)
        first, second = next(conns for conns in by_shard.values() if len(conns) > 1)[:2]
        yield first, second
    finally:
        for conn in opened:
            conn.close()


def _claimed(conn: psycopg.Connection) -> str:
    row = conn.execute("SELECT current_setting('support.write_shard', true)").fetchone()
    return str(row[0]) if row else ""


@pytest.mark.django_db(transaction=True)
def test_two_open_transactions_never_add_to_the_same_row(
    make_draft: MakeDraft, same_pid_shard: tuple[psycopg.Connection, psycopg.Connection]
) -> None:
    # Two drafts of one hour, intent and status: their changes add to the same rollup keys.
    drafts = [make_draft(status=DraftStatus.PENDING) for _ in range(2)]
    first, second = same_pid_shard
    update = "UPDATE support_draft SET status = 'SUGGESTED' WHERE id = %s"
    first.execute(update, [drafts[0].pk])
    # With pid % 16 this waited for `first`'s uncommitted rows (here: lock_timeout, an error).
    second.execute("SET lock_timeout = '3s'")
    second.execute(update, [drafts[1].pk])
    # Each transaction's later statements keep its shard (a second change, the other draft).
    first.execute("UPDATE support_draft SET status = 'ESCALATED' WHERE id = %s", [drafts[0].pk])
    assert _claimed(first) != _claimed(second) and "" not in (_claimed(first), _claimed(second))
    first.commit()
    second.commit()
    assert _claimed(first) == _claimed(second) == ""  # the claim ends with the transaction
    assert rollups.stored() == rollups.from_rows()
    assert tallies.current() == tallies.from_rows()
