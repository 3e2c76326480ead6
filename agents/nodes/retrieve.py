"""retrieve: everything a draft may state: KB evidence for the message in context, the customer
facts it names, and the business profile."""

from __future__ import annotations

from typing import Any

from agents.entities import extract_entities
from agents.scoring import best_article, retrieval_confidence
from agents.services import Services
from agents.state import AgentState, Evidence, customer_turns
from support.models import EscalationReason


def is_weak(evidence: list[Evidence], min_similarity: float) -> bool:
    """Nothing customer-facing close enough to the question: out of scope for the KB."""
    top = best_article(evidence)
    return top is None or top.similarity < min_similarity


def retrieve_node(state: AgentState, services: Services) -> dict[str, Any]:
    triaged = state["triage_result"]
    evidence = services.search(state["context_text"], triaged.intent)
    entities = extract_entities(state["message"], *customer_turns(state.get("history", [])))
    weak = is_weak(evidence, services.settings.min_similarity)
    return {
        "evidence": evidence,
        "entities": entities,
        "facts": services.facts(list(entities.order_numbers), state.get("customer_ref")),
        "profile": services.profile(),
        "kb_covers_it": not weak,
        "retrieval_confidence": retrieval_confidence(triaged, evidence),
        "escalation_reason": EscalationReason.RETRIEVAL_WEAK if weak else "",
        "trace": ["retrieve"],
    }
