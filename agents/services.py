"""Everything a graph run reads outside pure logic: triage model, KB search, customer facts, the
draft provider, the business profile and the learned guard rules. Read-only: a run writes nothing
(agents/runner.py records its outcome). build_graph() receives one Services; tests swap the
provider for one around a fake chat model and keep the rest real."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from agents.actions import CustomerOrders, check_for_customer
from agents.actions import customer_orders as action_orders
from agents.facts import CustomerFacts, customer_orders, lookup_facts
from agents.guard.learned import LearnedRule, load_guard_rules
from agents.memory import Similarity, embedding_similarity
from agents.profile import Profile, load_profile
from agents.providers.base import DraftProvider
from agents.triage.service import Triage, triage_text
from knowledge.embeddings import embed_cached_queries
from knowledge.search import LEARNED_NEIGHBOURS, SearchHit, word_coverage
from support.models import Customer

EVIDENCE_LIMIT = 5


@dataclass(frozen=True)
class AgentSettings:
    confidence_threshold: float
    max_repairs: int
    min_similarity: float  # below it, nothing in the KB covers the message (retrieval_weak)
    # Below this P(store question), the message is not one a store's KB answers (retrieval_weak).
    min_answerable: float = 0.0
    praise_reply: str = "acknowledge"  # "acknowledge" | "none" (PRAISE_REPLY)

    @classmethod
    def from_django(cls) -> AgentSettings:
        return cls(
            confidence_threshold=settings.CONFIDENCE_THRESHOLD,
            max_repairs=settings.MAX_REPAIRS,
            min_similarity=settings.RETRIEVAL_MIN_SIMILARITY,
            min_answerable=settings.ANSWERABLE_MIN_PROBABILITY,
            praise_reply=settings.PRAISE_REPLY,
        )


def search_evidence(
    query: str, intent: str | None, language: str | None = None, only_language: bool = False
) -> list[SearchHit]:
    """The KB's best articles for `query`: those in `language` preferred (its full-text
    configuration), or the only ones searched with `only_language` (a provider that does not
    translate, #31)."""
    from knowledge.models import KBDocument

    documents = KBDocument.objects.all()
    if only_language and language:
        documents = documents.in_language(language)
    # The learned articles nearest by their keys too: the graph matches them by those
    # (agents/scoring.py: learned_first, contested), wherever the fusion ranked them.
    return documents.hybrid_search(
        query, EVIDENCE_LIMIT, intent=intent, language=language, learned=LEARNED_NEIGHBOURS
    )


@dataclass
class Services:
    drafter: DraftProvider
    settings: AgentSettings
    triage: Callable[..., Triage] = triage_text  # (text, tone_text=None)
    # The message's texts embedded in one encoder pass, before triage and the KB search read
    # them one by one from the query cache (knowledge/embeddings.py).
    embed: Callable[[Sequence[str]], object] = embed_cached_queries
    search: Callable[..., list[SearchHit]] = search_evidence  # (query, intent, language, only)
    # The share of a message's words an article holds (document id, text, language).
    word_coverage: Callable[[int, str, str | None], float] = word_coverage
    facts: Callable[[list[str], str | None], CustomerFacts] = lookup_facts
    profile: Callable[[], Profile] = load_profile
    guard_rules: Callable[[], tuple[LearnedRule, ...]] = load_guard_rules
    customer_orders: Callable[[str], tuple[tuple[str, str], ...]] = customer_orders
    # How close a message is to each earlier conversation's summary (agents/memory.py).
    similarity: Similarity = embedding_similarity
    # Actions (issue #27): the verified customer and their order rows, and the catalogue's
    # policy check of a move for that customer now (support.actions.catalogue.check_action;
    # [] = allowed).
    action_orders: Callable[[str], CustomerOrders] = action_orders
    check_action: Callable[[str, dict[str, Any], Customer | None], list[str]] = check_for_customer


def configured_provider() -> DraftProvider:
    """The provider LLM_PROVIDER names."""
    from agents.providers.extractive import ExtractiveProvider

    if settings.LLM_PROVIDER == "extractive":
        return ExtractiveProvider()
    from agents.llm import chat_model
    from agents.providers.chat import ChatProvider

    return ChatProvider(
        chat_model(),
        settings.LLM_PROVIDER,
        settings.LLM_COST_PER_1K_TOKENS,
        redact_names=settings.REDACT_PERSON_NAMES,
    )


def default_services(**overrides: Any) -> Services:
    # Not setdefault: that would build the configured provider (an LLM client, a GGUF file)
    # even when the caller passes its own.
    if "drafter" not in overrides:
        overrides["drafter"] = configured_provider()
    if "settings" not in overrides:
        overrides["settings"] = AgentSettings.from_django()
    return Services(**overrides)
