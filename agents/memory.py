"""What the graph does with a verified customer's memory (support/memory.py gives it): which
earlier conversations a message is about, how a reply names one, whether it follows up a
promise we cannot check, and the summary the LLM provider writes when a conversation resolves.

An earlier conversation is the customer's own words and our past replies: a source for
specifics (order numbers, dates), never policy (agents/nodes/guard.py). Pure functions, but
`summarise`, which the summarise actor runs (agents/actors.py)."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from langchain_core.messages import HumanMessage, SystemMessage

from agents import prompts
from agents.providers.chat import storable_text
from agents.text import content_stems
from resolver.redaction import Redactor
from support.memory import SUMMARY_CHARS, EarlierConversation, remembered, summary_of
from support.models import Message, MessageRole

logger = logging.getLogger(__name__)

# A message that leans on an earlier case: "any news on my replacement?", "still nothing",
# "you said". Alone, it points at the customer's latest case.
FOLLOW_UP = re.compile(
    r"\b(any (news|update|word|progress)|an update|update on|updates?\?|news on|still|"
    r"my (replacement|refund|exchange|return|new address|credit|voucher|reship\w*)|"
    r"the (replacement|refund|exchange|credit)|"
    r"as (i|we) (said|mentioned|wrote|discussed)|you (said|promised|told me|wrote|guys said)|"
    r"i was told|(was|were) supposed to|follow(ing)?[- ]up|chasing|(like|as|what) i asked|"
    r"did you (\w+ )?(change|update|send|ship|cancel|refund|process|fix|correct)|"
    r"(haven'?t|hasn'?t|have not|has not|didn'?t|did not|never|not yet) (received|got|gotten|"
    r"arrived|come|seen|heard)|where('s| is) (my|the) (replacement|refund|credit))\b",
    re.IGNORECASE,
)
# Words that only say "before": they point at an earlier case whose topic the message shares.
BACK_REFERENCE = re.compile(
    r"\b(again|last (week|time|month|message)|(few|couple of|two|three|\d+) (days|weeks) ago|"
    r"yesterday|earlier|before|previous(ly)?|other day)\b",
    re.IGNORECASE,
)
# Content words too common in support messages to say two are about the same thing.
_GENERIC = content_stems(
    "order orders item items parcel package hi hello hey thanks please help question issue "
    "problem message email chat today week still again news update"
)
# Older than this, an earlier case is only used when the message names one of its orders.
STALE_DAYS = 45
# Embedding similarity (cosine, normalised vectors) of the message to a case's summary above
# which it is about that case even without a follow-up word or a shared order number.
SIMILAR = 0.72
# ... and the lower bar once the message reads as a follow-up.
SIMILAR_FOLLOW_UP = 0.45
# The raw confidence of a follow-up answered from its earlier case's order facts (facts are
# certain; the question "any news?" is the one they answer).
FACTS_ANSWER_CONFIDENCE = 0.75
# Words of a case that name what it was about (a reply says "replacement for order NW-1").
TOPICS = (
    "replacement",
    "refund",
    "exchange",
    "return",
    "address",
    "cancellation",
    "delivery",
    "tracking",
    "invoice",
    "voucher",
    "credit",
)
_TOPIC_STEMS = {topic: content_stems(topic) for topic in TOPICS}
MAX_USED = 3  # earlier cases one draft draws on

Similarity = Callable[[str, Sequence[str]], list[float]]


def topic(case: EarlierConversation) -> str:
    """What the case was about, in one word a reply can name ("" when none shows)."""
    words = content_stems(" ".join([case.summary, *case.done]))
    return next((t for t, stems in _TOPIC_STEMS.items() if stems & words), "")


def case_date(case: EarlierConversation) -> str:
    """ "3 December": the year only for a case from another year (as people say it)."""
    day = case.started_at.date()
    return f"{day.day} {day:%B}" + (f" {day.year}" if day.year != timezone.localdate().year else "")


def reference(case: EarlierConversation) -> str:
    """How a reply names the case: "your message of 3 December 2026 (replacement for order
    NW-10001)"."""
    about = topic(case)
    orders = ", ".join(case.orders[:2])
    detail = (
        f"{about} for order {orders}"
        if about and orders
        else (f"order {orders}" if orders else about)
    )
    return f"your message of {case_date(case)}" + (f" ({detail})" if detail else "")


def mention(case: EarlierConversation) -> str:
    """The sentence a reply opens with when it draws on the case."""
    return f"About {reference(case)}:"


def memory_texts(cases: Sequence[EarlierConversation]) -> list[str]:
    """What the guard counts as the customer's words for the cases a draft used."""
    return [text for case in cases for text in [*case.texts(), reference(case)]]


def _fresh(case: EarlierConversation, now: datetime) -> bool:
    last = case.last_message_at or case.started_at
    return now - last <= timedelta(days=STALE_DAYS)


def _topic_overlap(message: str, case: EarlierConversation) -> int:
    """Shared words that say what a case is about (a topic word counts twice)."""
    words = content_stems(message) - _GENERIC
    said = content_stems(" ".join([case.summary, *case.done, case.intent.replace("_", " ")]))
    return len(words & said & set().union(*_TOPIC_STEMS.values())) * 2 + len(words & said)


