"""The run's outcome, built from state by finalize and escalate."""

from __future__ import annotations

import time
from typing import Any

from agents.prompts import ACKNOWLEDGEMENT_VERSION
from agents.scoring import calibrated
from agents.state import AgentState
from support.outcome import DraftOutcome
from support.vocabulary import DraftStatus, RunStatus, not_drafted_guard


def _triage(state: AgentState) -> dict[str, Any]:
    triaged = state["triage_result"]
    return {
        # The cues that decided each tone head (kind, sentiment, urgency): the console's "why".
        "cues": getattr(triaged, "cues", {}),
        **triaged.as_dict(),
        "scores": triaged.scores,
        "signals": state["signals"].as_dict(),
    }


def _confidence(state: AgentState) -> float:
    """How likely the answer is right: the run's raw score, calibrated (agents/scoring.py). An
    acknowledgement of praise keeps its own (the tone model's P(praise))."""
    drafted = state.get("drafted_answer")
    raw = drafted.confidence if drafted else state.get("retrieval_confidence", 0.0)
    if drafted is not None and drafted.prompt_version == ACKNOWLEDGEMENT_VERSION:
        return raw
    return calibrated(raw, state["triage_result"])


def _context(state: AgentState) -> dict[str, Any]:
    """The Draft's context: the earlier conversations the run had in view (`used_earlier`, set
    where the graph used them; else every one it was given), the documents read, the facts
    the message lacks."""
    used = state.get("used_earlier")
    earlier = used if used is not None else [str(c.id) for c in state.get("earlier", [])]
    return {
        "earlier_conversations": list(earlier),
        "documents": [document.as_context() for document in state.get("documents", [])],
        "missing": list(state.get("missing", [])),
    }


def _refused(state: AgentState) -> list[dict[str, Any]]:
    return [
        {"name": r["name"], "arguments": r["arguments"], "problems": r["problems"]}
        for r in state.get("refused_actions", [])
    ]


def build_outcome(state: AgentState, status: RunStatus) -> DraftOutcome:
    drafted = state.get("drafted_answer")
    guard = state.get("guard_result")
    facts = state["facts"]
    return DraftOutcome(
        status=status,
        escalation_reason=(state.get("escalation_reason") or None)
        if status == DraftStatus.ESCALATED
        else None,
        triage=_triage(state),
        answer=drafted.answer if drafted else "",
        citations=drafted.citations if drafted else [],
        suggested_action=(drafted.suggested_action or None) if drafted else None,
        confidence=_confidence(state),
        guard=guard.as_dict() if guard else not_drafted_guard(),
        facts={
            **facts.as_dict(),
            "entities": state["entities"].as_dict(),
            # What the customer asked that the policy refused, and why (the reviewer sees it).
            **({"refused_actions": refused} if (refused := _refused(state)) else {}),
        },
        model=drafted.model if drafted else "",
        prompt_version=drafted.prompt_version if drafted else "",
        tokens=state.get("tokens", 0),
        cost=round(state.get("cost", 0.0), 6),
        latency_ms=round((time.perf_counter() - state["started"]) * 1000),
        trace=[*state.get("trace", [])],
        context=_context(state),
        actions=[dict(action) for action in state.get("proposed_actions", [])],
    )
