"""The one interface every draft provider implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from agents.entities import Entities
from agents.facts import CustomerFacts
from agents.profile import Profile
from agents.state import DraftedAnswer, GuardIssue, Turn
from agents.triage.service import Triage
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


class DraftProvider(Protocol):
    name: str

    def draft(self, request: DraftRequest) -> DraftedAnswer: ...
