"""A backlog of PENDING drafts (a burst, a worker outage) must not slow down each message's own
queries (#30). The run's claim and the note that a run reached the queue each read one message's
draft; with the table's statistics taken before the backlog (autoanalyze waits for a tenth of a
large table to change), the planner priced the partial indexes of PENDING drafts as nearly empty
and walked all of them, filtering by message: one message's claim read the whole backlog, and the
oldest messages (a worker takes them first) read it all."""

from __future__ import annotations

import re
from typing import Any

import pytest

from support.agent_runs import claim_draft
from support.inbound import enqueue_message, receive_message
from support.models import Draft, DraftStatus
from support.tests.plans import explained

BACKLOG = 60


SCANS = {"Seq Scan", "Index Scan", "Index Only Scan", "Bitmap Heap Scan", "Bitmap Index Scan"}


# The columns a draft is looked up by: an index condition on none of them (only the status) reads
# every draft in that status, the backlog.
KEY = re.compile(r"\b(?:id|message_id|conversation_id)\b")


def _walks(node: dict[str, Any]) -> list[str]:
    """The plan's reads of support_draft that are not a lookup by a key: a sequential scan, or
    an index scan with no condition on a key (a walk of a whole partial index, or of the
    status index's PENDING entries: which one the planner takes depends on the statistics)."""
    found = []
    if node.get("Relation Name") == "support_draft" or node["Node Type"] == "Bitmap Index Scan":
        kind = node["Node Type"]
        if kind == "Seq Scan" or (
            kind in SCANS - {"Bitmap Heap Scan"} and not KEY.search(node.get("Index Cond", ""))
        ):
            found.append(f"{kind} {node.get('Index Name', '')}".strip())
    for child in node.get("Plans", []):
        found += _walks(child)
    return found


def whole_walks(run: Any) -> list[tuple[str, list[str]]]:
    """Each query `run` makes on support_draft, with the reads of its plan that are not by a
    key (sequential scans priced out: support/tests/plans.py)."""
    return [(sql[:300], _walks(plan)) for sql, plan in explained(run) if "support_draft" in sql]


@pytest.fixture
def backlog(db: None) -> list[Draft]:
    """A backlog of PENDING drafts, oldest first, on a table whose statistics predate it: a
    fresh test database has none, which the planner reads alike (the old queries walked the
    whole backlog on it; with other statistics they may not, which is the point: the new ones
    cannot, whatever the statistics). No ANALYZE here: its page counts would outlive the
    rollback and steer the plans of the tests after this one."""
    return [
        receive_message(f"question {n}", customer_ref=f"cust-{n}", enqueue=False)[1]
        for n in range(BACKLOG)
    ]


def test_the_claim_reads_its_own_draft_not_the_backlog(backlog: list[Draft]) -> None:
    oldest = backlog[0]
    plans = whole_walks(lambda: claim_draft(oldest.message_id, "worker-1"))
    assert len(plans) >= 2 and not [plan for plan in plans if plan[1]], plans
    oldest.refresh_from_db()
    assert oldest.run_started_at is not None and oldest.run_by == "worker-1"


def test_noting_the_queue_reads_its_own_draft_not_the_backlog(backlog: list[Draft]) -> None:
    oldest = backlog[0]
    Draft.objects.filter(pk=oldest.pk).update(enqueued_at=None)
    plans = whole_walks(lambda: enqueue_message(oldest.message, oldest.pk))
    assert plans and not [plan for plan in plans if plan[1]], plans
    oldest.refresh_from_db()
    assert oldest.enqueued_at is not None


def test_the_check_finds_a_walk_of_the_pending_drafts(backlog: list[Draft]) -> None:
    """Nothing but a walk can answer this (no key): the check must see it."""
    plans = whole_walks(lambda: list(Draft.objects.filter(status=DraftStatus.PENDING, attempts=0)))
    assert plans and all(problems for _, problems in plans), plans
