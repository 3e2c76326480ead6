"""guard: grounded, tone and policy checks of the drafted answer."""

from __future__ import annotations

from typing import Any

from agents.documents import document_claims
from agents.guard import check_answer
from agents.memory import memory_texts
from agents.services import Services
from agents.state import AgentState, customer_turns, used_cases


def guard_node(state: AgentState, services: Services) -> dict[str, Any]:
    result = check_answer(
        state["drafted_answer"],
        state["evidence"],
        state["facts"],
        state["triage_result"].sentiment,
        state["signals"],
        # Memory is the customer's words and our past replies: a source for specifics (order
        # numbers, dates), never policy (check_policy reads the facts only).
        [*state["profile"].texts(), *memory_texts(used_cases(state))],
        [state["message"], *customer_turns(state.get("history", [])), *document_claims(state)],
        services.guard_rules(),
    )
    return {"guard_result": result, "trace": ["guard"]}
