"""Recording what an agent run decided about a PENDING draft: the one support action the agent
calls (zulip-style: lock, write, audit in one transaction, notify after commit).

The graph is pure: it returns a DraftOutcome and writes nothing. The runner (agents/runner.py)
hands the outcome to record_outcome, which owns every side effect: the draft row, the processed-
event row that makes a redelivery a no-op, the conversation's escalation, the audit row, and
after commit the announcement (console, widget, webhooks) and the auto-send rule.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.utils import timezone

from resolver.audit_actor import Actor
from resolver.models import ProcessedEvent
from support.announce import announce_draft
from support.autosend import auto_send_if_allowed
from support.models import AuditAction, AuditLog, Conversation, Draft, DraftStatus
from support.review import ReviewError

logger = logging.getLogger(__name__)

# Keys of the Draft object that only a stored (and reviewed) draft has.
UNSAVED_KEYS = (
    "id",
    "message_id",
    "conversation_id",
    "created_at",
    "reviewed_at",
    "sent_text",
    "reject_reason",
    "reject_category",
)


@dataclass(frozen=True)
class DraftOutcome:
    """What a run decided: the fields of the Draft object (CONTRACTS.md) a run sets, plus what
    the console shows beside them (triage scores, facts, the nodes that ran)."""

    status: Literal["SUGGESTED", "ESCALATED"]
    escalation_reason: str | None
    triage: dict[str, Any]
    answer: str
    citations: list[dict[str, Any]]
    suggested_action: str | None
    confidence: float
    guard: dict[str, Any]
    facts: dict[str, Any]
    model: str
    prompt_version: str
    tokens: int
    cost: float
    latency_ms: int
    trace: list[str] = field(default_factory=list)

    def as_draft(self) -> dict[str, Any]:
        """The Draft object of CONTRACTS.md for this outcome, unsaved: the same mapping as a
        stored draft's (Draft.as_wire), without the ids and timestamps only a stored draft has
        (the CLI's form)."""
        wire = Draft(**self.draft_fields()).as_wire()
        for unsaved in UNSAVED_KEYS:
            del wire[unsaved]
        return wire

    def draft_fields(self) -> dict[str, Any]:
        """The Draft model's columns for this outcome (the run's claim ends with it)."""
        triage = self.triage
        return {
            "status": self.status,
            "escalation_reason": self.escalation_reason or "",
            "intent": triage.get("intent", ""),
            "category": triage.get("category", ""),
            "sentiment": triage.get("sentiment", ""),
            "urgency": triage.get("urgency", ""),
            "triage_scores": {**triage.get("scores", {}), "signals": triage.get("signals", {})},
            "answer": self.answer,
            "citations": self.citations,
            "suggested_action": (self.suggested_action or "")[:200],
            "confidence": self.confidence,
            "guard": self.guard,
            "facts": self.facts,
            "model": self.model[:128],
            "prompt_version": self.prompt_version,
            "tokens": self.tokens,
            "cost": Decimal(str(self.cost)),
            "latency_ms": self.latency_ms,
            "run_started_at": None,
            "run_by": "",
            "completed_at": timezone.now(),
        }


class AlreadyRecorded(Exception):
    """The event was handled before (a redelivery), or the draft is no longer PENDING."""


def _mark_processed(event_id: str) -> None:
    try:
        with transaction.atomic():
            ProcessedEvent.objects.create(event_id=event_id, event_type="message.created")
    except IntegrityError:
        raise AlreadyRecorded(f"event {event_id} was processed before") from None


def record_outcome(
    draft_id: Any, outcome: DraftOutcome, *, event_id: str = "", trace_id: str = ""
) -> Draft:
    """Writes `outcome` to its PENDING draft. Raises AlreadyRecorded (and writes nothing) when
    the event was processed before or the draft is no longer PENDING."""
    with transaction.atomic():
        draft = Draft.objects.select_for_update().get(pk=draft_id)
        if draft.status != DraftStatus.PENDING:
            raise AlreadyRecorded(f"draft {draft_id} is no longer pending")
        if event_id:
            _mark_processed(event_id)
        fields = outcome.draft_fields()
        if trace_id:
            fields["trace_id"] = trace_id[:64]
        for name, value in fields.items():
            setattr(draft, name, value)
        draft.save(update_fields=[*fields])
        escalated = outcome.status == DraftStatus.ESCALATED
        if escalated:
            Conversation.objects.escalate(draft.conversation_id)
        AuditLog.objects.record(
            Actor.agent(),
            AuditAction.ESCALATED if escalated else AuditAction.SUGGESTED,
            conversation_id=draft.conversation_id,
            draft_id=draft.pk,
            message_id=draft.message_id,
            before={"status": DraftStatus.PENDING},
            after={
                "status": outcome.status,
                "escalation_reason": outcome.escalation_reason,
                "confidence": outcome.confidence,
                "trace": outcome.trace,
            },
        )
        announce_draft(draft)  # after commit
        if not escalated:
            transaction.on_commit(lambda: _auto_send(draft.pk))
    return draft


def _auto_send(draft_id: Any) -> None:
    """The auto-send rule, after commit: the draft is re-read and re-checked under a lock, so an
    agent who acted on it in between wins."""
    try:
        auto_send_if_allowed(Draft.objects.get(pk=draft_id))
    except ReviewError as exc:
        logger.info("draft %s not sent automatically: %s", draft_id, exc)
