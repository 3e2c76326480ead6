"""guard: grounded, tone and policy checks of the drafted answer."""

from __future__ import annotations

from typing import Any

from agents.documents import document_claims
from agents.guard import check_answer
from agents.services import Services
from agents.state import AgentState, customer_turns


def guard_node(state: AgentState, services: Services) -> dict[str, Any]:
    result = check_answer(
        state["drafted_answer"],
        state["evidence"],
        state["facts"],
        state["triage_result"].sentiment,
        state["signals"],
        state["profile"].texts(),
        [state["message"], *customer_turns(state.get("history", [])), *document_claims(state)],
        services.guard_rules(),
    )
    return {"guard_result": result, "trace": ["guard"]}
