"""The run's outcome, built from state by finalize and escalate."""

from __future__ import annotations

import time
from typing import Any, Literal

from agents.state import AgentState
from support.drafts import DraftOutcome
from support.models.draft import empty_guard


def _triage(state: AgentState) -> dict[str, Any]:
    triaged = state["triage_result"]
    return {**triaged.as_dict(), "scores": triaged.scores, "signals": state["signals"].as_dict()}


def build_outcome(state: AgentState, status: Literal["SUGGESTED", "ESCALATED"]) -> DraftOutcome:
    proposal = state.get("proposal")
    guard = state.get("guard_result")
    facts = state["facts"]
    return DraftOutcome(
        status=status,
        escalation_reason=(state.get("escalation_reason") or None)
        if status == "ESCALATED"
        else None,
        triage=_triage(state),
        answer=proposal.answer if proposal else "",
        citations=proposal.citations if proposal else [],
        suggested_action=(proposal.suggested_action or None) if proposal else None,
        confidence=proposal.confidence if proposal else state.get("retrieval_confidence", 0.0),
        guard=guard.as_dict() if guard else {**empty_guard(), "reasons": ["not drafted"]},
        facts={**facts.as_dict(), "entities": state["entities"].as_dict()},
        model=proposal.model if proposal else "",
        prompt_version=proposal.prompt_version if proposal else "",
        tokens=state.get("tokens", 0),
        cost=round(state.get("cost", 0.0), 6),
        latency_ms=round((time.perf_counter() - state["started"]) * 1000),
        trace=[*state.get("trace", [])],
    )
