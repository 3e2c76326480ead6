"""decide: suggest, repair, or escalate with a typed reason. Pure: reads state and settings."""

from __future__ import annotations

from typing import Any

from agents.guard import is_forbidden
from agents.message_signals import MessageSignals
from agents.services import AgentSettings, Services
from agents.state import AgentState, Decision
from support.vocabulary import EscalationReason


def message_reason(signals: MessageSignals) -> str:
    """The escalation reason the message itself gives, whatever the KB holds ("" if none)."""
    if signals.risks:
        return EscalationReason.HIGH_RISK
    if signals.human_requested:
        return EscalationReason.CUSTOMER_REQUESTED_HUMAN
    if signals.complaint:
        return EscalationReason.CUSTOMER_COMPLAINT
    return ""


def decide(state: AgentState, settings: AgentSettings) -> tuple[Decision, str]:
    signals, guard = state["signals"], state["guard_result"]
    drafted = state["drafted_answer"]
    if reason := message_reason(signals):
        return "escalate", reason
    if drafted.invalid:
        return "escalate", EscalationReason.GUARD_FAILED
    if is_forbidden(guard):
        return "escalate", EscalationReason.FORBIDDEN_ACTION
    if not guard.ok:
        if state.get("repairs", 0) < settings.max_repairs:
            return "repair", ""
        return (
            "escalate",
            EscalationReason.REPAIR_EXHAUSTED
            if settings.max_repairs
            else EscalationReason.GUARD_FAILED,
        )
    if drafted.confidence < settings.confidence_threshold:
        return "escalate", EscalationReason.LOW_CONFIDENCE
    return "suggest", ""


def decide_node(state: AgentState, services: Services) -> dict[str, Any]:
    decision, reason = decide(state, services.settings)
    return {"decision": decision, "escalation_reason": reason, "trace": ["decide"]}
