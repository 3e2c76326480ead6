"""The guard: judges a proposal before anyone sees it. Three checks (grounded, tone, policy),
each a list of issues; a proposal passes when there are none. Grounded includes the specifics
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
from agents.state import Evidence, GuardIssue, GuardResult, Proposal

__all__ = ["FORBIDDEN", "check_proposal", "is_forbidden"]


def check_proposal(
    proposal: Proposal,
    evidence: Sequence[Evidence],
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
    if proposal.invalid:
        return GuardResult((GuardIssue("grounded", "invalid_output", proposal.invalid),), flags)
    issues = [
        *check_grounded(proposal, evidence, facts, profile_values),
        *check_specifics(proposal.answer, [*customer_texts, *facts.sentences(), *profile_values]),
        *check_tone(proposal.answer, sentiment),
        *check_policy(proposal.answer, facts),
        *check_learned(proposal.answer, learned_rules),
    ]
    return GuardResult(tuple(issues), flags)


def is_forbidden(result: GuardResult) -> bool:
    return any(issue.code in FORBIDDEN for issue in result.issues)
