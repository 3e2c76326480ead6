"""What an agent run decided about a PENDING draft: the value the pure graph returns and the one
support action for it (support/agent_runs.py:record_outcome) writes. It imports nothing beyond
the vocabulary, so the graph depends on no delivery code (console, sockets, webhooks)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.utils import timezone

from support.vocabulary import DraftStatus, RunStatus, empty_context


@dataclass(frozen=True)
class DraftOutcome:
    """The fields of the Draft object (CONTRACTS.md) a run sets, plus what the console shows
    beside them (triage scores, facts, the nodes that ran)."""

    status: RunStatus
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
    # The Draft's `context` (support.vocabulary.empty_context): earlier conversations used,
    # documents read, facts missing.
    context: dict[str, Any] = field(default_factory=empty_context)
    # The actions the run proposes: [{"name", "arguments", "confirmation", "fallback"}] (the
    # answer's sentence stating it done, and what to say instead if it is not), each allowed by
    # support.actions.catalogue.check_action when the run checked it (record_outcome writes
    # them as Action rows, status proposed).
    actions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def escalated(self) -> bool:
        return self.status == DraftStatus.ESCALATED

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
            "language": triage.get("language", ""),
            # Each head's probability, the signals found, and the cues that decided the tone.
            "triage_scores": {
                **triage.get("scores", {}),
                "signals": triage.get("signals", {}),
                "cues": triage.get("cues", {}),
            },
            "answer": self.answer,
            "citations": self.citations,
            "suggested_action": (self.suggested_action or "")[:200],
            "confidence": self.confidence,
            "guard": self.guard,
            "facts": self.facts,
            "context": self.context,
            "model": self.model[:128],
            "prompt_version": self.prompt_version,
            "tokens": self.tokens,
            "cost": Decimal(str(self.cost)),
            "latency_ms": self.latency_ms,
            "run_started_at": None,
            "run_by": "",
            "completed_at": timezone.now(),
        }
