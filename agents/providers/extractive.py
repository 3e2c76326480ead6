"""The default provider: offline and deterministic. It quotes the best customer-facing article,
fills its placeholders, drops what it cannot say (unfillable slots, sentences policy forbids,
specifics nobody gave), states the customer facts it has, opens with empathy when the customer
is upset, and cites [1]."""

from __future__ import annotations

import re
import time

from agents import prompts
from agents.guard.policy import check_policy
from agents.memory import memory_texts, mention
from agents.placeholders import Filler
from agents.providers.base import DraftRequest
from agents.scoring import best_article
from agents.state import DraftedAnswer
from agents.text import sentences
from knowledge.languages import DEFAULT_LANGUAGE
from knowledge.search import SearchHit
from knowledge.specifics import unsupported
from support.vocabulary import Sentiment

_LIST_MARKER = re.compile(r"^\s*(\d{1,2}[.)]|[-*•])\s+")
# An opener counts only if it apologises; "I understand you want to cancel" is not empathy.
_APOLOGY = re.compile(r"\b(sorry|apologi[sz]e|apologies|regret)\b", re.IGNORECASE)
MAX_CHARS = 1500  # agents trim long articles; a chat reply should not be a manual


DETAIL_CHARS = 160  # the guard quotes at most this much of a sentence in an issue


def _flagged(request: DraftRequest) -> set[str]:
    """Sentences the guard flagged last time. It saw the answer's lines with their list markers
    ("1. Go to…"); this provider fills sentences without them, so the markers are removed."""
    return {_LIST_MARKER.sub("", issue.detail, count=1) for issue in request.feedback}


def _was_flagged(sentence: str, flagged: set[str]) -> bool:
    # A detail is the whole sentence or its first DETAIL_CHARS (less a removed list marker).
    return any(
        sentence == detail or (len(detail) >= DETAIL_CHARS - 4 and sentence.startswith(detail))
        for detail in flagged
    )


def allowed_texts(request: DraftRequest) -> list[str]:
    """Where a specific (amount, number, date, name) in a reply may come from."""
    customer = [turn["body"] for turn in request.history if turn["role"] == "CUSTOMER"]
    return [
        request.message,
        *customer,
        *request.facts.sentences(),
        *request.profile.texts(),
        *memory_texts(request.earlier),
    ]


def _keep(sentence: str, request: DraftRequest, flagged: set[str], allowed: list[str]) -> bool:
    # Quote nothing the guard refused or would refuse (a KB timeframe is not this order's date),
    # and no specific the article holds as example text ("a refund of $299").
    return (
        not _was_flagged(sentence, flagged)
        and not check_policy(sentence, request.facts)
        and not unsupported(sentence, allowed)
    )


def _quote(article: SearchHit, request: DraftRequest) -> list[str]:
    """The article's lines with placeholders filled and unusable sentences removed; numbered
    steps are renumbered when one is dropped."""
    filler = Filler(request.profile, request.entities)
    flagged = _flagged(request)
    # A learned article is an agent's own answer to this question, approved as it stands: its
    # amounts ("from £35") are the store's, not a KB article's example text.
    allowed = [*allowed_texts(request), *([article.content] if article.learned else [])]
    lines: list[str] = []
    size, step = 0, 0
    for line in article.content.splitlines():
        marker = _LIST_MARKER.match(line)
        body = line[marker.end() :] if marker else line
        kept = []
        for sentence in sentences(body):
            filled = filler.fill(sentence)
            if filled and _keep(filled, request, flagged, allowed):
                kept.append(filled)
        if not kept or size >= MAX_CHARS:
            continue
        if marker and marker.group(1)[0].isdigit():
            step += 1
            prefix = f"{step}. "
        else:
            step = 0 if not marker else step
            prefix = "- " if marker else ""
        lines.append(prefix + " ".join(kept))
        size += len(lines[-1])
    return lines


def _suggested_action(evidence: list[SearchHit]) -> str:
    policy = next((item for item in evidence if not item.customer_facing), None)
    return f"Follow the policy “{policy.title}” (KB {policy.kb_id})" if policy else ""


# A reply about order moves says what the catalogue's check decided, in fixed wording: as sure
# as a well-matched article, whatever the KB search found (a human still approves the move).
ACTIONS_CONFIDENCE = 0.9


def _confidence(request: DraftRequest, quoted: list[str]) -> float:
    if request.actions:
        return max(request.retrieval_confidence, ACTIONS_CONFIDENCE)
    # A follow-up answered from its earlier case's order facts quotes no article.
    if quoted or (request.earlier and request.facts.orders):
        return request.retrieval_confidence
    return 0.0


def _same_language(request: DraftRequest) -> list[SearchHit]:
    """The articles it may quote: those in the customer's language (#31)."""
    return [hit for hit in request.evidence if hit.language == request.language]


class ExtractiveProvider:
    name = "extractive"
    translates = False  # it quotes: only articles in the customer's language

    def draft(self, request: DraftRequest) -> DraftedAnswer:
        started = time.perf_counter()
        # An order move the system makes (or cannot) is stated by its own sentence: an article's
        # steps would tell the customer to do it themselves.
        article = None if request.actions else best_article(_same_language(request))
        quoted = _quote(article, request) if article else []
        if request.language != DEFAULT_LANGUAGE:
            # Its own sentences (facts, openers, mentions of earlier cases) are English: to a
            # customer writing in another language it says only what the article says.
            return self._quoted_only(request, quoted, article, started)
        lines = request.facts.sentences() or ([prompts.ACTION_ACK] if request.actions else [])
        if quoted and article is not None:
            quoted[-1] += " [1]"
            lines += quoted
        if lines and request.earlier:
            # The reply says which earlier case it answers about ("About your message of ...").
            lines.insert(0, mention(request.earlier[0]))
        upset = request.triage.sentiment == Sentiment.NEGATIVE
        if lines and upset and not _APOLOGY.search(" ".join(lines[:2])):
            lines.insert(0, prompts.EMPATHY_OPENER)
        return DraftedAnswer(
            answer="\n".join(lines),
            citations=[article.citation()] if quoted and article else [],
            confidence=_confidence(request, quoted),
            model=self.name,
            prompt_version=prompts.EXTRACTIVE_VERSION,
            latency_ms=round((time.perf_counter() - started) * 1000),
            suggested_action=_suggested_action(request.evidence),
        )

    def _quoted_only(
        self,
        request: DraftRequest,
        quoted: list[str],
        article: SearchHit | None,
        started: float,
    ) -> DraftedAnswer:
        if quoted:
            quoted[-1] += " [1]"
        return DraftedAnswer(
            answer="\n".join(quoted),
            citations=[article.citation()] if quoted and article else [],
            confidence=request.retrieval_confidence if quoted else 0.0,
            model=self.name,
            prompt_version=prompts.EXTRACTIVE_VERSION,
            latency_ms=round((time.perf_counter() - started) * 1000),
            suggested_action=_suggested_action(request.evidence),
        )
