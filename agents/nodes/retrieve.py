"""retrieve: everything a draft may state: KB evidence for the message in context, the customer
facts it names, and the business profile."""

from __future__ import annotations

from typing import Any

from agents.entities import extract_entities
from agents.nodes.decide import message_reason
from agents.scoring import best_article, retrieval_confidence
from agents.services import Services
from agents.state import AgentState, Evidence, customer_turns
from agents.triage.service import Triage
from support.models import EscalationReason


def is_weak(evidence: list[Evidence], min_similarity: float) -> bool:
    """Nothing customer-facing close enough to the question: out of scope for the KB."""
    top = best_article(evidence)
    return top is None or top.similarity < min_similarity


def off_domain(triaged: Triage, min_answerable: float) -> bool:
    """Not a question a store's help centre answers (a problem with another company's service,
    chit-chat), however close some article's words are."""
    return triaged.answerable_probability < min_answerable


def retrieve_node(state: AgentState, services: Services) -> dict[str, Any]:
    triaged = state["triage_result"]
    evidence = services.search(state["context_text"], triaged.intent)
    entities = extract_entities(state["message"], *customer_turns(state.get("history", [])))
    covered = not (
        is_weak(evidence, services.settings.min_similarity)
        or off_domain(triaged, services.settings.min_answerable)
    )
    # Most likely thanks, but not surely enough to acknowledge (signals.praise): an article
    # would answer a question nobody asked, so a person replies.
    thanks = triaged.kind == "praise" and "?" not in state["message"]
    return {
        "evidence": evidence,
        "entities": entities,
        "facts": services.facts(list(entities.order_numbers), state.get("customer_ref")),
        "profile": services.profile(),
        "kb_covers_it": covered and not thanks,
        "retrieval_confidence": retrieval_confidence(triaged, evidence),
        # What the message says (a complaint, a request for a person) explains an escalation
        # better than the KB's silence.
        "escalation_reason": message_reason(state["signals"])
        or ("" if covered else EscalationReason.RETRIEVAL_WEAK)
        or (EscalationReason.LOW_CONFIDENCE if thanks else ""),
        "trace": ["retrieve"],
    }
