"""The evidence an intent's rung is earned from: what humans did with its drafts (sent unchanged,
lightly edited, rewritten, rejected) and what customers said of the replies sent (👎). Shared
with `evaluate --replay` (evals/replay.py), whose verdicts are these."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from support.models import CustomerRating, Draft, DraftStatus
from support.models.draft import (
    CLOSED_BY_ERASURE,
    CLOSED_BY_RESOLVE,
    REVIEWED_SUGGESTION,
    SUPERSEDED,
)
from support.vocabulary import ReviewVerdict

# A light edit: at most this many words changed, or this share of the draft's words.
SMALL_EDIT_WORDS = 3
SMALL_EDIT_SHARE = 0.1
# One-sided 95 %: only the lower bound decides a promotion.
WILSON_Z = 1.645
# Drafts closed by the system rather than judged by a human are no evidence either way.
NOT_A_REVIEW = (SUPERSEDED, CLOSED_BY_RESOLVE, CLOSED_BY_ERASURE)
GOOD_VERDICTS = (ReviewVerdict.SENT_UNCHANGED, ReviewVerdict.SMALL_EDIT)


def judge(status: str, answer: str, edit_distance: int | None) -> str:
    """The verdict on a suggestion from what a person did with it: rejected, or sent with
    `edit_distance` words changed out of the `answer`'s."""
    if status == DraftStatus.REJECTED:
        return ReviewVerdict.REJECTED
    changed = edit_distance or 0
    if changed == 0:
        return ReviewVerdict.SENT_UNCHANGED
    words = max(1, len(answer.split()))
    small = changed <= max(SMALL_EDIT_WORDS, SMALL_EDIT_SHARE * words)
    return ReviewVerdict.SMALL_EDIT if small else ReviewVerdict.LARGE_EDIT


def is_suggestion(draft: Draft) -> bool:
    """A draft with a confidence and an answer: something a person could send as it was (a
    PENDING draft a human answered before the run finished is none)."""
    return draft.confidence is not None and bool(draft.answer.strip())


def verdict(draft: Draft) -> str:
    """The verdict stored when a person reviewed it (support/review.py), which erasing the
    answer does not change; computed for a draft not stored yet (the replay's, the tests')."""
    return draft.review_verdict or judge(draft.status, draft.answer, draft.edit_distance)


def wilson_lower_bound(successes: int, total: int, z: float = WILSON_Z) -> float:
    """The lower bound of the Wilson score interval of successes/total (0 with no evidence)."""
    if total <= 0:
        return 0.0
    p = successes / total
    centre = p + z * z / (2 * total)
    margin = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    return max(0.0, (centre - margin) / (1 + z * z / total))


def reviewed_drafts(
    intent: str | None = None,
    since: datetime | None = None,
    min_confidence: float | None = None,
) -> QuerySet[Draft]:
    """Suggestions a person judged: drafts suggested (not escalated by their run: autonomy only
    ever sends a suggestion, and a reply a human wrote for an escalated draft says nothing of
    the suggestions; a draft keeps its escalation_reason once a human sends its reply), with a
    confidence and an answer, then sent or rejected by a person: reviewed_at set and a verdict
    stored by support/review.py's approve or reject (never by auto-send, a system close or an
    erasure). Erasure keeps all of these. `min_confidence`: only those drafted at or above it
    (the evidence behind a calibrated threshold)."""
    drafts = Draft.objects.filter(REVIEWED_SUGGESTION).exclude(reject_reason__in=NOT_A_REVIEW)
    if intent is not None:
        drafts = drafts.filter(intent=intent)
    if since is not None:
        drafts = drafts.filter(reviewed_at__gte=since)
    if min_confidence is not None:
        drafts = drafts.filter(confidence__gte=min_confidence)
    return drafts


@dataclass(frozen=True)
class IntentEvidence:
    intent: str
    reviewed: int = 0
    sent_unchanged: int = 0  # sent as drafted or lightly edited, and not rated 👎
    small_edit: int = 0
    large_edit: int = 0
    rejected: int = 0
    thumbs_down: int = 0  # 👎 on a reply sent from one of these drafts

    @property
    def lower_bound(self) -> float:
        return wilson_lower_bound(self.sent_unchanged, self.reviewed)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "lower_bound": round(self.lower_bound, 4)}


