"""/console/learning/: open proposals by impact with their sources; approve (edited) and dismiss
go through support/learning.py; escaping; agents only."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from knowledge.models import DocumentSource, KBDocument, Proposal, ProposalKind
from support.models import AuditLog
from support.tests.conftest import MakeDraft

pytestmark = pytest.mark.django_db


def _proposal(title: str, sources: int, conversation_id: Any = None) -> Proposal:
    return Proposal.objects.create(
        kind=ProposalKind.ANSWER,
        title=title,
        question=f"<i>{title}</i>?",
        answer="Pick Gift wrap at checkout.",
        source_count=sources,
        sources=[{"conversation_id": str(conversation_id) if conversation_id else None}],
    )


def test_open_proposals_by_impact_with_sources(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    _proposal("Rare", 1)
    _proposal("Common", 4, draft.conversation_id)
    page = console.get("/console/learning/").content.decode()
    assert page.index("Common") < page.index("Rare")
    assert f'href="/console/conversations/{draft.conversation_id}/"' in page
    assert "&lt;i&gt;Rare&lt;/i&gt;?" in page and "<i>Rare</i>" not in page


def test_approve_edited_and_dismiss(console: Client) -> None:
    approved, dismissed = _proposal("Gift wrap", 2), _proposal("Stale", 1)
    response = console.post(
        f"/console/learning/{approved.pk}/approve/",
        {"title": "Gift wrapping", "answer": "Choose Gift wrap at checkout; it is free."},
        follow=True,
    )
    assert "Done." in response.content.decode()
    document = KBDocument.objects.get(source=DocumentSource.LEARNED)
    assert (document.title, document.content) == (
        "Gift wrapping",
        "Choose Gift wrap at checkout; it is free.",
    )
    console.post(f"/console/learning/{dismissed.pk}/dismiss/", {"reason": "seasonal"})
    dismissed.refresh_from_db()
    assert (dismissed.status, dismissed.decision_note) == ("dismissed", "seasonal")
    assert AuditLog.objects.filter(actor="user:agnes").count() == 2
    again = console.post(
        f"/console/learning/{approved.pk}/approve/", {"title": "x", "answer": "y"}, follow=True
    )
    assert "already approved" in again.content.decode()
    blank = console.post(
        f"/console/learning/{dismissed.pk}/approve/", {"title": "", "answer": "y"}, follow=True
    )
    assert "title: This field is required." in blank.content.decode()


def test_only_agents(client: Client) -> None:
    assert client.get("/console/learning/").status_code == 302


def test_each_kind_shows_what_judging_it_needs(console: Client, small_kb: Any) -> None:
    refund = small_kb["refund"]
    Proposal.objects.create(
        kind=ProposalKind.KB_EDIT,
        title="Revise refunds",
        question="how long do refunds take?",
        answer=refund.content.replace("5-7", "3"),
        document=refund,
        notes=["Outdated: it is 3 days now"],
    )
    Proposal.objects.create(
        kind=ProposalKind.GUARD_RULE,
        title="Stop waivers",
        question="We will waive the fee.",
        answer=r"\bwaive\W+the\W+fee\b",
    )
    Proposal.objects.create(
        kind=ProposalKind.TRIAGE_EXAMPLE,
        title="Messages re-labelled as delivery_period",
        question="where is my parcel",
        variants=["my parcel is late"],
        answer="delivery_period",
    )
    page = console.get("/console/learning/").content.decode()
    assert "<del>5-7</del>" in page and "<ins>3</ins>" in page
    assert "Outdated: it is 3 days now" in page
    assert "Among recent drafts it would have stopped 0 rejected for policy and 0" in page
    assert "<li>my parcel is late</li>" in page and 'value="delivery_period"' in page


def test_an_agent_corrects_the_intent_on_the_conversation_page(
    console: Client, make_draft: MakeDraft, small_kb: Any
) -> None:
    draft = make_draft("my parcel never came", intent="get_refund", category="REFUND")
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert '<option value="delivery_period">' in page
    assert '<option value="get_refund" selected>' in page
    console.post(f"/console/drafts/{draft.pk}/relabel/", {"intent": "delivery_period"})
    draft.refresh_from_db()
    assert (draft.intent, draft.category) == ("delivery_period", "DELIVERY")
    response = console.post(
        f"/console/drafts/{draft.pk}/relabel/", {"intent": "nope"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422 and "unknown intent" in response.content.decode()
