"""finalize: the draft is suggested to an agent (the runner records it; the node writes nothing)."""

from __future__ import annotations

from typing import Any

from agents.nodes.outcome import build_outcome
from agents.services import Services
from agents.state import AgentState
from support.vocabulary import DraftStatus


def finalize_node(state: AgentState, services: Services) -> dict[str, Any]:
    outcome = build_outcome(state, DraftStatus.SUGGESTED)
    outcome.trace.append("finalize")
    return {"outcome": outcome, "trace": ["finalize"]}
