"""A backlog of PENDING drafts (a burst, a worker outage) must not slow down each message's own
queries (#30). The run's claim and the note that a run reached the queue each read one message's
draft; with the table's statistics taken before the backlog (autoanalyze waits for a tenth of a
large table to change), the planner priced the partial indexes of PENDING drafts as nearly empty
and walked all of them, filtering by message: one message's claim read the whole backlog, and the
oldest messages (a worker takes them first) read it all."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from support.agent_runs import claim_draft
from support.inbound import enqueue_message, receive_message
from support.models import Draft

BACKLOG = 60


def _rows_filtered_out(node: dict[str, Any]) -> int:
    """Rows of support_draft a plan read and threw away (the filter, not the index, chose)."""
    removed = 0
    if node.get("Relation Name") == "support_draft":
        removed += int(node.get("Rows Removed by Filter", 0))
    return removed + sum(_rows_filtered_out(child) for child in node.get("Plans", []))


def rows_read_in_vain(run: Any) -> dict[str, int]:
    """Each query `run` makes on support_draft, EXPLAIN ANALYZEd: the rows it filtered out."""
    with CaptureQueriesContext(connection) as captured:
        run()
    wasted = {}
    with connection.cursor() as cursor:
        for query in captured.captured_queries:
            sql = query["sql"]
            if "support_draft" not in sql or not sql.lstrip().upper().startswith(
                ("SELECT", "UPDATE")
            ):
                continue
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}")
            wasted[sql[:200]] = _rows_filtered_out(cursor.fetchone()[0][0]["Plan"])
    return wasted


@pytest.fixture
def backlog(db: None) -> list[Draft]:
    """A backlog of PENDING drafts, oldest first, on a table whose statistics predate it: a
    fresh test database has none, which the planner reads alike (the old queries walked the
    whole backlog on it). No ANALYZE here: its page counts would outlive the rollback and
    steer the plans of the tests after this one."""
    return [
        receive_message(f"question {n}", customer_ref=f"cust-{n}", enqueue=False)[1]
        for n in range(BACKLOG)
    ]


def test_the_claim_reads_its_own_draft_not_the_backlog(backlog: list[Draft]) -> None:
    oldest = backlog[0]
    wasted = rows_read_in_vain(lambda: claim_draft(oldest.message_id, "worker-1"))
    assert wasted and max(wasted.values()) <= 2, wasted
    oldest.refresh_from_db()
    assert oldest.run_started_at is not None and oldest.run_by == "worker-1"


def test_noting_the_queue_reads_its_own_draft_not_the_backlog(backlog: list[Draft]) -> None:
    oldest = backlog[0]
    Draft.objects.filter(pk=oldest.pk).update(enqueued_at=None)
    wasted = rows_read_in_vain(lambda: enqueue_message(oldest.message, oldest.pk))
    assert wasted and max(wasted.values()) <= 2, wasted
    oldest.refresh_from_db()
    assert oldest.enqueued_at is not None
