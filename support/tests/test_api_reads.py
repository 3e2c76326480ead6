"""Conversation read, reprocess, KB search, stats and eval runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from evals.models import EvalRun, EvalStatus
from support.models import AuditLog, Draft, DraftStatus, Message, MessageRole
from support.tests.conftest import API, MakeDraft, post_json


def test_conversation_shows_each_message_with_its_latest_draft(
    api: Client, make_draft: MakeDraft
) -> None:
    draft = make_draft("where is my order?")
    post_json(api, f"/drafts/{draft.pk}/approve")
    data = api.get(f"{API}/conversations/{draft.conversation_id}").json()
    assert (data["id"], data["status"], data["customer_ref"]) == (
        str(draft.conversation_id),
        "OPEN",
        "cust-1",
    )
    roles = [(m["role"], m["body"], (m["draft"] or {}).get("status")) for m in data["messages"]]
    assert roles == [
        ("CUSTOMER", "where is my order?", "SENT"),
        ("AGENT", draft.answer, None),
    ]


def test_unknown_conversation_is_404(api: Client) -> None:
    response = api.get(f"{API}/conversations/00000000-0000-0000-0000-000000000002")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "not found", "code": "not_found"},
    )


def test_reprocess_supersedes_the_open_draft(
    api: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    old = make_draft()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_json(api, f"/messages/{old.message_id}/reprocess")
    assert response.status_code == 202
    new = Draft.objects.get(pk=response.json()["draft_id"])
    old.refresh_from_db()
    assert (new.status, old.status, old.reject_reason) == (
        DraftStatus.PENDING,
        DraftStatus.REJECTED,
        "superseded by a reprocess",
    )
    assert AuditLog.objects.get(draft=new).action == "reprocessed"
    assert len(callbacks) == 2  # the superseded draft's broadcast, then the enqueue
    # Still PENDING and unclaimed (say, the enqueue failed): queued again, same draft.
    again = post_json(api, f"/messages/{old.message_id}/reprocess")
    assert (again.status_code, again.json()["draft_id"]) == (202, str(new.pk))
    # A worker holds it: nothing to do.
    Draft.objects.filter(pk=new.pk).update(run_started_at=timezone.now())
    busy = post_json(api, f"/messages/{old.message_id}/reprocess")
    assert (busy.status_code, busy.json()["code"]) == (409, "conflict")
    assert Draft.objects.filter(message_id=old.message_id).count() == 2


def test_only_customer_messages_are_reprocessed(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    post_json(api, f"/drafts/{draft.pk}/approve")
    reply = Message.objects.get(role=MessageRole.AGENT)
    assert post_json(api, f"/messages/{reply.pk}/reprocess").status_code == 422


def test_kb_search(api: Client, small_kb: object) -> None:
    params = {"q": "how do I get my money back", "limit": "1"}
    results = api.get(f"{API}/kb/search", params).json()
    assert [r["title"] for r in results["results"]] == ["Refund policy"]
    assert set(results["results"][0]) == {
        "kb_id",
        "title",
        "snippet",
        "intent",
        "category",
        "score",
    }


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"q": "x", "limit": 101}])
def test_kb_search_rejects_bad_queries(api: Client, params: dict[str, Any]) -> None:
    assert api.get(f"{API}/kb/search", params).status_code == 422


def test_stats(api: Client, make_draft: MakeDraft) -> None:
    sent = make_draft(latency_ms=20)
    make_draft(latency_ms=40)
    make_draft(status=DraftStatus.ESCALATED, escalation_reason="high_risk", latency_ms=60)
    rejected = make_draft(latency_ms=80)
    post_json(api, f"/drafts/{sent.pk}/approve")
    post_json(api, f"/drafts/{rejected.pk}/reject")
    post_json(api, "/messages", {"body": "new one"})
    stats = api.get(f"{API}/stats").json()
    assert stats["queue"]["drafts_by_status"] == {
        "PENDING": 1,
        "SUGGESTED": 1,
        "ESCALATED": 1,
        "SENT": 1,
        "REJECTED": 1,
    }
    assert stats["queue"]["conversations"] == {"open": 5, "escalated": 0}
    window = stats["window"]
    assert (window["drafts"], window["sent"], window["rejected"], window["escalated"]) == (
        5,
        1,
        1,
        1,
    )
    assert window["escalation_reasons"] == {"high_risk": 1}
    assert (window["approval_rate"], window["sent_unedited_rate"]) == (0.5, 1.0)
    assert window["draft_latency_ms_p50"] == 50.0


def test_stats_days_is_validated(api: Client) -> None:
    assert api.get(f"{API}/stats", {"days": 0}).status_code == 422


def test_evals_lists_latest_runs(api: Client) -> None:
    old = EvalRun.objects.create(suite="triage", dataset="dev", status=EvalStatus.COMPLETED)
    EvalRun.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=1))
    new = EvalRun.objects.create(suite="drafts", dataset="dev", metrics={"accuracy": 0.9})
    items = api.get(f"{API}/evals", {"limit": 5}).json()["items"]
    assert [(i["id"], i["suite"]) for i in items] == [(new.pk, "drafts"), (old.pk, "triage")]
    assert items[0]["metrics"] == {"accuracy": 0.9}
    assert [i["id"] for i in api.get(f"{API}/evals", {"suite": "triage"}).json()["items"]] == [
        old.pk
    ]


def test_one_eval_run_with_its_cases(api: Client) -> None:
    from evals.models import EvalCase

    run = EvalRun.objects.create(suite="fast", dataset="evals/sets/fast.jsonl", n_items=2)
    for position, (case_id, passed) in enumerate((("b", False), ("a", True))):
        EvalCase.objects.create(
            run=run,
            position=position,
            case_id=case_id,
            tags=["complaint"],
            expect={"status": "ESCALATED"},
            actual={"status": "SUGGESTED" if not passed else "ESCALATED"},
            scores={"checks": {"status": passed}},
            passed=passed,
        )
    body = api.get(f"{API}/evals/{run.pk}").json()
    assert (body["id"], body["suite"], body["n_items"]) == (run.pk, "fast", 2)
    assert [(c["case_id"], c["passed"]) for c in body["cases"]] == [("b", False), ("a", True)]
    assert body["cases"][0]["actual"] == {"status": "SUGGESTED"}
    assert api.get(f"{API}/evals/999999").status_code == 404
    assert Client().get(f"{API}/evals/{run.pk}").status_code == 401
