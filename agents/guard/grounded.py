"""Grounded: every factual sentence is backed by a cited article or a customer fact, and every
citation points at an article that retrieval actually returned."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from agents.facts import CustomerFacts
from agents.state import DraftedAnswer, GuardIssue
from agents.text import (
    cited_numbers,
    content_stems,
    sentences,
    straight_apostrophes,
    strip_citations,
)
from knowledge.search import SearchHit
from knowledge.specifics import unsupported

# Share of a sentence's content words that must appear in its sources. Paraphrase keeps most
# content words; an invented claim (a price, a policy, a product) brings new ones.
MIN_SUPPORT = 0.6
MIN_FACTUAL_WORDS = 3  # shorter sentences ("Thanks for reaching out.") state no fact
_COURTESY = re.compile(
    r"^(i'?m sorry|i am sorry|we'?re sorry|sorry|i apologi[sz]e|i understand|i can understand|"
    r"thank you|thanks|let me know|feel free|if you have any (other|further|more)|"
    r"have a (great|good|nice)|hello|hi\b|dear\b|best regards|kind regards|i hope)",
    re.IGNORECASE,
)
# Where a courtesy opener's clause ends ("I'm sorry, but ...", "Hi Dana, ...", "Thanks for
# waiting: ..."), and the joining word after it.
_CLAUSE_BREAK = re.compile(r"[,;:\u2013\u2014]\s*(?:(?:but|and|so|however)\b)?|\s-\s")


def _said(sentence: str) -> str:
    """What a sentence says besides its courtesy openers: "I'm sorry, but we do not accept
    returns" states a policy to check; "I'm sorry for the trouble" states nothing ("")."""
    while _COURTESY.match(sentence):
        opener_end = _CLAUSE_BREAK.search(sentence)
        if opener_end is None:
            return ""  # courtesy alone
        sentence = sentence[opener_end.end() :].lstrip()
    return sentence


def _sources(
    drafted: DraftedAnswer,
    evidence: Sequence[SearchHit],
    facts: CustomerFacts,
    extra: Sequence[str],
) -> set[str]:
    by_id = {item.kb_id: item for item in evidence}
    texts = [by_id[c["kb_id"]].content for c in drafted.citations if c.get("kb_id") in by_id]
    return content_stems(" ".join([*texts, *facts.sentences(), *extra]))


def _citation_issues(drafted: DraftedAnswer, evidence: Sequence[SearchHit]) -> Iterator[GuardIssue]:
    known = {item.kb_id for item in evidence}
    for citation in drafted.citations:
        if citation.get("kb_id") not in known:
            yield GuardIssue("grounded", "citation_not_retrieved", str(citation.get("kb_id")))
    for number in sorted(set(cited_numbers(drafted.answer))):
        if not 1 <= number <= len(drafted.citations):
            yield GuardIssue("grounded", "citation_out_of_range", f"[{number}]")


def check_grounded(
    drafted: DraftedAnswer,
    evidence: Sequence[SearchHit],
    facts: CustomerFacts,
    profile_values: Sequence[str] = (),
) -> list[GuardIssue]:
    if not drafted.answer.strip():
        return [GuardIssue("grounded", "empty_answer")]
    issues = list(_citation_issues(drafted, evidence))
    sources = _sources(drafted, evidence, facts, profile_values)
    for sentence in sentences(strip_citations(drafted.answer)):
        words = content_stems(_said(straight_apostrophes(sentence)))
        if len(words) < MIN_FACTUAL_WORDS:
            continue
        support = len(words & sources) / len(words)
        if support < MIN_SUPPORT:
            issues.append(GuardIssue("grounded", "unsupported_sentence", sentence[:160]))
    return issues


def check_specifics(answer: str, allowed: Sequence[str]) -> list[GuardIssue]:
    """Amounts, numbers, dates and names the answer states that nobody gave (example text of a
    KB article, or invented): `allowed` is the customer's words, the facts, the profile."""
    return [
        GuardIssue("grounded", "unsupported_specific", specific)
        for specific in unsupported(strip_citations(answer), allowed)
    ]
