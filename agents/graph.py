"""The agent graph: triage → retrieve → missing → propose → compose → guard → decide → (repair →
compose …) → finalize | escalate. build_graph() wires nodes to the services it is given;
nothing is compiled or connected at import time."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph

from agents import nodes
from agents.actions import FOLLOW_UP
from agents.message_signals import asks_for_person
from agents.services import Services
from agents.state import AgentState
from agents.telemetry import node_span, record_update
from support.outcome import DraftOutcome

RECURSION_LIMIT = 40  # 3 repairs take 17 steps; more means a wiring bug


def route_after_retrieve(state: AgentState) -> Literal["compose", "acknowledge", "escalate"]:
    signals = state["signals"]
    if signals.praise and signals.human_requested and asks_for_person(state["message"]):
        # "Thank you, you are great! I want to speak to a human agent": a thank-you is no answer
        # to a request for a person (retrieve set the reason, customer_requested_human). Its
        # words, not the intent alone: praise of "the best gate agent" asks for nobody.
        return "escalate"
    if signals.praise:
        # Praise a person would thank: no sarcasm, problem, question or complaint vetoed it
        # (agents/message_signals.py). Thanks with a question goes on to be answered.
        return "acknowledge"
    if signals.complaint:
        # A KB answer to a complaint reads as not listening: a person answers it (and the
        # question it also asks, signals.question, is named for them).
        return "escalate"
    if not state["kb_covers_it"] and not _order_moves(state):
        # An order move the catalogue's check decided (proposed or refused) is answered by its
        # own sentences, whatever the KB holds; anything else needs an article.
        return "escalate"
    return "compose"


def _order_moves(state: AgentState) -> bool:
    proposed = [p for p in state.get("proposed_actions", []) if p["name"] != FOLLOW_UP]
    return bool(proposed or state.get("refused_actions"))


def route_after_decide(state: AgentState) -> Literal["finalize", "repair", "escalate"]:
    decision = state["decision"]
    if decision == "suggest":
        return "finalize"
    return "repair" if decision == "repair" else "escalate"


def _bind(node: Callable[[AgentState, Services], dict[str, Any]], services: Services) -> Any:
    name = node.__name__.removesuffix("_node")

    def run(state: AgentState) -> dict[str, Any]:
        with node_span(name) as span:  # one span per node, what it decided as attributes
            update = node(state, services)
            record_update(span, update)
            return update

    run.__name__ = node.__name__
    return run


def build_graph(services: Services) -> CompiledStateGraph:
    graph = StateGraph(AgentState)
    graph.add_node("triage", _bind(nodes.triage_node, services))
    graph.add_node("retrieve", _bind(nodes.retrieve_node, services))
    graph.add_node("missing", _bind(nodes.missing_node, services))
    graph.add_node("propose", _bind(nodes.act_node, services))
    graph.add_node("compose", _bind(nodes.compose_node, services))
    graph.add_node("acknowledge", _bind(nodes.acknowledge_node, services))
    graph.add_node("guard", _bind(nodes.guard_node, services))
    graph.add_node("decide", _bind(nodes.decide_node, services))
    graph.add_node("repair", _bind(nodes.repair_node, services))
    graph.add_node("finalize", _bind(nodes.finalize_node, services))
    graph.add_node("escalate", _bind(nodes.escalate_node, services))
    graph.add_edge(START, "triage")
    graph.add_edge("triage", "retrieve")
    graph.add_edge("retrieve", "missing")
    graph.add_edge("missing", "propose")
    graph.add_conditional_edges(
        "propose", route_after_retrieve, ["compose", "acknowledge", "escalate"]
    )
    graph.add_edge("acknowledge", "finalize")
    graph.add_edge("compose", "guard")
    graph.add_edge("guard", "decide")
    graph.add_conditional_edges("decide", route_after_decide, ["finalize", "repair", "escalate"])
    graph.add_edge("repair", "compose")
    graph.add_edge("finalize", END)
    graph.add_edge("escalate", END)
    return graph.compile()


def run_graph(graph: CompiledStateGraph, state: AgentState) -> DraftOutcome:
    """Runs the graph on `state`; returns what it decided. Writes nothing."""
    return run_graph_to_end(graph, state)[0]


def run_graph_to_end(
    graph: CompiledStateGraph, state: AgentState
) -> tuple[DraftOutcome, AgentState]:
    """run_graph, also returning the final state (the evaluation harness reads the evidence
    that was retrieved, not only what was cited)."""
    final: AgentState = graph.invoke(state, {"recursion_limit": RECURSION_LIMIT})  # type: ignore[assignment]
    return final["outcome"], final
