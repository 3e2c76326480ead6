"""support.agent_runs.record_outcome: the one way an agent run's outcome reaches a draft, on the
real database: draft, processed event, escalation and audit in one transaction, or nothing."""

from __future__ import annotations

from typing import Any

import pytest

from resolver.models import ProcessedEvent
from support.agent_runs import AlreadyRecorded, record_outcome
from support.inbound import receive_message
from support.models import AuditLog, Conversation, ConversationStatus, Draft, DraftStatus
from support.outcome import DraftOutcome


def outcome(**fields: Any) -> DraftOutcome:
    values: dict[str, Any] = {
        "status": "SUGGESTED",
        "escalation_reason": None,
        "triage": {
            "intent": "track_order",
            "category": "ORDER",
            "sentiment": "NEUTRAL",
            "urgency": "NORMAL",
            "scores": {"track_order": 0.9},
        },
        "answer": "You can track it from the Orders page [1].",
        "citations": [{"kb_id": 1, "title": "Tracking", "snippet": "Orders page"}],
        "suggested_action": None,
        "confidence": 0.82,
        "guard": {"grounded": True, "tone": True, "policy": True, "reasons": []},
        "facts": {},
        "model": "extractive",
        "prompt_version": "v1",
        "tokens": 0,
        "cost": 0.0,
        "latency_ms": 40,
        "trace": ["triage", "retrieve", "draft", "guard", "decide", "finalize"],
    }
    return DraftOutcome(**{**values, **fields})


def test_writes_the_draft_the_event_and_the_audit_row(db: None) -> None:
    _, draft = receive_message("where is my order?", enqueue=False)

    record_outcome(draft.pk, outcome(), event_id="e-1", trace_id="t-1")

    draft.refresh_from_db()
    assert (draft.status, draft.intent, draft.answer[:9], draft.trace_id) == (
        DraftStatus.SUGGESTED,
        "track_order",
        "You can t",
        "t-1",
    )
    assert draft.run_started_at is None and draft.completed_at is not None
    assert ProcessedEvent.objects.filter(event_id="e-1").exists()
    assert AuditLog.objects.filter(draft=draft, action="suggested", actor="agent:graph").exists()


def test_an_escalation_escalates_the_conversation(db: None) -> None:
    _, draft = receive_message("I want a human", enqueue=False)

    record_outcome(
        draft.pk, outcome(status="ESCALATED", escalation_reason="customer_requested_human")
    )

    draft.refresh_from_db()
    assert (draft.status, draft.escalation_reason) == ("ESCALATED", "customer_requested_human")
    conversation = Conversation.objects.get(pk=draft.conversation_id)
    assert conversation.status == ConversationStatus.ESCALATED


@pytest.mark.parametrize("reason", ["handled", "redelivered"])
def test_nothing_is_written_twice(db: None, reason: str) -> None:
    _, draft = receive_message("where is my order?", enqueue=False)
    if reason == "handled":  # an agent escalated it while the run was drafting
        Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.ESCALATED)
    else:  # the same event, recorded before
        ProcessedEvent.objects.create(event_id="e-1", event_type="message.created")
    audit = AuditLog.objects.count()

    with pytest.raises(AlreadyRecorded):
        record_outcome(draft.pk, outcome(), event_id="e-1")

    draft.refresh_from_db()
    assert draft.answer == ""
    assert ProcessedEvent.objects.filter(event_id="e-1").count() == (reason == "redelivered")
    assert AuditLog.objects.count() == audit
