"""The guard: judges a drafted answer before anyone sees it. Three checks (grounded, tone, policy),
each a list of issues; an answer passes when there are none. Grounded includes the specifics
check: an amount, number, date or name the customer, the facts and the profile do not hold.
Policy includes the rules learned from agents' policy rejections that an admin enabled. Policy
issues in FORBIDDEN are promises or requests no repair should be trusted to fix: they escalate
at once."""

from __future__ import annotations

from collections.abc import Sequence

from agents.facts import CustomerFacts
from agents.guard.grounded import check_grounded, check_specifics
from agents.guard.learned import LearnedRule, check_learned
from agents.guard.policy import FORBIDDEN, check_policy
from agents.guard.tone import check_tone
from agents.message_signals import MessageSignals
from agents.state import DraftedAnswer, GuardIssue, GuardResult
from knowledge.search import SearchHit

__all__ = ["FORBIDDEN", "check_answer", "is_forbidden"]


def check_answer(
    drafted: DraftedAnswer,
    evidence: Sequence[SearchHit],
    facts: CustomerFacts,
    sentiment: str,
    signals: MessageSignals,
    profile_values: Sequence[str] = (),
    customer_texts: Sequence[str] = (),
    learned_rules: Sequence[LearnedRule] = (),
) -> GuardResult:
    """`customer_texts`: what the customer wrote (the message, earlier turns): specifics they
    gave may be repeated. `learned_rules`: the policy rules admins enabled."""
    flags = ("prompt_injection_in_message",) if signals.injection else ()
    if drafted.invalid:
        return GuardResult((GuardIssue("grounded", "invalid_output", drafted.invalid),), flags)
    issues = [
        *check_grounded(drafted, evidence, facts, profile_values),
        *check_specifics(
            drafted.answer,
            [
                *customer_texts,
                *facts.sentences(),
                *profile_values,
                *learned_texts(drafted, evidence),
            ],
        ),
        *check_tone(drafted.answer, sentiment),
        *check_policy(drafted.answer, facts),
        *check_learned(drafted.answer, learned_rules),
    ]
    return GuardResult(tuple(issues), flags)


def learned_texts(drafted: DraftedAnswer, evidence: Sequence[SearchHit]) -> list[str]:
    """The cited learned articles' text: an agent's approved answer, whose specifics (a fee) are
    the store's own, unlike a KB article's example text."""
    cited = {citation.get("kb_id") for citation in drafted.citations}
    return [hit.content for hit in evidence if hit.learned and hit.kb_id in cited]


def is_forbidden(result: GuardResult) -> bool:
    return any(issue.code in FORBIDDEN for issue in result.issues)