def thumbs_down(draft_ids: Iterable[str]) -> set[str]:
    """The drafts (ids) whose sent reply a customer rated 👎."""
    ids = set(draft_ids)
    if not ids:
        return set()
    rated = CustomerRating.objects.filter(score=-1, message__draft_id__in=ids)
    return {str(m) for m in rated.values_list("message__draft_id", flat=True)}


@dataclass(frozen=True)
class Review:
    """A human's judgement of one drafted reply (and the customer's 👎 on it once sent): what
    the ladder weighs, read from the rows here, replayed from eval cases by policy.Ladder."""

    confidence: float
    verdict: str
    thumbs_down: bool = False

    @property
    def good(self) -> bool:
        return self.verdict in GOOD_VERDICTS and not self.thumbs_down


def judged(drafts: Sequence[Draft]) -> list[Review]:
    """The drafts' reviews, with the 👎 on their replies (one query; a rejected draft's reply
    was never sent, so it has none)."""
    verdicts = {str(d.pk): verdict(d) for d in drafts}
    down = thumbs_down(pk for pk, v in verdicts.items() if v != ReviewVerdict.REJECTED)
    return [Review(d.confidence or 0.0, verdicts[str(d.pk)], str(d.pk) in down) for d in drafts]


def reviews(intent: str, since: datetime | None = None) -> list[Review]:
    """The intent's reviewed suggestions since `since`, read once (draft_evidence_idx) for
    everything the rung shows: its evidence, its threshold's pairs, its evidence at the threshold.
    Not their answers: a reviewed draft's verdict is stored."""
    fields = ("id", "status", "edit_distance", "confidence", "review_verdict")
    return judged(list(reviewed_drafts(intent, since).only(*fields)))


def tally(
    intent: str, reviews: Iterable[Review], min_confidence: float | None = None
) -> IntentEvidence:
    """The evidence of the reviews (of those at or above `min_confidence` if given)."""
    kept = [r for r in reviews if min_confidence is None or r.confidence >= min_confidence]
    verdicts = Counter(review.verdict for review in kept)
    return IntentEvidence(
        intent=intent,
        reviewed=len(kept),
        sent_unchanged=sum(review.good for review in kept),
        small_edit=verdicts[ReviewVerdict.SMALL_EDIT],
        large_edit=verdicts[ReviewVerdict.LARGE_EDIT],
        rejected=verdicts[ReviewVerdict.REJECTED],
        thumbs_down=sum(r.thumbs_down for r in kept if r.verdict != ReviewVerdict.REJECTED),
    )


def pairs(reviews: Iterable[Review]) -> list[tuple[float, bool]]:
    """(confidence, good) of each review: calibrated_threshold's input."""
    return [(review.confidence, review.good) for review in reviews]


def evidence_for(
    intent: str, since: datetime | None = None, min_confidence: float | None = None
) -> IntentEvidence:
    """The intent's evidence from its reviews since `since` (a demotion starts it afresh), of
    the drafts at or above `min_confidence` if given."""
    return tally(intent, reviews(intent, since), min_confidence)


def confidence_pairs(intent: str, since: datetime | None = None) -> list[tuple[float, bool]]:
    """(confidence, good) of the intent's reviewed drafts since `since`, good as the evidence
    counts it (sent unchanged or lightly edited, and not rated 👎): calibrated_threshold's input."""
    return pairs(reviews(intent, since))


def calibrated_threshold(
    pairs: Sequence[tuple[float, bool]], target: float, min_reviewed: int
) -> float | None:
    """The lowest confidence c such that the reviewed drafts at or above c (at least
    `min_reviewed` of them) were good with a Wilson lower bound >= target; None if none is.
    `pairs`: (draft confidence, good as the evidence counts it). The one rule of promotion,
    demotion below target and the canary's end (support/autonomy/policy.py)."""
    ordered = sorted(pairs, key=lambda pair: pair[0], reverse=True)
    best: float | None = None
    good = 0
    for count, (confidence, ok) in enumerate(ordered, start=1):
        good += ok
        if count < len(ordered) and ordered[count][0] == confidence:
            continue  # ties: ">= c" takes every draft of confidence c, judge them together
        if count >= min_reviewed and wilson_lower_bound(good, count) >= target:
            best = confidence
    return best


def canary_pick(key: str, share: float) -> bool:
    """Whether the draft `key` (its id) is one of the `share` of a canary intent's drafts sent
    alone: a stable hash, so a redelivered run decides the same, and a replay reproduces it."""
    if share >= 1.0:
        return True
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share
