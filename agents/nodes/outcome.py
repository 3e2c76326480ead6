"""The run's outcome, built from state by finalize and escalate."""

from __future__ import annotations

import time
from typing import Any, Literal

from agents.prompts import ACKNOWLEDGEMENT_VERSION
from agents.scoring import calibrated
from agents.state import AgentState
from support.drafts import DraftOutcome
from support.models.draft import not_drafted_guard


def _triage(state: AgentState) -> dict[str, Any]:
    triaged = state["triage_result"]
    return {**triaged.as_dict(), "scores": triaged.scores, "signals": state["signals"].as_dict()}


def _confidence(state: AgentState) -> float:
    """How likely the answer is right: the run's raw score, calibrated (agents/scoring.py). An
    acknowledgement of praise keeps its own (the tone model's P(praise))."""
    proposal = state.get("proposal")
    raw = proposal.confidence if proposal else state.get("retrieval_confidence", 0.0)
    if proposal is not None and proposal.prompt_version == ACKNOWLEDGEMENT_VERSION:
        return raw
    return calibrated(raw, state["triage_result"])


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
        confidence=_confidence(state),
        guard=guard.as_dict() if guard else not_drafted_guard(),
        facts={**facts.as_dict(), "entities": state["entities"].as_dict()},
        model=proposal.model if proposal else "",
        prompt_version=proposal.prompt_version if proposal else "",
        tokens=state.get("tokens", 0),
        cost=round(state.get("cost", 0.0), 6),
        latency_ms=round((time.perf_counter() - state["started"]) * 1000),
        trace=[*state.get("trace", [])],
    )
