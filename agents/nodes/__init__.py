"""Graph nodes, one job each. Each takes the state and the injected services and returns the
keys it changes."""

from agents.nodes.acknowledge import acknowledge_node
from agents.nodes.act import act_node
from agents.nodes.compose import compose_node
from agents.nodes.decide import decide_node
from agents.nodes.escalate import escalate_node
from agents.nodes.finalize import finalize_node
from agents.nodes.guard import guard_node
from agents.nodes.missing import missing_node
from agents.nodes.repair import repair_node
from agents.nodes.retrieve import retrieve_node
from agents.nodes.triage import triage_node

__all__ = [
    "acknowledge_node",
    "act_node",
    "compose_node",
    "decide_node",
    "escalate_node",
    "finalize_node",
    "guard_node",
    "missing_node",
    "repair_node",
    "retrieve_node",
    "triage_node",
]
