"""compose: the configured provider writes the draft's answer from the evidence and facts."""

from __future__ import annotations

from typing import Any

from agents.actions import FOLLOW_UP
from agents.providers.base import DraftRequest
from agents.services import Services
from agents.state import AgentState, used_cases
from knowledge.languages import answer_language


def order_moves(state: AgentState) -> tuple[str, ...]:
    """The sentences finalize adds about the order moves (a follow-up task is not one: the
    article still answers the question)."""
    proposed = [
        p["confirmation"] for p in state.get("proposed_actions", []) if p["name"] != FOLLOW_UP
    ]
    refused = [r["reply"] for r in state.get("refused_actions", []) if r.get("reply")]
    return tuple([*proposed, *refused])


def compose_node(state: AgentState, services: Services) -> dict[str, Any]:
    request = DraftRequest(
        message=state["clean_message"],
        history=state.get("history", []),
        triage=state["triage_result"],
        evidence=state["evidence"],
        facts=state["facts"],
        entities=state["entities"],
        profile=state["profile"],
        retrieval_confidence=state["retrieval_confidence"],
        feedback=tuple(state.get("feedback", [])),
        earlier=tuple(used_cases(state)),
        actions=order_moves(state),
        language=answer_language(state["triage_result"].language),
    )
    drafted = services.drafter.draft(request)
    return {
        "drafted_answer": drafted,
        "tokens": drafted.tokens,
        "cost": drafted.cost,
        "trace": ["compose"],
    }
