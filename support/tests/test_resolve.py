"""Resolving a conversation (support.review.resolve): from the console, the API and admin; its open
drafts are closed unanswered, it is audited and announced, and the customer's next message opens
it again."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from resolver.audit_actor import Actor
from support import review
from support.agent_runs import AlreadyRecorded, record_outcome
from support.inbound import receive_message
from support.models import AuditLog, Conversation, ConversationStatus, Draft, DraftStatus
from support.tests.conftest import MakeDraft, key_client, post_json
from support.tests.test_agent_runs import outcome

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _thread(make_draft: MakeDraft) -> tuple[Conversation, dict[str, Draft]]:
    """One conversation with a SENT, an ESCALATED and a SUGGESTED draft."""
    sent = make_draft("where is my order?", status=DraftStatus.SENT)
    conversation = sent.conversation
    drafts = {"sent": sent}
    for name, status in (
        ("escalated", DraftStatus.ESCALATED),
        ("suggested", DraftStatus.SUGGESTED),
    ):
        _, draft = receive_message(name, conversation=conversation, enqueue=False)
        Draft.objects.filter(pk=draft.pk).update(status=status, answer="an answer")
        drafts[name] = draft
    return conversation, drafts


def test_resolving_closes_the_open_drafts_audits_and_announces(
    make_draft: MakeDraft, agent_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    conversation, drafts = _thread(make_draft)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        review.resolve(conversation.pk, Actor.for_user(agent_user))

    conversation.refresh_from_db()
    assert conversation.status == ConversationStatus.RESOLVED
    assert conversation.resolved_at is not None
    closed = {name: Draft.objects.get(pk=d.pk) for name, d in drafts.items()}
    assert [(d.status, d.reject_reason) for d in closed.values()] == [
        ("SENT", ""),
        ("REJECTED", review.CLOSED_BY_RESOLVE),
        ("REJECTED", review.CLOSED_BY_RESOLVE),
    ]
    rows = AuditLog.objects.filter(conversation=conversation, actor="user:agnes")
    assert sorted(rows.values_list("action", flat=True)) == ["rejected", "rejected", "resolved"]
    resolved = rows.get(action="resolved")
    assert (resolved.before, resolved.after) == ({"status": "OPEN"}, {"status": "RESOLVED"})
    assert all(row.metadata == {"resolved": True} for row in rows.filter(action="rejected"))
    # Two draft announcements and the conversation's broadcast, all after commit.
    assert len(callbacks) >= 3
    assert Draft.objects.needing_human().filter(conversation=conversation).count() == 0


def test_resolving_twice_is_a_conflict(make_draft: MakeDraft, agent_user: Any) -> None:
    draft = make_draft()
    review.resolve(draft.conversation_id, Actor.for_user(agent_user))
    with pytest.raises(review.Conflict, match="already RESOLVED"):
        review.resolve(draft.conversation_id, Actor.for_user(agent_user))


def test_the_customers_next_message_opens_it_again(make_draft: MakeDraft, agent_user: Any) -> None:
    draft = make_draft()
    review.resolve(draft.conversation_id, Actor.for_user(agent_user))
    conversation = Conversation.objects.get(pk=draft.conversation_id)
    _, new = receive_message("it never arrived", conversation=conversation, enqueue=False)
    conversation.refresh_from_db()
    assert (conversation.status, conversation.resolved_at) == (ConversationStatus.OPEN, None)
    assert new.status == DraftStatus.PENDING


def test_a_run_still_drafting_records_nothing_once_resolved(agent_user: Any) -> None:
    _, draft = receive_message("is my refund through?", enqueue=False)
    review.resolve(draft.conversation_id, Actor.for_user(agent_user))
    with pytest.raises(AlreadyRecorded):
        record_outcome(draft.pk, outcome())
    draft.refresh_from_db()
    assert (draft.status, draft.answer) == (DraftStatus.REJECTED, "")


def test_api_resolve(make_draft: MakeDraft) -> None:
    draft = make_draft()
    url = f"/conversations/{draft.conversation_id}/resolve"
    assert post_json(key_client("read"), url).status_code == 403
    response = post_json(key_client("act"), url)
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["id"]) == ("RESOLVED", str(draft.conversation_id))
    assert body["resolved_at"] is not None
    assert body["messages"][0]["draft"]["status"] == "REJECTED"
    again = post_json(key_client("act"), url)
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    missing = post_json(
        key_client("act"), "/conversations/00000000-0000-0000-0000-000000000000/resolve"
    )
    assert missing.status_code == 404


def test_console_resolve_updates_the_page(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert "conversation open" in page and ">Resolve</button>" in page
    response = console.post(
        f"/console/conversations/{draft.conversation_id}/resolve/", headers=HTMX
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert 'id="conversation-state" class="conversation-state" hx-swap-oob="true"' in fragment
    assert "conversation resolved" in fragment and ">Resolve</button>" not in fragment
    again = console.post(f"/console/conversations/{draft.conversation_id}/resolve/", headers=HTMX)
    assert again.status_code == 409
    assert "already RESOLVED" in again.content.decode()


def test_admin_resolves_through_the_review_action_and_never_edits_the_status(
    admin_client: Client, make_draft: MakeDraft
) -> None:
    draft = make_draft()
    change = f"/admin/support/conversation/{draft.conversation_id}/change/"
    admin_client.post(change, {"status": "RESOLVED", "customer_ref": "cust-1"})
    assert Conversation.objects.get(pk=draft.conversation_id).status == ConversationStatus.OPEN
    response = admin_client.post(
        "/admin/support/conversation/",
        {"action": "resolve", "_selected_action": [str(draft.conversation_id)]},
        follow=True,
    )
    assert [str(m) for m in response.context["messages"]] == ["Resolved 1 conversation(s)."]
    assert Conversation.objects.get(pk=draft.conversation_id).status == ConversationStatus.RESOLVED
    assert AuditLog.objects.get(action="resolved").actor == "user:admin"
