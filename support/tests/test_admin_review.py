"""Drafts, messages and audit rows are read-only in admin; the admin actions on drafts go through
the same review actions as the console and the API (lock, audit, broadcast, webhooks)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from support.models import AuditLog, Message
from support.tests.conftest import SUGGESTION


def test_drafts_and_messages_are_read_only(admin_client: Client, make_draft: Any) -> None:
    """No back door: a draft's status, answer or sent text, and a message sent to a customer,
    cannot be edited in admin."""
    draft = make_draft()
    change = f"/admin/support/draft/{draft.pk}/change/"
    assert admin_client.get(change).status_code == 200  # viewable
    assert admin_client.post(change, {"status": "SENT", "answer": "free money"}).status_code == 403
    message = f"/admin/support/message/{draft.message_id}/change/"
    assert admin_client.post(message, {"body": "rewritten"}).status_code == 403
    draft.refresh_from_db()
    assert (draft.status, draft.answer) == ("SUGGESTED", SUGGESTION["answer"])


@pytest.mark.parametrize(
    ("action", "status", "audit"),
    [
        ("approve", "SENT", "approved"),
        ("reject", "REJECTED", "rejected"),
        ("escalate", "ESCALATED", "escalated"),
    ],
)
def test_admin_actions_go_through_the_review_actions(
    admin_client: Client,
    make_draft: Any,
    django_capture_on_commit_callbacks: Any,
    action: str,
    status: str,
    audit: str,
) -> None:
    draft, other = make_draft(), make_draft(status="SENT")
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(
            "/admin/support/draft/",
            {"action": action, "_selected_action": [str(draft.pk), str(other.pk)]},
            follow=True,
        )

    draft.refresh_from_db()
    assert draft.status == status
    entry = AuditLog.objects.filter(draft=draft, action=audit).get()
    assert entry.actor == "user:admin"
    assert callbacks  # broadcast and webhooks queued for after commit, as from the console
    said = [str(m) for m in response.context["messages"]]
    assert len(said) == 2 and said[1].startswith(f"Not changed: {other.pk}:")
    other.refresh_from_db()
    assert other.status == "SENT"
    if action == "approve":
        assert Message.objects.filter(conversation=draft.conversation, role="AGENT").exists()
