"""guard: grounded, tone and policy checks of the proposal."""

from __future__ import annotations

from typing import Any

from agents.guard import check_proposal
from agents.services import Services
from agents.state import AgentState, customer_turns


def guard_node(state: AgentState, services: Services) -> dict[str, Any]:
    result = check_proposal(
        state["proposal"],
        state["evidence"],
        state["facts"],
        state["triage_result"].sentiment,
        state["signals"],
        state["profile"].texts(),
        [state["message"], *customer_turns(state.get("history", []))],
        services.guard_rules(),
    )
    return {"guard_result": result, "trace": ["guard"]}
