"""The one interface every draft provider implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agents.entities import Entities
from agents.facts import CustomerFacts
from agents.profile import Profile
from agents.state import DraftedAnswer, GuardIssue, Turn
from agents.triage.service import Triage
from knowledge.languages import DEFAULT_LANGUAGE
from knowledge.search import SearchHit
from support.memory import EarlierConversation


@dataclass(frozen=True)
class DraftRequest:
    message: str
    history: list[Turn]
    triage: Triage
    evidence: list[SearchHit]
    facts: CustomerFacts
    entities: Entities
    profile: Profile
    retrieval_confidence: float
    feedback: tuple[GuardIssue, ...] = ()  # the guard's issues with the previous attempt
    # The verified customer's earlier conversations this message is about (agents/memory.py).
    earlier: tuple[EarlierConversation, ...] = ()
    # What the reply will say about the customer's order moves (issue #27): the proposed ones'
    # confirmations and the refused ones' explanations, added after the guard by finalize. A
    # provider writes around them: no how-to steps for what is being done for the customer.
    actions: tuple[str, ...] = ()
    # The language to answer in (#31): the message's, or the KB's default when undetermined
    # (knowledge/languages.py:answer_language).
    language: str = DEFAULT_LANGUAGE.value


class DraftProvider(Protocol):
    name: str
    # Whether it can answer in one language from articles in another (an LLM translates; the
    # extractive provider quotes, so it answers only from articles in the customer's language).
    translates: bool

    def draft(self, request: DraftRequest) -> DraftedAnswer: ...
