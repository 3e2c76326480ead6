"""Proposals of the learning loop: listed by impact, approved (optionally edited) into a KB
article that search finds once embedded, dismissed with a reason, expired when stale; through
the API and admin, audited."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from knowledge.actors import reindex_document
from knowledge.models import DocumentSource, KBDocument, Proposal, ProposalKind, ProposalStatus
from support import learning
from support.models import AuditLog
from support.tests.conftest import API, key_client, post_json

pytestmark = pytest.mark.django_db


def _proposal(title: str = "Gift wrapping", sources: int = 3, **fields: Any) -> Proposal:
    values = {
        "kind": ProposalKind.ANSWER,
        "title": title,
        "question": "do you offer gift wrapping?",
        "variants": ["can you gift wrap my order", "is gift wrap available"],
        "answer": "Yes: choose Gift wrap at checkout, it costs nothing extra.",
        "intent": "place_order",
        "category": "ORDER",
        "source_count": sources,
        "sources": [{"conversation_id": None, "draft_id": None}],
        **fields,
    }
    return Proposal.objects.create(**values)


def test_list_by_impact_with_filters_and_scopes() -> None:
    small, big = _proposal("Small", sources=1), _proposal("Big", sources=5)
    _proposal("Done", status=ProposalStatus.DISMISSED)
    reader = key_client("read")
    items = reader.get(f"{API}/proposals", {"status": "open"}).json()["items"]
    assert [item["id"] for item in items] == [big.pk, small.pk]
    assert set(items[0]) == {
        "id",
        "kind",
        "status",
        "title",
        "question",
        "answer",
        "intent",
        "source_count",
        "sources",
        "created_at",
        "decided_at",
        "decided_by",
    }
    assert reader.get(f"{API}/proposals", {"kind": "kb_edit"}).json()["items"] == []
    assert reader.get(f"{API}/proposals", {"status": "nope"}).status_code == 422
    assert post_json(reader, f"/proposals/{big.pk}/approve").status_code == 403


def test_approval_makes_a_searchable_article(django_capture_on_commit_callbacks: Any) -> None:
    proposal = _proposal()
    acting = key_client("act", name="crm")
    with django_capture_on_commit_callbacks(execute=False) as queued:
        body = post_json(
            acting, f"/proposals/{proposal.pk}/approve", {"title": "Gift wrap at checkout"}
        ).json()
    assert (body["status"], body["title"]) == ("approved", "Gift wrap at checkout")
    assert body["decided_at"] is not None
    document = KBDocument.objects.get(source=DocumentSource.LEARNED)
    assert (document.title, document.status) == ("Gift wrap at checkout", "published")
    assert document.metadata["questions"][0] == "do you offer gift wrapping?"
    assert len(queued) == 1  # the embedding, queued for the worker after commit
    reindex_document(document.pk)  # what the worker does with it
    hits = KBDocument.objects.hybrid_search("is gift wrapping possible?", 3)
    assert hits[0].kb_id == document.pk
    audit = AuditLog.objects.get(action="proposal_approved")
    assert audit.actor == "key:crm"
    assert audit.after == {
        "proposal_id": proposal.pk,
        "status": "approved",
        "document_id": document.pk,
    }
    again = post_json(acting, f"/proposals/{proposal.pk}/approve")
    assert (again.status_code, again.json()["code"]) == (409, "conflict")


def test_approval_with_an_edited_answer_and_dismissal() -> None:
    edited, dismissed = _proposal("A"), _proposal("B")
    acting = key_client("act")
    body = post_json(acting, f"/proposals/{edited.pk}/approve", {"answer": "Gift wrap: $0."}).json()
    assert body["answer"] == "Gift wrap: $0."
    assert KBDocument.objects.get(source=DocumentSource.LEARNED).content == "Gift wrap: $0."
    body = post_json(acting, f"/proposals/{dismissed.pk}/dismiss", {"reason": "seasonal"}).json()
    assert body["status"] == "dismissed"
    dismissed.refresh_from_db()
    assert dismissed.decision_note == "seasonal"
    after = AuditLog.objects.get(action="proposal_dismissed").after
    assert after == {"proposal_id": dismissed.pk, "status": "dismissed", "reason": "seasonal"}
    assert post_json(acting, "/proposals/999999/dismiss").status_code == 404


def test_stale_proposals_expire() -> None:
    stale, fresh = _proposal("Old"), _proposal("New")
    Proposal.objects.filter(pk=stale.pk).update(updated_at=timezone.now() - timedelta(days=29))
    assert learning.expire_stale() == 1
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert (stale.status, fresh.status) == ("expired", "open")


def test_admin_decisions_are_audited_as_support_actions(admin_client: Client) -> None:
    """knowledge's admin (knowledge/tests/test_admin.py) runs support's decisions by the names
    in settings.LEARNING_DECISIONS: they audit the signed-in user."""
    from knowledge.models import GuardRule

    rule = GuardRule.objects.create(pattern=r"\bwaive\b", description="no waivers")
    for changelist, action, row in [
        ("proposal", "approve", _proposal("A")),
        ("proposal", "dismiss", _proposal("B")),
        ("guardrule", "enable", rule),
        ("guardrule", "disable", rule),
    ]:
        admin_client.post(
            f"/admin/knowledge/{changelist}/",
            {"action": action, "_selected_action": [str(row.pk)]},
            follow=True,
        )
    actions = list(AuditLog.objects.order_by("id").values_list("action", "actor"))
    assert actions == [
        ("proposal_approved", "user:admin"),
        ("proposal_dismissed", "user:admin"),
        ("guard_rule_enabled", "user:admin"),
        ("guard_rule_disabled", "user:admin"),
    ]


@pytest.mark.slow
def test_an_approved_answer_is_searchable_within_a_minute(
    live_worker: Any, transactional_db: None
) -> None:
    """The real path: approval commits, the worker embeds the article, search finds it."""
    import time

    from resolver.polling import wait_for

    proposal = _proposal()
    started = time.monotonic()
    post_json(key_client("act"), f"/proposals/{proposal.pk}/approve")

    def found() -> bool:
        hits = KBDocument.objects.published().hybrid_search("can you wrap my present?", 3)
        return bool(hits) and hits[0].title == "Gift wrapping"

    assert wait_for(found, 60), "the learned article was not searchable within 60 s"
    assert time.monotonic() - started < 60
