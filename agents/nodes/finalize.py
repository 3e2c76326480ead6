"""finalize: the draft is suggested to an agent (the runner records it; the node writes nothing)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from agents.actions import with_actions
from agents.missing import ask_for_missing
from agents.nodes.outcome import build_outcome
from agents.services import Services
from agents.state import AgentState
from knowledge.languages import DEFAULT_LANGUAGE, answer_language
from support.vocabulary import DraftStatus


def finalize_node(state: AgentState, services: Services) -> dict[str, Any]:
    outcome = build_outcome(state, DraftStatus.SUGGESTED)
    # The facts the message lacks are asked for after the guard checked the answer: the
    # question states nothing, so there is nothing for the guard to ground. Its wording is
    # English: to a customer writing in another language it is not added (#31); the Draft's
    # context still names the missing facts for the agent.
    english = answer_language(state["triage_result"].language) == DEFAULT_LANGUAGE
    missing = state.get("missing", []) if english else []
    answer = ask_for_missing(outcome.answer, missing)
    # The proposed moves' confirmations and the refused ones' explanations, after the guard too:
    # fixed wording about what the catalogue's check decided (agents/actions.py).
    refused = [r["reply"] for r in state.get("refused_actions", []) if r.get("reply")]
    answer = with_actions(answer, outcome.actions, refused) if answer.strip() else answer
    outcome = replace(outcome, answer=answer)
    outcome.trace.append("finalize")
    return {"outcome": outcome, "trace": ["finalize"]}
