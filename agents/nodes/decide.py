"""decide: suggest, repair, or escalate with a typed reason. Pure: reads state and settings."""

from __future__ import annotations

from typing import Any

from agents.guard import is_forbidden
from agents.services import AgentSettings, Services
from agents.state import AgentState, Decision


def decide(state: AgentState, settings: AgentSettings) -> tuple[Decision, str]:
    signals, guard = state["signals"], state["guard_result"]
    proposal = state["proposal"]
    if signals.risks:
        return "escalate", "high_risk"
    if signals.human_requested:
        return "escalate", "customer_requested_human"
    if proposal.invalid:
        return "escalate", "guard_failed"
    if is_forbidden(guard):
        return "escalate", "forbidden_action"
    if not guard.ok:
        if state.get("repairs", 0) < settings.max_repairs:
            return "repair", ""
        return "escalate", "repair_exhausted" if settings.max_repairs else "guard_failed"
    if proposal.confidence < settings.confidence_threshold:
        return "escalate", "low_confidence"
    return "suggest", ""


def decide_node(state: AgentState, services: Services) -> dict[str, Any]:
    decision, reason = decide(state, services.settings)
    return {"decision": decision, "escalation_reason": reason, "trace": ["decide"]}
