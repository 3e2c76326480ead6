"""guard_rule proposals: drafts agents rejected for policy suggest a pattern for the policy
guard: the longest phrase of the draft that other policy-rejected drafts share and no sent draft
contains. The review page shows the past drafts it would have stopped; approved, the rule is
stored off, and an admin turns it on (audited)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from knowledge.models import GuardRule, Proposal, ProposalKind
from knowledge.rule_patterns import PATTERN_ERRORS, compile_rule, search
from knowledge.specifics import generalise
from resolver.audit_actor import Actor
from support.learning.sources import add_source, lock_kind
from support.models import AuditAction, AuditLog, Draft, DraftStatus, RejectCategory
from support.review import ReviewError

# Phrases of this many words are candidates: shorter ones stop too much, longer ones too little.
PHRASE_WORDS = (6, 5, 4, 3)
# Past drafts a candidate is checked against (newest first).
HISTORY = 2000
# A phrase made only of these says nothing about policy.
_FILLER = frozenset(
    {
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "from",
        "has",
        "have",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "this",
        "to",
        "was",
        "we",
        "will",
        "with",
        "you",
        "your",
    }
)
_WORD = re.compile(r"[a-z0-9']+")


def phrase_pattern(words: tuple[str, ...]) -> str:
    """A case-insensitive pattern for the words in order, any spacing or punctuation between."""
    return r"\b" + r"\W+".join(re.escape(w) for w in words) + r"\b"


# Split points of a draft's text: a placeholder of generalise() ("[e-mail]", "[number]") or a
# token with a digit in it. A phrase never spans one, so no rule carries a customer's data.
# A token is matched from its start (after a space, the text's start or a placeholder's "]"):
# from every position inside a long token without a digit, `\S*\d` re-read the rest of it.
_PRIVATE = re.compile(r"\[[^\][]*\]|(?<![^\s\]])\S*\d\S*")


def _phrases(text: str) -> list[tuple[str, ...]]:
    """Candidate phrases of a (generalised) text, longest first, none holding personal data."""
    found: list[tuple[str, ...]] = []
    segments = [_WORD.findall(part) for part in _PRIVATE.split(generalise(text).lower())]
    for n in PHRASE_WORDS:
        for words in segments:
            for i in range(len(words) - n + 1):
                phrase = tuple(words[i : i + n])
                if not set(phrase) <= _FILLER and phrase not in found:
                    found.append(phrase)
    return found


def _policy_rejected() -> list[str]:
    drafts = Draft.objects.filter(
        status=DraftStatus.REJECTED, reject_category=RejectCategory.POLICY
    ).order_by("-reviewed_at")
    return list(drafts.values_list("answer", flat=True)[:HISTORY])


def _sent() -> list[str]:
    drafts = Draft.objects.filter(status=DraftStatus.SENT).order_by("-reviewed_at")
    return list(drafts.values_list("sent_text", flat=True)[:HISTORY])


def _words(text: str) -> str:
    """The text as its words between spaces: " a b c " contains " b c " exactly where
    phrase_pattern(("b", "c")) matches it."""
    return f" {' '.join(_WORD.findall(text.lower()))} "


def candidate_pattern(answer: str) -> str | None:
    """The phrase of `answer` shared by the most policy-rejected drafts, found in no sent one,
    with the most words that carry meaning and none of the others at its ends; None when every
    phrase also occurs in what agents send."""
    rejected = [_words(t) for t in _policy_rejected()]
    sent = [_words(t) for t in _sent()]
    best: tuple[int, int, int, int] | None = None
    chosen: tuple[str, ...] = ()
    for phrase in _phrases(answer):
        needle = f" {' '.join(phrase)} "
        if any(needle in text for text in sent):
            continue
        meaningful = len(set(phrase) - _FILLER)
        loose_ends = (phrase[0] in _FILLER) + (phrase[-1] in _FILLER)
        score = (
            sum(1 for text in rejected if needle in text),
            meaningful,
            -loose_ends,  # "waive the fee", not "we waive the fee on"
            len(phrase),
        )
        if best is None or score > best:
            best, chosen = score, phrase
    return phrase_pattern(chosen) if chosen else None


# Not a pattern, or too slow to tell: a draft it cannot be said to match.
UNUSABLE: tuple[type[Exception], ...] = (*PATTERN_ERRORS, TimeoutError)


def _matches(pattern: str, text: str) -> bool:
    try:
        return search(compile_rule(pattern), text)
    except UNUSABLE:
        return False


def _sources_matching(proposal: Proposal, pattern: str) -> bool:
    """The pattern stops a draft the proposal came from."""
    ids = [s.get("draft_id") for s in proposal.sources if s.get("draft_id")]
    answers = Draft.objects.filter(pk__in=ids).values_list("answer", flat=True)
    return any(_matches(pattern, answer) for answer in answers)


def _title(pattern: str, answer: str) -> str:
    match = re.search(pattern, generalise(answer), re.IGNORECASE)
    return f"Stop drafts that say “{match.group(0) if match else pattern}”"[:300]


def observe_policy_rejection(draft: Draft) -> Proposal | None:
    """A draft rejected for policy: one more source of the open rule that stops it; else a
    candidate rule, which replaces the pattern of an open proposal whose drafts it also stops
    (the evidence of two rejections finds the phrase they share), or starts a new one."""
    if draft.status != DraftStatus.REJECTED or draft.reject_category != RejectCategory.POLICY:
        return None
    source = {"conversation_id": str(draft.conversation_id), "draft_id": str(draft.pk)}
    note = generalise(draft.reject_reason)[:500]
    with transaction.atomic():
        lock_kind(ProposalKind.GUARD_RULE)
        candidates = list(
            Proposal.objects.open().filter(kind=ProposalKind.GUARD_RULE).select_for_update()
        )
        for proposal in candidates:
            if _matches(proposal.answer, draft.answer):
                if add_source(proposal, source, note=note):
                    proposal.save()
                return proposal
        pattern = candidate_pattern(draft.answer)
        if pattern is None:
            return None
        for proposal in candidates:
            if _sources_matching(proposal, pattern):
                proposal.answer = pattern
                proposal.title = _title(pattern, draft.answer)
                add_source(proposal, source, note=note)
                proposal.save()
                return proposal
        return Proposal.objects.create(
            kind=ProposalKind.GUARD_RULE,
            title=_title(pattern, draft.answer),
            question=generalise(draft.answer)[:2000],
            answer=pattern,
            intent=draft.intent,
            category=draft.category,
            sources=[source],
            notes=[note] if note else [],
        )


@dataclass(frozen=True)
class WouldStop:
    """What a pattern would have stopped among past drafts."""

    rejected: list[Draft]  # rejected for policy: what it should stop
    sent: list[Draft]  # sent to customers: what it would stop wrongly


def recent_drafts() -> list[Draft]:
    """The drafts patterns are checked against (load once per page)."""
    fields = ("id", "conversation_id", "answer", "status", "reject_category", "created_at")
    return list(Draft.objects.exclude(answer="").order_by("-created_at").only(*fields)[:HISTORY])


def would_stop(pattern: str, recent: list[Draft] | None = None, limit: int = 5) -> WouldStop:
    compiled = compile_pattern(pattern)
    try:
        hits = [
            d
            for d in (recent if recent is not None else recent_drafts())
            if search(compiled, d.answer)
        ]
    except TimeoutError:
        raise ReviewError(TOO_SLOW) from None
    policy = [d for d in hits if d.reject_category == RejectCategory.POLICY]
    sent = [d for d in hits if d.status == DraftStatus.SENT]
    return WouldStop(policy[:limit], sent[:limit])


# Texts on which a pattern with nested repeats backtracks without end ("(a|a)+$", "(\w+\s?)+$"
# followed by what does not match): a rule slow on them is refused before it guards anything.
PROBES = ("a" * 64 + "!", "word " * 40 + "!", "1" * 64 + "x", "." * 64 + "\n")
TOO_SLOW = (
    "the pattern takes too long on some text (it backtracks without end): write it without "
    "repeats inside repeats"
)


def compile_pattern(pattern: str) -> Any:
    """The pattern as the guard will use it (knowledge/rule_patterns.py), or ReviewError when it
    is no usable rule: not a pattern, matching empty text, or too slow on the probes."""
    try:
        compiled = compile_rule(pattern)
    except PATTERN_ERRORS as exc:
        # OverflowError: a repeat count beyond what the engine takes ("x{4294967295}").
        raise ReviewError(f"the pattern is not a valid regular expression: {exc}") from None
    try:
        if search(compiled, "") or search(compiled, " "):
            raise ReviewError("the pattern matches empty text: it would stop every draft")
        for probe in PROBES:
            search(compiled, probe)
    except TimeoutError:
        raise ReviewError(TOO_SLOW) from None
    return compiled


def store_rule(proposal: Proposal) -> GuardRule:
    """The approved pattern as a rule, off until an admin enables it."""
    pattern = proposal.answer.strip()
    if len(pattern) > 500:
        raise ReviewError("the pattern is longer than 500 characters")
    compile_pattern(pattern)
    return GuardRule.objects.create(pattern=pattern, description=proposal.title, proposal=proposal)


def set_enabled(rule_id: Any, actor: Actor, enabled: bool) -> GuardRule:
    """An admin turns a learned rule on or off (audited)."""
    with transaction.atomic():
        rule = GuardRule.objects.select_for_update().get(pk=rule_id)
        if rule.enabled == enabled:
            return rule
        rule.enabled = enabled
        rule.save(update_fields=["enabled", "updated_at"])
        action = AuditAction.GUARD_RULE_ENABLED if enabled else AuditAction.GUARD_RULE_DISABLED
        AuditLog.objects.record(
            actor,
            action,
            conversation_id=None,
            before={"rule_id": rule.pk, "enabled": not enabled},
            after={"rule_id": rule.pk, "enabled": enabled, "pattern": rule.pattern},
        )
    return rule
