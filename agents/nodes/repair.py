"""repair: feed the guard's issues back to the provider for one more attempt."""

from __future__ import annotations

from typing import Any

from agents.services import Services
from agents.state import AgentState


def repair_node(state: AgentState, services: Services) -> dict[str, Any]:
    issues = list(state["guard_result"].issues)
    return {
        "feedback": [*state.get("feedback", []), *issues],
        "repairs": state.get("repairs", 0) + 1,
        "trace": ["repair"],
    }
