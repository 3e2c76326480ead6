"""The per-intent auto-send policy: off by default; only confident, guard-passing SUGGESTED
drafts of enabled intents, never in escalated conversations."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from agents.actors import process_message
from support.autosend import auto_send_if_allowed
from support.inbound import message_created, receive_message
from support.models import (
    AuditLog,
    AutoSendRule,
    Conversation,
    ConversationStatus,
    Draft,
    Message,
    MessageRole,
)
from support.tests.conftest import MakeDraft

pytestmark = pytest.mark.django_db


def _try(draft: Draft) -> bool:
    with transaction.atomic():
        return auto_send_if_allowed(draft)


def test_a_qualifying_draft_is_sent_and_marked_automated(make_draft: MakeDraft) -> None:
    AutoSendRule.objects.create(intent="track_order", enabled=True, min_confidence=0.7)
    draft = make_draft(confidence=0.8)
    assert _try(draft) is True
    draft.refresh_from_db()
    assert (draft.status, draft.automated, draft.sent_text) == ("SENT", True, draft.answer)
    reply = Message.objects.get(conversation_id=draft.conversation_id, role=MessageRole.AGENT)
    assert (reply.automated, reply.author, reply.body) == (True, None, draft.answer)
    audit = AuditLog.objects.filter(draft=draft).order_by("created_at", "id").last()
    assert audit is not None
    assert (audit.actor, audit.action) == ("system:auto-send", "auto_sent")


@pytest.mark.parametrize(
    ("rule", "fields"),
    [
        (None, {}),  # off by default: no rule
        ({"enabled": False}, {}),
        ({"min_confidence": 0.8}, {}),  # not above the threshold
        ({}, {"guard": {"grounded": True, "tone": True, "policy": False, "reasons": ["x"]}}),
        ({}, {"status": "ESCALATED", "escalation_reason": "low_confidence"}),
        ({}, {"intent": "get_refund"}),
        ({}, {"escalated_conversation": True}),
    ],
)
def test_everything_else_waits_for_a_human(
    make_draft: MakeDraft, rule: dict[str, Any] | None, fields: dict[str, Any]
) -> None:
    if rule is not None:
        AutoSendRule.objects.create(
            intent="track_order", **{"enabled": True, "min_confidence": 0.5, **rule}
        )
    escalate = fields.pop("escalated_conversation", False)
    draft = make_draft(confidence=0.8, **fields)
    if escalate:
        Conversation.objects.filter(pk=draft.conversation_id).update(
            status=ConversationStatus.ESCALATED
        )
    assert _try(draft) is False
    draft.refresh_from_db()
    assert draft.status == fields.get("status", "SUGGESTED")
    assert not Message.objects.filter(role=MessageRole.AGENT).exists()


def test_the_worker_path_sends_automatically(
    small_kb: dict, django_capture_on_commit_callbacks: Any
) -> None:
    """The rule is applied after the outcome's commit (support.agent_runs.record_outcome)."""
    AutoSendRule.objects.create(intent="recover_password", enabled=True, min_confidence=0.0)
    message, draft = receive_message("how do I change my password?", enqueue=False)
    event = message_created(message)
    with django_capture_on_commit_callbacks(execute=True):
        process_message.fn(str(message.pk), event["event_id"], event=event)
    draft.refresh_from_db()
    assert (draft.intent, draft.status, draft.automated) == ("recover_password", "SENT", True)
    actions = list(
        AuditLog.objects.filter(draft=draft)
        .order_by("created_at", "id")
        .values_list("action", flat=True)
    )
    assert actions == ["created", "suggested", "auto_sent"]


def test_a_rule_names_an_intent_of_the_taxonomy(admin_client: Any, small_kb: object) -> None:
    """The rule's intent is a choice of the taxonomy's intents in admin, and the model refuses
    one the taxonomy does not know (a rule that could never send, silently)."""
    form = admin_client.get("/admin/support/autosendrule/add/").content.decode()
    assert '<option value="get_refund">get_refund</option>' in form
    refused = admin_client.post(
        "/admin/support/autosendrule/add/",
        {"intent": "ship_to_mars", "enabled": "on", "min_confidence": "0.9"},
    )
    assert refused.status_code == 200 and not AutoSendRule.objects.exists()
    with pytest.raises(ValidationError, match="ship_to_mars"):
        AutoSendRule(intent="ship_to_mars").full_clean()
    saved = admin_client.post(
        "/admin/support/autosendrule/add/",
        {"intent": "get_refund", "enabled": "on", "min_confidence": "0.9"},
    )
    assert saved.status_code == 302
    assert AutoSendRule.objects.get().intent == "get_refund"
