"""Each node alone, with real services where it does I/O."""

from __future__ import annotations

from typing import Any

from agents import nodes
from agents.entities import Entities, extract_entities
from agents.facts import CustomerFacts
from agents.graph import route_after_decide, route_after_retrieve
from agents.message_signals import MessageSignals
from agents.nodes.decide import decide
from agents.services import AgentSettings, default_services
from agents.state import AgentState, DraftedAnswer, GuardIssue, GuardResult, Turn
from agents.state_builder import build_state
from agents.tests.conftest import DELIVERY
from knowledge.models import KBDocument
from support.models import Order

SETTINGS = AgentSettings(confidence_threshold=0.55, max_repairs=1, min_similarity=0.45)


def test_triage_node_reads_the_previous_turn_for_a_follow_up() -> None:
    history = [Turn(role="CUSTOMER", body="I need to track order NW-10001")]
    state = build_state("and when does it arrive?", history)
    result = nodes.triage_node(state, default_services())
    assert result["context_text"] == "I need to track order NW-10001\nand when does it arrive?"
    assert result["triage_result"].intent in {"track_order", "delivery_period"}
    alone = nodes.triage_node(
        build_state("I forgot my password, how do I reset it?"), default_services()
    )
    assert alone["context_text"] == "I forgot my password, how do I reset it?"
    assert alone["triage_result"].intent == "recover_password"


def _triaged(text: str, **extra: Any) -> AgentState:
    state = build_state(text, **extra)
    state.update(nodes.triage_node(state, default_services()))  # type: ignore[typeddict-item]
    return state


def test_retrieve_node_finds_evidence_and_facts(
    agent_kb: dict[str, KBDocument], orders: dict[str, Order]
) -> None:
    state = _triaged("how do I cancel order NW-10001", customer_ref="alice")
    result = nodes.retrieve_node(state, default_services())
    assert result["evidence"][0].kb_id == agent_kb["cancel_order/0"].pk
    assert result["kb_covers_it"] is True
    assert result["entities"].order_numbers == ("NW-10001",)
    assert result["facts"].orders[0].delivery_date == DELIVERY.isoformat()
    assert route_after_retrieve({**state, **result}) == "compose"  # type: ignore[typeddict-item]


def test_retrieve_node_marks_out_of_scope_weak(agent_kb: dict[str, KBDocument]) -> None:
    state = _triaged("who won the chess world championship in 1972")
    result = nodes.retrieve_node(state, default_services())
    assert result["kb_covers_it"] is False
    assert result["escalation_reason"] == "retrieval_weak"


def test_compose_node_quotes_and_fills(agent_kb: dict[str, KBDocument]) -> None:
    services = default_services()
    state = _triaged("how do I cancel my purchase")
    state.update(nodes.retrieve_node(state, services))  # type: ignore[typeddict-item]
    result = nodes.compose_node(state, services)
    drafted = result["drafted_answer"]
    assert drafted.citations[0]["kb_id"] == agent_kb["cancel_order/0"].pk
    assert "{{" not in drafted.answer and drafted.answer.endswith("[1]")
    assert result["tokens"] == 0 and drafted.model == "extractive"


def _decided(**overrides: Any) -> AgentState:
    base: dict[str, Any] = {
        "signals": MessageSignals(False, (), False),
        "guard_result": GuardResult(),
        "drafted_answer": DraftedAnswer("ok", [], 0.9, "m", "v"),
        "repairs": 0,
    }
    return base | overrides  # type: ignore[return-value]


def test_decide_table() -> None:
    ungrounded = GuardResult((GuardIssue("grounded", "unsupported_sentence"),))
    refund = GuardResult((GuardIssue("policy", "refund_promise"),))
    cases = [
        (_decided(), ("suggest", "")),
        (
            _decided(signals=MessageSignals(True, (), False)),
            ("escalate", "customer_requested_human"),
        ),
        (_decided(signals=MessageSignals(True, ("legal",), False)), ("escalate", "high_risk")),
        (
            _decided(drafted_answer=DraftedAnswer("", [], 0, "m", "v", invalid="bad")),
            ("escalate", "guard_failed"),
        ),
        (_decided(guard_result=refund), ("escalate", "forbidden_action")),
        (_decided(guard_result=ungrounded), ("repair", "")),
        (_decided(guard_result=ungrounded, repairs=1), ("escalate", "repair_exhausted")),
        (
            _decided(drafted_answer=DraftedAnswer("ok", [], 0.2, "m", "v")),
            ("escalate", "low_confidence"),
        ),
    ]
    for state, expected in cases:
        assert decide(state, SETTINGS) == expected
    assert route_after_decide({"decision": "suggest"}) == "finalize"
    assert route_after_decide({"decision": "repair"}) == "repair"
    assert route_after_decide({"decision": "escalate"}) == "escalate"


def test_repair_node_feeds_back_the_issues() -> None:
    issue = GuardIssue("grounded", "unsupported_sentence", "Free blenders for all.")
    state: AgentState = {"guard_result": GuardResult((issue,)), "repairs": 0, "feedback": []}
    assert nodes.repair_node(state, default_services()) == {
        "feedback": [issue],
        "repairs": 1,
        "trace": ["repair"],
    }


def test_finalize_and_escalate_build_the_outcome(agent_kb: dict[str, KBDocument]) -> None:
    """What the end nodes return; that they, like every node, write nothing is
    test_node_purity.py's."""
    services = default_services()
    state = _triaged("how do I cancel my purchase")
    state.update(
        {
            "entities": Entities(),
            "facts": CustomerFacts(),
            "drafted_answer": DraftedAnswer("ok", [], 0.9, "m", "v"),
            "guard_result": GuardResult(),
            "escalation_reason": "low_confidence",
        }
    )
    final = nodes.finalize_node(state, services)["outcome"]
    escalated = nodes.escalate_node(state, services)["outcome"]
    assert (final.status, final.escalation_reason) == ("SUGGESTED", None)
    assert (escalated.status, escalated.escalation_reason) == ("ESCALATED", "low_confidence")


def test_entities() -> None:
    entities = extract_entities("Order #A12345 and invoice INV-778899, also NW-10002")
    assert entities.order_numbers == ("A12345", "NW-10002")
    assert entities.invoice_numbers == ("INV-778899",)
    assert extract_entities("I ordered something").order_numbers == ()


def test_repair_drops_a_flagged_numbered_step(agent_kb: dict[str, KBDocument]) -> None:
    services = default_services()
    state = _triaged("how do I cancel my purchase")
    state.update(nodes.retrieve_node(state, services))  # type: ignore[typeddict-item]
    first = nodes.compose_node(state, services)["drafted_answer"].answer
    step = next(line for line in first.splitlines() if line.startswith("2. "))
    # The guard quotes the line as it saw it, list marker included.
    issue = GuardIssue("grounded", "unsupported_sentence", step[:160])
    repaired = nodes.compose_node({**state, "feedback": [issue]}, services)["drafted_answer"].answer
    assert step[3:] not in repaired
    assert len(repaired.splitlines()) == len(first.splitlines()) - 1
