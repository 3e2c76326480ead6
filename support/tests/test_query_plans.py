"""Every query behind the screens and jobs that read a large history uses an index (#30, measured
at a million conversations by bench/history_scale.py). Each screen runs once on a few rows while
its queries are captured; each captured query is then EXPLAINed with sequential scans priced out
(`enable_seqscan = off`): a plan that still scans one of the large tables sequentially has no
index to use, and would read every row of a year's history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.http import QueryDict
from django.test import Client
from django.utils import timezone

from resolver.audit_actor import Actor
from support import customer_data, review, rollups
from support.autonomy import ladder
from support.autonomy.evidence import reviews
from support.console.filters import QueueFilter
from support.console.live import ConversationLive, QueueLive
from support.dashboard_figures import DEFAULT_WINDOW
from support.models import Conversation, Customer, Draft, DraftStatus
from support.tests.conftest import API, MakeDraft, key_client
from support.tests.plans import explained

# The tables that grow with the history: one row per conversation, message, draft, audit entry,
# delivery, rating or customer, and the rollups kept per hour.
LARGE = (
    "support_conversation",
    "support_message",
    "support_draft",
    "support_auditlog",
    "support_webhookdelivery",
    "support_customerrating",
    "support_customer",
    # The dashboard's hourly rollups: a row per hour and group, a year of them.
    "support_drafthour",
    "support_drafthourhistogram",
    "support_citationhour",
)
INDEX_SCANS = {"Index Scan", "Index Only Scan", "Bitmap Index Scan"}


def _partial_indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indpred IS NOT NULL"
        )
        return {row[0] for row in cursor.fetchall()}


JOINS = {"Merge Join", "Hash Join", "Nested Loop"}


def whole_table_reads(
    node: dict[str, Any], partial: set[str], limited: bool = False, joined: bool = False
) -> list[str]:
    """The plan's reads of every row of a large table: a sequential scan, or an index scan with
    no condition on the index (a full index scan) unless it reads a partial index (its
    predicate is the condition), feeds a LIMIT in the index's order (the first rows only) or a
    join (on a few rows the planner may merge-join two whole indexes, which it would not do
    on a large table; a join's side that has no index is still a Seq Scan)."""
    found = []
    table = node.get("Relation Name", "")
    kind = node["Node Type"]
    if table in LARGE or kind == "Bitmap Index Scan":
        if kind == "Seq Scan":
            found.append(f"Seq Scan on {table}")
        elif (
            kind in INDEX_SCANS
            and "Index Cond" not in node
            and node.get("Index Name") not in partial
            and not limited
            and not joined
        ):
            found.append(f"{kind} using {node.get('Index Name')} with no condition")
    limited = limited or kind == "Limit"
    for child in node.get("Plans", []):
        found += whole_table_reads(child, partial, limited, kind in JOINS)
    return found


def seq_scans(run: Callable[[], Any]) -> list[str]:
    """What the queries `run` makes read of the large tables in full, with the query."""
    partial = _partial_indexes()
    return [
        f"{read}: {sql[:600]}"
        for sql, plan in explained(run)
        for read in whole_table_reads(plan, partial)
    ]


def _history(make_draft: MakeDraft) -> dict[str, Any]:
    """A customer with a few conversations, drafts in every state, and an old one for retention."""
    customer = Customer.objects.create(ref="cust-1")
    drafts = [make_draft(f"question {n}", customer_ref="cust-1") for n in range(5)]
    Conversation.objects.filter(customer_ref="cust-1").update(customer=customer)
    agent = Actor.system("test")
    review.approve(drafts[0].pk, agent)
    review.reject(drafts[1].pk, agent, "wrong", "incorrect")
    review.escalate(drafts[2].pk, agent)
    Draft.objects.filter(pk=drafts[3].pk).update(status=DraftStatus.PENDING)
    old = make_draft("an old question", customer_ref="someone-else")
    long_ago = timezone.now() - timedelta(days=400)
    Conversation.objects.filter(pk=old.conversation_id).update(
        updated_at=long_ago, created_at=long_ago, last_message_at=long_ago
    )
    return {"drafts": drafts, "conversation": drafts[0].conversation_id}


def _api_drafts_with_cursor(api: Client, query: str = "") -> None:
    first = api.get(f"{API}/drafts?limit=1{query}").json()
    assert first["next_cursor"], first
    assert api.get(f"{API}/drafts?limit=1{query}&cursor={first['next_cursor']}").status_code == 200


def _ok(response: Any) -> None:
    assert response.status_code == 200, response.content[:300]


def _screens(console: Client, history: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    api = key_client("read", "privacy")
    conversation = history["conversation"]
    from evals import replay

    return {
        "console queue page": lambda: _ok(console.get("/console/")),
        "console queue, a status": lambda: _ok(console.get("/console/?status=ESCALATED")),
        "console queue live update": lambda: QueueLive(
            QueueFilter.from_query(QueryDict("view=queue"))
        ).snapshot(),
        "conversation page": lambda: _ok(console.get(f"/console/conversations/{conversation}/")),
        "conversation live update": lambda: ConversationLive(conversation).snapshot(),
        "dashboard": lambda: _ok(console.get("/console/dashboard/")),
        "GET /drafts with cursor": lambda: _api_drafts_with_cursor(api),
        "GET /drafts?status with cursor": lambda: _api_drafts_with_cursor(api, "&status=SUGGESTED"),
        "GET /customers/{ref}/conversations": lambda: _ok(
            api.get(f"{API}/customers/cust-1/conversations")
        ),
        "/metrics": lambda: _ok(Client().get("/metrics")),
        "shadow replay of 7 days": lambda: (replay.replay_set(7), replay.replay_autonomy(7)),
        "retention sweep": lambda: customer_data.anonymise_batch(365, Actor.system("retention")),
        "customer erase": lambda: customer_data.do_erase("cust-1", Actor.system("test")),
        "autonomy page": lambda: _ok(console.get("/console/autonomy/")),
    }


SCREENS = [
    "console queue page",
    "console queue, a status",
    "console queue live update",
    "conversation page",
    "conversation live update",
    "dashboard",
    "GET /drafts with cursor",
    "GET /drafts?status with cursor",
    "GET /customers/{ref}/conversations",
    "/metrics",
    "shadow replay of 7 days",
    "retention sweep",
    "customer erase",
    "autonomy page",
]


@pytest.mark.parametrize("screen", SCREENS)
def test_no_sequential_scan_of_a_large_table(
    screen: str, make_draft: MakeDraft, console: Client
) -> None:
    run = _screens(console, _history(make_draft))[screen]
    assert seq_scans(run) == []


def _indexes_read(plan: dict[str, Any]) -> set[str]:
    found = {plan["Index Name"]} if "Index Name" in plan else set()
    for child in plan.get("Plans", []):
        found |= _indexes_read(child)
    return found


def test_an_intent_s_evidence_is_read_from_its_own_index(
    make_draft: MakeDraft, agent_user: Any
) -> None:
    """The Autonomy page reads each intent's reviews since its demotion, and the intents that
    have any: from draft_evidence_idx, not every sent or rejected draft through the status
    index (which the no-sequential-scan check above would let pass)."""
    _history(make_draft)
    person = Actor.for_user(agent_user)  # a person's review leaves a verdict
    sent, rejected = make_draft("where is it?"), make_draft("and this one?")
    review.approve(sent.pk, person)
    review.reject(rejected.pk, person, "wrong", "incorrect")
    since = timezone.now() - timedelta(days=30)
    for run in (lambda: reviews("track_order", since), ladder.intents_to_sweep):
        drafts_plans = [plan for sql, plan in explained(run) if '"support_draft"' in sql]
        assert drafts_plans
        for plan in drafts_plans:
            assert "draft_evidence_idx" in _indexes_read(plan), plan
    assert sorted(j.verdict for j in reviews("track_order", since)) == [
        "rejected",
        "sent_unchanged",
    ]
    assert ladder.intents_to_sweep() == ["track_order"]


def test_the_check_finds_a_query_without_its_index(make_draft: MakeDraft, console: Client) -> None:
    """Without the index that serves GET /drafts' order, the check reports the table (DDL is
    transactional: the index is back after the test)."""
    run = _screens(console, _history(make_draft))["GET /drafts with cursor"]
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX draft_created_idx")
    assert any(scan.startswith("Seq Scan on support_draft:") for scan in seq_scans(run))


def test_the_check_ignores_statistics_left_by_other_rows(
    make_draft: MakeDraft, console: Client
) -> None:
    """Statistics sampled while the table held other rows (autovacuum's, between tests) that
    put every draft in the dashboard's first partial hour made its plan walk a whole index on
    this table of a few rows, and failed CI; the plans are made without them."""
    run = _screens(console, _history(make_draft))["dashboard"]
    since = timezone.now() - DEFAULT_WINDOW
    then = since + (rollups.edge_of(since) - since) / 2  # inside the window's first partial hour
    others = [make_draft(f"another question {n}").pk for n in range(300)]
    Draft.objects.filter(pk__in=others).update(created_at=then)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE support_draft")
    Draft.objects.filter(pk__in=others).delete()
    assert seq_scans(run) == []
