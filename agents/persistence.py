"""The persist service of worker and `draft --persist` runs: writes an outcome to its PENDING
draft, with the audit row, the dedupe row and the webhook deliveries in the same transaction;
the console hears of it after commit (support.announce)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from agents.models import ProcessedEvent
from agents.state import Outcome
from support.actor import Actor
from support.announce import announce_draft
from support.autosend import auto_send_if_allowed
from support.models import (
    AuditAction,
    Conversation,
    Draft,
    DraftStatus,
)


class AlreadyProcessed(Exception):
    """The event was handled before (redelivery), or the draft is no longer PENDING."""


def _fields(outcome: Outcome) -> dict[str, Any]:
    triage = outcome.triage
    return {
        "status": outcome.status,
        "escalation_reason": outcome.escalation_reason or "",
        "intent": triage.get("intent", ""),
        "category": triage.get("category", ""),
        "sentiment": triage.get("sentiment", ""),
        "urgency": triage.get("urgency", ""),
        "triage_scores": {**triage.get("scores", {}), "signals": triage.get("signals", {})},
        "answer": outcome.answer,
        "citations": outcome.citations,
        "suggested_action": (outcome.suggested_action or "")[:200],
        "confidence": outcome.confidence,
        "guard": outcome.guard,
        "facts": outcome.facts,
        "model": outcome.model[:128],
        "prompt_version": outcome.prompt_version,
        "tokens": outcome.tokens,
        "cost": Decimal(str(outcome.cost)),
        "latency_ms": outcome.latency_ms,
        "run_started_at": None,
        "completed_at": timezone.now(),
    }


def _mark_processed(event_id: str) -> None:
    try:
        with transaction.atomic():
            ProcessedEvent.objects.create(event_id=event_id, event_type="message.created")
    except IntegrityError:
        raise AlreadyProcessed(event_id) from None


def save_outcome(outcome: Outcome, run: dict[str, Any]) -> None:
    draft_id = run["draft_id"]
    with transaction.atomic():
        if event_id := run.get("event_id"):
            _mark_processed(event_id)
        fields = _fields(outcome)
        if trace_id := run.get("trace_id"):
            fields["trace_id"] = trace_id[:64]
        updated = Draft.objects.filter(pk=draft_id, status=DraftStatus.PENDING).update(**fields)
        if not updated:
            raise AlreadyProcessed(f"draft {draft_id} is no longer pending")
        draft = Draft.objects.get(pk=draft_id)
        conversation_id, message_id = draft.conversation_id, draft.message_id
        escalated = outcome.status == DraftStatus.ESCALATED
        if escalated:
            Conversation.objects.escalate(conversation_id)
        Actor.agent().record(
            AuditAction.ESCALATED if escalated else AuditAction.SUGGESTED,
            conversation_id=conversation_id,
            draft_id=draft_id,
            message_id=message_id,
            before={"status": DraftStatus.PENDING},
            after={
                "status": outcome.status,
                "escalation_reason": outcome.escalation_reason,
                "confidence": outcome.confidence,
                "trace": outcome.trace,
            },
        )
        announce_draft(draft)
        if not escalated:
            auto_send_if_allowed(draft)
