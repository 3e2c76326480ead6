"""The evidence an intent's autonomy is earned from (support/autonomy/evidence.py), on real rows."""

from __future__ import annotations

import pytest

from support.autonomy.evidence import (
    calibrated_threshold,
    canary_pick,
    evidence_for,
    verdict,
    wilson_lower_bound,
)
from support.models import Conversation, CustomerRating, Draft, DraftStatus, Message, MessageRole
from support.vocabulary import ReviewVerdict


def test_wilson_lower_bound() -> None:
    assert wilson_lower_bound(0, 0) == 0.0
    # 50 of 50 is not yet proof of 95 % (one-sided 95 % bound): 52 of 52 is.
    assert wilson_lower_bound(50, 50) < 0.95 <= wilson_lower_bound(52, 52)
    assert wilson_lower_bound(90, 100) < 0.9
    # The textbook two-sided 95 % interval of 5/10 is [0.2366, 0.7634].
    assert wilson_lower_bound(5, 10, z=1.96) == pytest.approx(0.2366, abs=1e-4)
    assert wilson_lower_bound(5, 10) == pytest.approx(0.2693, abs=1e-4)


def test_calibrated_threshold_is_the_lowest_confidence_that_keeps_the_target() -> None:
    good_high = [(0.9 + i / 1000, True) for i in range(60)]
    bad_low = [(0.5 + i / 1000, i % 2 == 0) for i in range(40)]
    threshold = calibrated_threshold(good_high + bad_low, 0.95, 50)
    assert threshold is not None and 0.9 <= threshold < 0.91
    assert calibrated_threshold(bad_low, 0.95, 10) is None


def test_calibrated_threshold_judges_ties_together() -> None:
    """ ">= c" takes every draft of confidence c: 20 good at 0.9 then, at 0.8, one good and 5
    bad. Counted one by one, the good 0.8 would pass on its own; together they do not."""
    pairs = [(0.9, True)] * 20 + [(0.8, True)] + [(0.8, False)] * 5
    assert calibrated_threshold(pairs, 0.85, 20) == 0.9
    assert calibrated_threshold([(0.9, True)] * 20, 0.85, 20) == 0.9


def _reviewed(conversation: Conversation, status: str, answer: str, sent: str = "") -> Draft:
    message = Message.objects.create(conversation=conversation, role=MessageRole.CUSTOMER, body="q")
    draft = Draft.objects.create(
        message=message,
        conversation=conversation,
        status=status,
        intent="track_order",
        answer=answer,
        sent_text=sent,
        edit_distance=None
        if status == DraftStatus.REJECTED
        else len(sent.split()) - len(answer.split()),
    )
    return draft


@pytest.mark.django_db
def test_evidence_counts_verdicts_and_thumbs_down() -> None:
    conversation = Conversation.objects.create()
    words = "one two three four five six seven eight nine ten eleven twelve"
    unchanged = _reviewed(conversation, DraftStatus.SENT, words, words)
    assert verdict(unchanged) == ReviewVerdict.SENT_UNCHANGED
    _reviewed(conversation, DraftStatus.REJECTED, words)
    rated = _reviewed(conversation, DraftStatus.SENT, words, words)
    reply = Message.objects.create(
        conversation=conversation,
        role=MessageRole.AGENT,
        body=words,
        metadata={"draft_id": str(rated.pk)},
    )
    CustomerRating.objects.create(conversation=conversation, message=reply, score=-1)
    evidence = evidence_for("track_order")
    assert (evidence.reviewed, evidence.sent_unchanged, evidence.rejected) == (3, 1, 1)
    assert evidence.thumbs_down == 1
    assert evidence_for("other_intent").reviewed == 0


def test_canary_pick_is_stable_and_near_the_share() -> None:
    keys = [f"draft-{i}" for i in range(2000)]
    picked = [k for k in keys if canary_pick(k, 0.2)]
    assert 0.17 < len(picked) / len(keys) < 0.23
    assert picked == [k for k in keys if canary_pick(k, 0.2)]
    assert all(canary_pick(k, 1.0) for k in keys[:10])
    assert not any(canary_pick(k, 0.0) for k in keys)
