"""The evidence an intent's autonomy is earned from (support/autonomy/evidence.py), on real rows."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User

from resolver.audit_actor import Actor
from support import customer_data, review
from support.autonomy.evidence import (
    calibrated_threshold,
    canary_pick,
    confidence_pairs,
    evidence_for,
    verdict,
    wilson_lower_bound,
)
from support.inbound import rate_reply
from support.models import Draft, DraftStatus, Message
from support.tests.autonomy_fixtures import reload
from support.tests.conftest import MakeDraft
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


WORDS = "one two three four five six seven eight nine ten eleven twelve"


def _suggested(make_draft: MakeDraft, n: int, **fields: Any) -> Draft:
    return make_draft(f"where is order NW-{n}?", customer_ref=f"cust-{n}", answer=WORDS, **fields)


def _evidence_rows(make_draft: MakeDraft, user: User) -> dict[str, Draft]:
    """Every kind of draft the evidence must tell apart, reviewed through support/review.py
    (the console's, API's and admin's one path), customer cust-0 to cust-8."""
    actor = Actor.for_user(user)
    rows = {name: _suggested(make_draft, n) for n, name in enumerate(NAMES)}
    review.approve(rows["unchanged"].pk, actor)
    review.approve(rows["small"].pk, actor, edited=f"{WORDS} thirteen")
    review.approve(rows["large"].pk, actor, edited="something else entirely, written anew here")
    review.reject(rows["rejected"].pk, actor, "wrong")
    review.approve(rows["rated_down"].pk, actor)
    rate_reply(rows["rated_down"].conversation_id, -1, "no")
    # No suggestion: a PENDING draft (no answer, no confidence) a human answered themselves.
    Draft.objects.filter(pk=rows["pending"].pk).update(
        status=DraftStatus.PENDING, answer="", confidence=None
    )
    review.approve(rows["pending"].pk, actor, edited="I answered this myself, it is on its way")
    # Closed by the system: no verdict either way.
    review.resolve(rows["resolved"].conversation_id, actor)
    review.reprocess(rows["superseded"].message_id, actor)
    return rows


NAMES = (
    "unchanged",
    "small",
    "large",
    "rejected",
    "rated_down",
    "pending",
    "resolved",
    "superseded",
)


def _counts() -> tuple[int, int, int, int, int, int]:
    e = evidence_for("track_order")
    return (e.reviewed, e.sent_unchanged, e.small_edit, e.large_edit, e.rejected, e.thumbs_down)


def test_evidence_counts_a_persons_verdicts_on_suggestions_only(
    make_draft: MakeDraft, agent_user: User
) -> None:
    rows = _evidence_rows(make_draft, agent_user)
    assert verdict(reload(rows["unchanged"])) == ReviewVerdict.SENT_UNCHANGED
    assert verdict(reload(rows["small"])) == ReviewVerdict.SMALL_EDIT
    assert verdict(reload(rows["large"])) == ReviewVerdict.LARGE_EDIT
    # reviewed: unchanged, small, large, rejected, rated_down; good: unchanged and small (the
    # rated one is 👎); the answered PENDING draft and the system's closes are no evidence.
    assert _counts() == (5, 2, 1, 1, 1, 1)
    assert reload(rows["pending"]).review_verdict == ""
    assert evidence_for("other_intent").reviewed == 0


def test_evidence_is_the_same_after_the_customers_data_is_erased(
    make_draft: MakeDraft, agent_user: User
) -> None:
    """Erasure empties the answers, the replies' metadata and a person's reject reason: the
    verdicts, the 👎 and the system's close markers stay, so nothing changes in the evidence."""
    _evidence_rows(make_draft, agent_user)
    before = _counts()
    pairs = sorted(confidence_pairs("track_order"))
    for n in range(len(NAMES)):
        customer_data.do_erase(f"cust-{n}", Actor.system("test"))
    assert Draft.objects.filter(answer="").count() == Draft.objects.count()
    assert not Message.objects.filter(metadata__has_key="draft_id").exists()
    assert _counts() == before
    assert sorted(confidence_pairs("track_order")) == pairs


def test_a_system_close_without_a_review_is_no_rejection(make_draft: MakeDraft) -> None:
    """A draft REJECTED with no reviewed_at and no stored verdict (however it got there, e.g. an
    erased close marker of old) is no person's rejection."""
    draft = _suggested(make_draft, 1)
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.REJECTED, reject_reason="")
    assert _counts() == (0, 0, 0, 0, 0, 0)


def test_canary_pick_is_stable_and_near_the_share() -> None:
    keys = [f"draft-{i}" for i in range(2000)]
    picked = [k for k in keys if canary_pick(k, 0.2)]
    assert 0.17 < len(picked) / len(keys) < 0.23
    assert picked == [k for k in keys if canary_pick(k, 0.2)]
    assert all(canary_pick(k, 1.0) for k in keys[:10])
    assert not any(canary_pick(k, 0.0) for k in keys)
