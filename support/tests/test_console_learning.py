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
