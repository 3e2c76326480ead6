"""escalate: a human must handle this message; the reason says why."""

from __future__ import annotations

from typing import Any

from agents.nodes.outcome import build_outcome
from agents.services import Services
from agents.state import AgentState
from support.vocabulary import DraftStatus


def escalate_node(state: AgentState, services: Services) -> dict[str, Any]:
    outcome = build_outcome(state, DraftStatus.ESCALATED)
    outcome.trace.append("escalate")
    return {"outcome": outcome, "trace": ["escalate"]}
