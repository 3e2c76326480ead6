"""Policy rules learned from agents' rejections (knowledge.GuardRule), once an admin enabled
them: a draft sentence a rule matches escalates like any forbidden promise."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from agents.fingerprinted import Fingerprinted
from agents.state import GuardIssue
from agents.text import sentences
from knowledge.rule_patterns import PATTERN_ERRORS, search

CODE = "learned_rule"
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LearnedRule:
    rule_id: int
    pattern: Any  # compiled by knowledge/rule_patterns.py (the `regex` module)


def load_guard_rules() -> tuple[LearnedRule, ...]:
    """The enabled rules (read once per run: an admin's switch applies to the next draft), from
    a per-process copy while the enabled rules are unchanged (agents/fingerprinted.py)."""
    return _RULES.get()


def _rules_fingerprint() -> str:
    from knowledge.models import GuardRule

    return (
        "SELECT md5(string_agg(r.id::text || ':' || r.pattern, E'\\n' ORDER BY r.id)) "
        f"FROM {GuardRule._meta.db_table} r WHERE r.enabled"
    )


def _stored_rules() -> tuple[LearnedRule, ...]:
    from knowledge.models import GuardRule

    rules = []
    for rule in GuardRule.objects.enabled():
        try:
            rules.append(LearnedRule(rule.pk, rule.compiled()))
        except PATTERN_ERRORS:
            continue  # stored through a check that compiles it; a hand-edited row may not
    return tuple(rules)


_RULES = Fingerprinted(_rules_fingerprint, _stored_rules)


def _issues(sentence: str, rules: Sequence[LearnedRule]) -> Iterator[GuardIssue]:
    for rule in rules:
        try:
            found = search(rule.pattern, sentence)
        except TimeoutError:
            # Cannot tell in time: a person reads the draft (fail safe), and the log names the
            # rule to fix or switch off.
            logger.warning(
                "guard rule %s took too long on a sentence: fix or disable it", rule.rule_id
            )
            yield GuardIssue("policy", CODE, f"rule {rule.rule_id} took too long to check")
            continue
        if found:
            yield GuardIssue("policy", CODE, f"rule {rule.rule_id}: {sentence[:160]}")


def check_learned(answer: str, rules: Sequence[LearnedRule]) -> list[GuardIssue]:
    if not rules:
        return []
    return [issue for s in sentences(answer) for issue in _issues(s, rules)]
