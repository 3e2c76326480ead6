"""Customers rate the latest agent reply from the widget: one rating per reply (again: it
changes), audited, and the dashboard's CSAT counts them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from resolver.audit_actor import Actor
from support import review
from support.models import AuditLog, CustomerRating, WidgetKey
from support.tests.conftest import API, SHOP
from support.widget import tokens

pytestmark = pytest.mark.django_db


def _widget(make_draft: Any) -> tuple[Client, Any]:
    key = WidgetKey.objects.create(name="shop", allowed_origins=[SHOP])
    draft = make_draft()
    token = tokens.issue(draft.conversation_id, key.pk)
    return Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ORIGIN=SHOP), draft


def _rate(client: Client, conversation_id: Any, **body: Any) -> Any:
    return client.post(
        f"{API}/widget/conversations/{conversation_id}/rating",
        json.dumps(body),
        content_type="application/json",
    )


def test_rating_the_latest_reply(make_draft: Any, agent_user: Any, api: Client) -> None:
    client, draft = _widget(make_draft)
    early = _rate(client, draft.conversation_id, score=1)
    assert (early.status_code, early.json()["code"]) == (409, "nothing_to_rate")
    review.approve(draft.pk, Actor.for_user(agent_user))
    first = _rate(client, draft.conversation_id, score=-1, comment="too vague")
    assert first.status_code == 201
    again = _rate(client, draft.conversation_id, score=1)
    assert (again.json()["id"], again.json()["score"]) == (first.json()["id"], 1)
    assert CustomerRating.objects.get().comment == ""
    assert AuditLog.objects.filter(action="rated", actor="customer").count() == 2
    window = api.get(f"{API}/stats").json()["window"]
    assert (window["ratings"], window["csat"]) == (1, 1.0)


def test_a_comment_after_the_thumb_updates_the_same_rating(
    make_draft: Any, agent_user: Any
) -> None:
    """The widget posts the thumb, then the same rating again with the optional comment."""
    client, draft = _widget(make_draft)
    review.approve(draft.pk, Actor.for_user(agent_user))
    thumb = _rate(client, draft.conversation_id, score=-1)
    commented = _rate(client, draft.conversation_id, score=-1, comment="  The link is hidden.  ")
    assert commented.status_code == 201
    assert commented.json()["id"] == thumb.json()["id"]
    rating = CustomerRating.objects.get()
    assert (rating.score, rating.comment) == (-1, "The link is hidden.")


def test_a_too_long_comment_is_refused(make_draft: Any, agent_user: Any) -> None:
    client, draft = _widget(make_draft)
    review.approve(draft.pk, Actor.for_user(agent_user))
    _rate(client, draft.conversation_id, score=1, comment="fine")
    refused = _rate(client, draft.conversation_id, score=-1, comment="x" * 2001)
    assert refused.status_code == 422
    assert refused["Content-Type"].startswith("application/json")
    assert refused.json()["code"] == "validation_error"
    assert "comment" in refused.json()["detail"]
    rating = CustomerRating.objects.get()  # unchanged
    assert (rating.score, rating.comment) == (1, "fine")
    assert _rate(client, draft.conversation_id, score=1, comment="x" * 2000).status_code == 201


def test_bad_ratings_are_refused(make_draft: Any) -> None:
    client, draft = _widget(make_draft)
    assert _rate(client, draft.conversation_id, score=5).status_code == 422
    other = make_draft("another conversation")
    assert _rate(client, other.conversation_id, score=1).status_code == 403
    assert (
        Client().post(f"{API}/widget/conversations/{draft.conversation_id}/rating").status_code
        == 401
    )


def test_learning_figures(make_draft: Any, api: Client) -> None:
    from knowledge.models import DocumentSource, KBDocument, Proposal, ProposalKind
    from support.models import Draft

    learned = KBDocument.objects.create(
        source=DocumentSource.LEARNED, external_id="proposal-1", title="Gift wrap", content="Yes."
    )
    cited = make_draft(citations=[{"kb_id": learned.pk, "title": "Gift wrap", "snippet": "Yes."}])
    make_draft()  # cites another article
    Draft.objects.filter(pk=cited.pk).update(status="SENT", edit_distance=3)
    Proposal.objects.create(kind=ProposalKind.ANSWER, title="a", question="q", answer="a")
    learning = api.get(f"{API}/stats").json()["learning"]
    assert learning == {
        "proposals_opened": 1,
        "proposals_approved": 0,
        "proposals_dismissed": 0,
        "drafts_citing_learned": 1,
        "median_edit_distance": 3,
    }