def relevant(
    message: str,
    earlier: Sequence[EarlierConversation],
    order_numbers: Sequence[str],
    now: datetime,
    similarity: Similarity | None = None,
) -> list[EarlierConversation]:
    """The earlier cases the message is about, best first: those sharing an order number it
    names; else, when it names no order of theirs, the fresh ones it follows up ("any news",
    "still", "my replacement") or whose summary it is close to (embedding similarity)."""
    if not earlier:
        return []
    named = {number.upper() for number in order_numbers}
    shared = [case for case in earlier if named & set(case.orders)]
    if shared or named:
        # An order number is the strongest link; a message about another order is a new case.
        return shared[:MAX_USED]
    fresh = [case for case in earlier if _fresh(case, now)]
    if not fresh:
        return []
    follow_up = bool(FOLLOW_UP.search(message))
    back = follow_up or bool(BACK_REFERENCE.search(message))
    overlaps = [_topic_overlap(message, case) for case in fresh]
    if back and max(overlaps):
        # The words say which case: no embedding needed. On a tie, the case where we
        # promised or did something (what a follow-up chases), then the latest.
        ranked = sorted(
            zip(fresh, overlaps, strict=True),
            key=lambda pair: (pair[1], bool(pair[0].done)),
            reverse=True,
        )
        return [ranked[0][0]]
    scores = similarity(message, [c.summary for c in fresh]) if similarity else [0.0] * len(fresh)
    best, score = max(zip(fresh, scores, strict=True), key=lambda pair: pair[1])
    if back and score >= SIMILAR_FOLLOW_UP:
        return [best]
    if follow_up:
        return [fresh[0]]  # "any news?" alone: the latest case
    return [best] if score >= SIMILAR else []


def answered_by_facts(
    message: str, used: Sequence[EarlierConversation], checked_orders: Sequence[str]
) -> bool:
    """A follow-up on an earlier case whose order a customer fact describes: "any news on my
    replacement?" is answered by that order's status, whatever the KB holds."""
    checked = {number.upper() for number in checked_orders}
    return bool(FOLLOW_UP.search(message)) and any(set(c.orders) & checked for c in used)


def unchecked_promise(
    message: str, used: Sequence[EarlierConversation], checked_orders: Sequence[str]
) -> bool:
    """A follow-up on something we promised ("we have sent a replacement") that no customer
    fact can confirm: a person must look, with the case in view."""
    if not used or not FOLLOW_UP.search(message):
        return False
    checked = {number.upper() for number in checked_orders}
    return any(case.done and not (set(case.orders) & checked) for case in used)


SUMMARY_CACHE = 4096  # summary vectors kept per worker process (1.5 kB each)
_SUMMARY_VECTORS: dict[str, Any] = {}
_SUMMARY_LOCK = threading.Lock()  # the worker's threads share the cache


def embedding_similarity(message: str, texts: Sequence[str]) -> list[float]:
    """Cosine similarity of the message to each text (the KB's embedding model, loaded once)."""
    from knowledge.embeddings import embed_documents, embed_query

    # The message was embedded by the KB search (embed_query's cache); a customer's summaries
    # are embedded once per worker process, the new ones in one batch. This call's vectors are
    # its own: adding one to a full cache evicts the oldest, which may be one of `texts`.
    with _SUMMARY_LOCK:
        vectors = {text: _SUMMARY_VECTORS.get(text) for text in dict.fromkeys(texts)}
    missing = [text for text, vector in vectors.items() if vector is None]
    for text, vector in zip(missing, embed_documents(missing), strict=True):
        vectors[text] = vector
        with _SUMMARY_LOCK:
            if len(_SUMMARY_VECTORS) >= SUMMARY_CACHE:
                _SUMMARY_VECTORS.pop(next(iter(_SUMMARY_VECTORS)))  # the oldest
            _SUMMARY_VECTORS[text] = vector
    target = embed_query(message)
    return [float(vectors[text] @ target) for text in texts]


# The summary the LLM provider writes when a conversation resolves.


def _transcript(conversation_id: Any, redact: Callable[[str], str]) -> str:
    turns = (
        remembered(Message.objects.filter(conversation_id=conversation_id))
        .exclude(role=MessageRole.SYSTEM)
        .order_by("created_at")
        .values_list("role", "body", "created_at")
    )
    return "\n".join(
        f"{created:%Y-%m-%d} {role.lower()}: {redact(body)[:800]}" for role, body, created in turns
    )


def summarise(conversation_id: Any) -> str:
    """A resolved conversation's summary: the LLM provider's when one is configured (the
    transcript redacted as agents/providers/chat.py redacts a prompt, the placeholders restored
    in what it writes), else, or when it fails, the extractive one (support/memory.py)."""
    extractive = summary_of(conversation_id)
    if not extractive or settings.LLM_PROVIDER == "extractive":
        return extractive  # "": the conversation is gone
    from agents.llm import chat_model

    redactor = Redactor(names=settings.REDACT_PERSON_NAMES)
    try:
        transcript = _transcript(conversation_id, redactor.redact)
        response = chat_model().invoke(
            [
                SystemMessage(prompts.SUMMARY_SYSTEM),
                HumanMessage(prompts.SUMMARY_USER.format(transcript=transcript)),
            ]
        )
    except Exception:
        logger.warning("summary of %s: the LLM failed; extractive", conversation_id, exc_info=True)
        return extractive
    text = response.content if isinstance(response.content, str) else str(response.content)
    text = storable_text(redactor.restore(text.strip()))  # a NUL failed the summary's UPDATE
    return text[:SUMMARY_CHARS] if text.strip() else extractive
