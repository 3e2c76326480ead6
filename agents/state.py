"""The graph's typed state. Rows in Postgres stay the source of truth: the state is built from
them for one run; the graph returns a support.outcome.DraftOutcome and writes nothing (the runner
records it through support.agent_runs.record_outcome)."""

from __future__ import annotations

import operator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, TypedDict

from agents.entities import Entities
from agents.facts import CustomerFacts
from agents.message_signals import MessageSignals
from agents.profile import Profile
from agents.triage.service import Triage
from knowledge.search import SearchHit
from support.documents import DocumentFacts
from support.memory import EarlierConversation
from support.outcome import DraftOutcome
from support.vocabulary import GUARD_CHECKS, GuardCheck

Decision = Literal["suggest", "repair", "escalate"]


class Turn(TypedDict):
    role: str  # CUSTOMER | AGENT | SYSTEM
    body: str


def customer_turns(history: list[Turn]) -> list[str]:
    """What the customer said earlier, latest first."""
    return [turn["body"] for turn in reversed(history) if turn["role"] == "CUSTOMER"]


@dataclass(frozen=True)
class DraftedAnswer:
    """A provider's draft reply."""

    answer: str
    citations: list[dict[str, Any]]
    confidence: float
    model: str
    prompt_version: str
    tokens: int = 0
    cost: float = 0.0
    latency_ms: int = 0
    suggested_action: str = ""
    invalid: str = ""  # why the provider's output was unusable ("" = usable)


@dataclass(frozen=True)
class GuardIssue:
    check: GuardCheck
    code: str
    detail: str = ""

    def __str__(self) -> str:
        return (
            f"{self.check}/{self.code}: {self.detail}"
            if self.detail
            else f"{self.check}/{self.code}"
        )


@dataclass(frozen=True)
class GuardResult:
    issues: tuple[GuardIssue, ...] = ()
    flags: tuple[str, ...] = ()  # noted for the reviewer, not failures (e.g. prompt injection)

    def passed(self, check: str) -> bool:
        return not any(issue.check == check for issue in self.issues)

    @property
    def ok(self) -> bool:
        return not self.issues

    def as_dict(self) -> dict[str, Any]:
        return {
            **{check: self.passed(check) for check in GUARD_CHECKS},
            "reasons": [str(issue) for issue in self.issues] + [f"flag/{f}" for f in self.flags],
        }


class AgentState(TypedDict, total=False):
    # Input.
    message: str
    history: list[Turn]  # earlier turns of the conversation, oldest first
    customer_ref: str | None  # None = operator run (CLI): facts of any order may be shown
    verified: bool  # the message's own sender is verified (support.vocabulary.Verification)
    earlier: list[EarlierConversation]  # the verified customer's earlier conversations
    documents: list[DocumentFacts]  # the message's attachments, as read (the sender's claim)
    received_at: datetime | None  # when the stored message came (memory's staleness); None: now
    # Triage.
    clean_message: str  # the message without prompt-injection sentences
    context_text: str  # the message, with the previous customer turn when it is a follow-up
    triage_result: Triage
    signals: MessageSignals
    # Retrieval.
    entities: Entities
    facts: CustomerFacts
    profile: Profile  # the business profile, read once per run
    evidence: list[SearchHit]  # what the KB search found, best first
    kb_covers_it: bool  # False: nothing close enough in the KB (escalated retrieval_weak)
    used_earlier: list[str]  # ids of the earlier conversations the draft drew on
    missing: list[str]  # facts the message lacks for its intent (support.vocabulary.MissingFact)
    # The act node (issue #27): moves checked and allowed, [{"name", "arguments",
    # "confirmation", "fallback"}], and those the policy refused, [{"name", "arguments",
    # "problems", "reply"}] (the reply's sentence saying so and what can be done instead).
    proposed_actions: list[dict[str, Any]]
    refused_actions: list[dict[str, Any]]
    # Drafting loop.
    drafted_answer: DraftedAnswer
    retrieval_confidence: float
    guard_result: GuardResult
    feedback: list[GuardIssue]
    repairs: int
    decision: Decision
    escalation_reason: str
    started: float  # time.perf_counter() when the run began
    tokens: Annotated[int, operator.add]  # summed over drafting attempts
    cost: Annotated[float, operator.add]
    outcome: DraftOutcome
    trace: Annotated[list[str], operator.add]  # node names, in the order they ran


def used_cases(state: AgentState) -> list[EarlierConversation]:
    """The earlier conversations the run decided to draw on (`used_earlier`), in that order."""
    by_id = {str(case.id): case for case in state.get("earlier", [])}
    return [by_id[i] for i in state.get("used_earlier", []) if i in by_id]
