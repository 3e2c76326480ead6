"""retrieve: everything a draft may state: KB evidence for the message in context, the customer
facts it names, and the business profile."""

from __future__ import annotations

from typing import Any

from agents.documents import with_document_numbers
from agents.entities import extract_entities
from agents.nodes.decide import message_reason
from agents.scoring import best_article, retrieval_confidence
from agents.services import Services
from agents.state import AgentState, customer_turns
from agents.triage.service import Triage
from knowledge.search import SearchHit
from support.vocabulary import EscalationReason, MessageKind


def is_weak(evidence: list[SearchHit], min_similarity: float) -> bool:
    """Nothing customer-facing close enough to the question: out of scope for the KB."""
    top = best_article(evidence)
    return top is None or top.similarity < min_similarity


# Triage must be this sure of an intent before its articles are preferred in the search.
INTENT_BOOST_MIN = 0.8
# An article the KB learned from agents this close to the message answers it, whatever kind of
# message the tone model takes it for (it knows the store topics it was trained on, not those
# the KB learned since).
STRONG_MATCH = 0.6


def off_domain(triaged: Triage, min_answerable: float) -> bool:
    """Not a question a store's help centre answers (a problem with another company's service,
    chit-chat), however close some article's words are."""
    return triaged.answerable_probability < min_answerable


def retrieve_node(state: AgentState, services: Services) -> dict[str, Any]:
    triaged = state["triage_result"]
    # The intent boosts its articles only when triage is fairly sure of it: a question on a
    # topic the intents do not know (one the KB learned from agents) must not be pushed
    # towards the nearest intent's articles.
    intent = triaged.intent if triaged.confidence >= INTENT_BOOST_MIN else None
    evidence = services.search(state["context_text"], intent)
    entities = extract_entities(state["message"], *customer_turns(state.get("history", [])))
    entities = with_document_numbers(entities, state)  # the customer's documents' numbers too
    top = best_article(evidence)
    strong = top is not None and top.learned and top.similarity >= STRONG_MATCH
    covered = not (
        is_weak(evidence, services.settings.min_similarity)
        or (off_domain(triaged, services.settings.min_answerable) and not strong)
    )
    # Most likely thanks, but not surely enough to acknowledge (signals.praise): an article
    # would answer a question nobody asked, so a person replies.
    thanks = triaged.kind == MessageKind.PRAISE and "?" not in state["message"]
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
