"""retrieve: everything a draft may state: KB evidence for the message in context, the customer
facts it names, and the business profile."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from django.utils import timezone

from agents.documents import with_document_numbers
from agents.entities import extract_entities
from agents.memory import (
    FACTS_ANSWER_CONFIDENCE,
    answered_by_facts,
    relevant,
    unchecked_promise,
)
from agents.nodes.decide import message_reason
from agents.scoring import best_article, contested, learned_first, retrieval_confidence
from agents.services import Services
from agents.state import AgentState, customer_turns
from agents.triage.service import Triage
from knowledge.languages import DEFAULT_LANGUAGE, answer_language
from knowledge.search import SearchHit
from support.memory import EarlierConversation
from support.vocabulary import EscalationReason, MessageKind


def is_weak(evidence: list[SearchHit], min_similarity: float) -> bool:
    """Nothing customer-facing close enough to the question: out of scope for the KB."""
    top = best_article(evidence)
    return top is None or top.similarity < min_similarity


# Triage must be this sure of an intent before its articles are preferred in the search.
INTENT_BOOST_MIN = 0.8
# A message in another language than the KB's default has no intent classifier to agree with
# the article, and the embedding model (English MiniLM) finds every article of one language
# fairly close to any message in it: its article must come closer. Chosen on 40 questions
# written apart from the `languages` set (10 per language, 4 on topics its articles cover):
# 13 of 16 covered pass, 9 of 24 others still do (README, "Languages": the limit of an English
# embedding model).
FOREIGN_MIN_SIMILARITY = 0.6
# ... and, for a provider that quotes it, hold at least half of the message's words (stems in
# the language's text-search configuration, stop words out): an English embedding model reads
# "¿Cómo descargo mi factura?" as close to the Spanish tracking article (0.70) though it holds
# none of "descargo", "factura". Half: a round share, chosen after reading the `languages` set's
# figures (README, "Languages": not blind to it; `languages_topics_blind` is the check).
FOREIGN_MIN_WORD_COVERAGE = 0.5


def off_domain(triaged: Triage, min_answerable: float) -> bool:
    """Not a question a store's help centre answers (a problem with another company's service,
    chit-chat), however close some article's words are."""
    return triaged.answerable_probability < min_answerable


def _earlier_cases(
    state: AgentState, order_numbers: list[str], services: Services
) -> list[EarlierConversation]:
    """The verified customer's earlier conversations this message is about (agents/memory.py);
    none for an unverified sender, whatever the state was given."""
    earlier = state.get("earlier", [])
    if not earlier or not state.get("verified", False):
        return []
    # Staleness is measured from when the message came (a replay of an old one sees it so).
    now = state.get("received_at") or timezone.now()
    return relevant(state["message"], earlier, order_numbers, now, services.similarity)


def _intent_from_article(triaged: Triage, evidence: list[SearchHit]) -> Triage:
    """A message in a language the intent classifier was not trained on takes its intent from
    the article that answers it, as sure as that article is close (#31)."""
    top = best_article(evidence)
    if top is None:
        return triaged
    return replace(triaged, intent=top.intent, category=top.category, confidence=top.similarity)


def retrieve_node(state: AgentState, services: Services) -> dict[str, Any]:
    triaged = state["triage_result"]
    # The intent boosts its articles only when triage is fairly sure of it: a question on a
    # topic the intents do not know (one the KB learned from agents) must not be pushed
    # towards the nearest intent's articles.
    intent = triaged.intent if triaged.confidence >= INTENT_BOOST_MIN else None
    # The customer's language (an undetermined one: the KB's default). A provider that quotes
    # rather than translates searches the articles written in it only (#31).
    language = answer_language(triaged.language)
    only_language = not services.drafter.translates
    foreign = language != DEFAULT_LANGUAGE
    evidence = learned_first(
        services.search(state["context_text"], intent, language, only_language)
    )
    min_similarity = services.settings.min_similarity
    if foreign:
        triaged = _intent_from_article(triaged, evidence)
        min_similarity = max(min_similarity, FOREIGN_MIN_SIMILARITY)
    entities = extract_entities(state["message"], *customer_turns(state.get("history", [])))
    entities = with_document_numbers(entities, state)  # the customer's documents' numbers too
    used = _earlier_cases(state, list(entities.order_numbers), services)
    # The earlier case's orders are looked up too: "any news on my replacement?" is answered
    # from its order's facts (only the verified customer's own are shown: lookup_facts).
    numbers = list(dict.fromkeys([*entities.order_numbers, *(o for c in used for o in c.orders)]))
    facts = services.facts(numbers, state.get("customer_ref"))
    checked = [order.number for order in facts.orders]
    unchecked = unchecked_promise(state["message"], used, checked)
    by_facts = answered_by_facts(state["message"], used, checked)
    top = best_article(evidence)
    # An article the KB learned from agents, as close as its own threshold asks (calibrated on
    # its taught questions: knowledge/matching.py), answers the message whatever kind of message
    # the tone model takes it for (it knows the store topics it was trained on, not those the KB
    # learned since).
    # Its own threshold may sit below the global floor (nothing else comes that close to its
    # keys), so a strong match is covered however weak the KB's other articles are; one that
    # another taught topic comes about as close to is a guess between the two: a person answers.
    strong = top is not None and top.learned_match
    between_topics = top is not None and contested(evidence, top)
    covered = not between_topics and (
        strong
        or not (
            is_weak(evidence, min_similarity)
            or off_domain(triaged, services.settings.min_answerable)
        )
    )
    if covered and foreign and only_language and top is not None and not strong:
        coverage = services.word_coverage(top.kb_id, state["message"], language)
        covered = coverage >= FOREIGN_MIN_WORD_COVERAGE
    # No article in the customer's language answers it, and this provider cannot translate one:
    # a person who reads the language answers (the facts' sentences are English too).
    language_gap = only_language and foreign and not covered
    if unchecked:
        # A follow-up on what we promised that no fact confirms: a person looks, case in view.
        covered = False
    elif by_facts and not covered and not language_gap:
        # "Any news on my replacement?": its order's facts answer it; no article would.
        evidence, covered = [], True
    # Most likely thanks, but not thanks to acknowledge (signals.praise: not sure enough, or
    # vetoed: sarcasm, a problem attached), and nothing asked: an article would answer a question
    # nobody asked, so a person replies. Thanks with a question gets the question answered.
    signals = state["signals"]
    thanks = triaged.kind == MessageKind.PRAISE and not signals.question
    return {
        "triage_result": triaged,
        "evidence": evidence,
        "entities": entities,
        "facts": facts,
        "used_earlier": [str(case.id) for case in used],
        "profile": services.profile(),
        "kb_covers_it": covered and not thanks,
        # A language gap has no answer to be right (this provider cannot give one): however
        # close an article in another language came, the escalated draft claims nothing.
        "retrieval_confidence": 0.0
        if language_gap
        else max(
            retrieval_confidence(triaged, evidence), FACTS_ANSWER_CONFIDENCE if by_facts else 0.0
        ),
        # What the message says (a complaint, a request for a person) explains an escalation
        # better than the KB's silence.
        "escalation_reason": message_reason(signals)
        or (EscalationReason.UNCHECKED_PROMISE if unchecked else "")
        or (EscalationReason.LANGUAGE_UNSUPPORTED if language_gap else "")
        or ("" if covered else EscalationReason.RETRIEVAL_WEAK)
        or (EscalationReason.LOW_CONFIDENCE if thanks else ""),
        "trace": ["retrieve"],
    }
