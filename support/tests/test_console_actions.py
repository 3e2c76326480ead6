"""Console actions: approve (edited), reject with a reason, escalate, reprocess; htmx answers with
the refreshed conversation, plain forms redirect; errors are 4xx with the reason shown."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from support.models import (
    AuditLog,
    Conversation,
    ConversationStatus,
    Draft,
    DraftStatus,
    Message,
    MessageRole,
)
from support.tests.conftest import MakeDraft

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def _audit(draft: Draft) -> list[tuple[str, str]]:
    rows = AuditLog.objects.filter(draft=draft).order_by("created_at", "id")
    return [(row.actor, row.action) for row in rows]


def test_approve_with_edits_sends_the_edited_text(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    edited = "You can track your order in Order History [1]. Thanks for waiting!"
    response = console.post(
        f"/console/drafts/{draft.pk}/approve/", {"edited": edited}, headers=HTMX
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert '<div id="draft-cards" hx-swap-oob="true">' in page
    assert ">SENT<" in page
    draft.refresh_from_db()
    assert (draft.status, draft.sent_text, draft.edit_distance) == ("SENT", edited, 3)
    reply = Message.objects.get(conversation=draft.conversation, role=MessageRole.AGENT)
    assert (reply.body, reply.author.get_username()) == (edited, "agnes")  # type: ignore[union-attr]
    assert _audit(draft)[1:] == [
        ("user:agnes", "edited"),
        ("user:agnes", "approved"),
        ("user:agnes", "sent"),
    ]


def test_approve_unchanged_without_htmx_redirects(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    response = console.post(f"/console/drafts/{draft.pk}/approve/", {"edited": draft.answer})
    assert response["Location"] == f"/console/conversations/{draft.conversation_id}/"
    draft.refresh_from_db()
    assert (draft.status, draft.edit_distance) == ("SENT", 0)
    assert [action for _, action in _audit(draft)] == ["created", "approved", "sent"]


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({"edited": "   "}, 422, "there is no answer to send"),
        ({"edited": "bad\x00text"}, 422, "edited: Null characters are not allowed."),
        ({"edited": "x" * 40000}, 422, "edited: Ensure this value has at most"),
    ],
)
def test_bad_approvals_change_nothing(
    console: Client, make_draft: MakeDraft, data: dict[str, Any], status: int, error: str
) -> None:
    draft = make_draft()
    response = console.post(f"/console/drafts/{draft.pk}/approve/", data, headers=HTMX)
    assert response.status_code == status
    assert error in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == "SUGGESTED"
    assert not Message.objects.filter(role=MessageRole.AGENT).exists()


def test_acting_on_a_closed_draft_is_409_with_the_reason_shown(
    console: Client, make_draft: MakeDraft
) -> None:
    draft = make_draft(status=DraftStatus.SENT)
    response = console.post(f"/console/drafts/{draft.pk}/reject/", {"reason": "late"}, headers=HTMX)
    assert response.status_code == 409
    assert '<p class="flash error">the draft is already SENT</p>' in response.content.decode()
    plain = console.post(f"/console/drafts/{draft.pk}/reject/", {"reason": "late"}, follow=True)
    assert "the draft is already SENT" in plain.content.decode()


def test_reject_needs_a_reason(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    response = console.post(f"/console/drafts/{draft.pk}/reject/", {"reason": ""}, headers=HTMX)
    assert response.status_code == 422
    assert "reason: This field is required." in response.content.decode()
    draft.refresh_from_db()
    assert draft.status == "SUGGESTED"


def test_reject_stores_the_reason(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    response = console.post(
        f"/console/drafts/{draft.pk}/reject/", {"reason": "wrong article"}, headers=HTMX
    )
    assert response.status_code == 200
    assert "wrong article" in response.content.decode()
    draft.refresh_from_db()
    assert (draft.status, draft.reject_reason) == ("REJECTED", "wrong article")
    assert _audit(draft)[-1] == ("user:agnes", "rejected")


def test_reject_with_a_category(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert '<option value="incorrect">Incorrect</option>' in page
    url = f"/console/drafts/{draft.pk}/reject/"
    assert console.post(url, {"reason": "x", "category": "nope"}, headers=HTMX).status_code == 422
    response = console.post(url, {"reason": "wrong", "category": "incorrect"}, headers=HTMX)
    assert "Rejected (incorrect):" in response.content.decode()
    draft.refresh_from_db()
    assert draft.reject_category == "incorrect"


def test_escalate_hands_the_conversation_over(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    assert console.post(f"/console/drafts/{draft.pk}/escalate/", headers=HTMX).status_code == 200
    draft.refresh_from_db()
    assert draft.status == "ESCALATED"
    status = Conversation.objects.get(pk=draft.conversation_id).status
    assert status == ConversationStatus.ESCALATED
    assert console.post(f"/console/drafts/{draft.pk}/escalate/", headers=HTMX).status_code == 409


def test_reprocess_supersedes_and_starts_a_new_draft(
    console: Client, make_draft: MakeDraft
) -> None:
    draft = make_draft()
    response = console.post(f"/console/messages/{draft.message_id}/reprocess/", headers=HTMX)
    assert response.status_code == 200
    drafts = list(Draft.objects.filter(message_id=draft.message_id).order_by("created_at"))
    assert [(d.status, d.reject_reason) for d in drafts] == [
        ("REJECTED", "superseded by a reprocess"),
        ("PENDING", ""),
    ]
    assert f'id="draft-{drafts[1].pk}"' in response.content.decode()


def test_an_agent_can_write_outside_the_drafts(
    console: Client, make_draft: MakeDraft, django_capture_on_commit_callbacks: Any
) -> None:
    draft = make_draft(status=DraftStatus.SENT)
    url = f"/console/conversations/{draft.conversation_id}/reply/"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = console.post(url, {"body": "One more thing: it ships today."}, headers=HTMX)
    assert response.status_code == 200
    assert "One more thing: it ships today." in response.content.decode()
    reply = Message.objects.get(conversation=draft.conversation, role=MessageRole.AGENT)
    assert reply.author.get_username() == "agnes"  # type: ignore[union-attr]
    audit = AuditLog.objects.get(message=reply)
    assert (audit.actor, audit.action) == ("user:agnes", "sent")
    # The console broadcast and the learning loop's look, after commit (an API conversation
    # with no `reply.sent` subscriber has no delivery to queue).
    assert len(callbacks) == 2
    assert console.post(url, {"body": "  "}, headers=HTMX).status_code == 422
