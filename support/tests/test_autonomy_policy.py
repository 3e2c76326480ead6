"""The ladder's rules (support/autonomy/policy.py) on hand-built sequences of drafts: promotion
after the evidence, the canary share, take-back on a rejection, a caught wrong auto-send and
evidence below target, evidence restarting after a demotion, the blockers."""

from __future__ import annotations

from typing import Any

from support.autonomy.evidence import canary_pick, wilson_lower_bound
from support.autonomy.policy import (
    ACTION,
    CANARY_ENDED,
    GUARD,
    NOT_SUGGESTED,
    PROMOTED,
    UNVERIFIED,
    Ladder,
    LadderRules,
    blockers,
)
from support.vocabulary import GUARD_CHECKS, AutonomyMode, DemotionReason, ReviewVerdict

# 20 reviews, all good, have a lower bound of 0.88, 19 of 20 of 0.80.
RULES = LadderRules(min_reviewed=20, target=0.85, canary_share=0.25)
GOOD = ReviewVerdict.SENT_UNCHANGED
CLEAN = {check: True for check in GUARD_CHECKS}


def _reviews(ladder: Ladder, count: int, verdict: str = GOOD, confidence: float = 0.9) -> list:
    return [
        ladder.step(
            "track_order", f"r{len(ladder.rung('track_order').evidence)}", confidence, verdict
        )
        for _ in range(count)
    ]


def _promoted(rules: LadderRules = RULES) -> Ladder:
    ladder = Ladder(rules)
    _reviews(ladder, rules.min_reviewed)
    assert ladder.rung("track_order").mode == AutonomyMode.AUTO
    return ladder


def test_an_intent_is_promoted_once_its_reviews_earn_it() -> None:
    assert wilson_lower_bound(20, 20) >= RULES.target > wilson_lower_bound(19, 20)
    ladder = Ladder(RULES)
    steps = _reviews(ladder, 19)
    assert {s.event for s in steps} == {None} and not any(s.auto_sent for s in steps)
    assert ladder.rung("track_order").mode == AutonomyMode.REVIEW
    assert _reviews(ladder, 1)[0].event == PROMOTED
    rung = ladder.rung("track_order")
    assert (rung.mode, rung.canary, rung.min_confidence) == (AutonomyMode.AUTO, True, 0.9)
    assert ladder.rung("get_refund").mode == AutonomyMode.REVIEW  # per intent


def test_one_bad_review_in_twenty_is_not_enough() -> None:
    ladder = Ladder(RULES)
    _reviews(ladder, 1, ReviewVerdict.LARGE_EDIT)
    _reviews(ladder, 19)
    assert ladder.rung("track_order").mode == AutonomyMode.REVIEW
    assert wilson_lower_bound(19, 20) < RULES.target


def test_the_threshold_is_calibrated_on_the_evidence() -> None:
    """Reviewed at 0.7 and 0.9, all good: auto from 0.7 up, not below what was ever reviewed."""
    ladder = Ladder(LadderRules(min_reviewed=20, target=0.85, canary_share=1.0))
    _reviews(ladder, 10, confidence=0.9)
    _reviews(ladder, 10, confidence=0.7)
    assert ladder.rung("track_order").min_confidence == 0.7
    assert ladder.would_auto_send("track_order", "k", 0.7)
    assert not ladder.would_auto_send("track_order", "k", 0.69)


def test_a_canary_sends_its_share_and_the_rest_is_reviewed() -> None:
    ladder = _promoted()
    keys = [f"draft-{n}" for n in range(400)]
    sent = [ladder.would_auto_send("track_order", key, 0.95) for key in keys]
    assert sent == [canary_pick(key, RULES.canary_share) for key in keys]
    assert 0.15 < sum(sent) / len(sent) < 0.35


def test_the_canary_ends_when_the_reviews_since_promotion_earn_auto() -> None:
    ladder = _promoted()
    events = []
    n = 0
    while ladder.rung("track_order").canary:
        step = ladder.step("track_order", f"c{n}", 0.95, GOOD)
        events.append(step.event)
        n += 1
        assert n < 200
    reviewed = sum(1 for e in events if e is None) + 1
    assert events[-1] == CANARY_ENDED and reviewed >= RULES.min_reviewed
    assert all(ladder.would_auto_send("track_order", f"x{i}", 0.95) for i in range(20))


def test_a_rejection_demotes_at_once_and_the_evidence_starts_afresh() -> None:
    ladder = _promoted()
    key = next(f"k{n}" for n in range(100) if not canary_pick(f"k{n}", RULES.canary_share))
    step = ladder.step("track_order", key, 0.95, ReviewVerdict.REJECTED)
    assert (step.auto_sent, step.event) == (False, DemotionReason.REJECTED)
    rung = ladder.rung("track_order")
    assert (rung.mode, rung.evidence, rung.min_confidence) == (AutonomyMode.REVIEW, [], None)
    assert not ladder.would_auto_send("track_order", "any", 1.0)
    _reviews(ladder, RULES.min_reviewed - 1)
    assert rung.mode == AutonomyMode.REVIEW  # the old 20 good reviews no longer count
    _reviews(ladder, 1)
    assert rung.mode == AutonomyMode.AUTO and rung.promotions == 2
    assert dict(rung.demotions) == {DemotionReason.REJECTED: 1}


def test_a_wrong_auto_sent_reply_demotes_when_caught() -> None:
    for caught, mode in ((True, AutonomyMode.REVIEW), (False, AutonomyMode.AUTO)):
        ladder = _promoted()
        key = next(f"k{n}" for n in range(100) if canary_pick(f"k{n}", RULES.canary_share))
        step = ladder.step("track_order", key, 0.95, ReviewVerdict.REJECTED, caught=caught)
        assert step.auto_sent
        assert step.event == (DemotionReason.CORRECTED if caught else None)
        rung = ladder.rung("track_order")
        assert (rung.mode, rung.auto_sent, rung.auto_sent_rejected) == (mode, 1, 1)
        assert rung.evidence == [] if caught else len(rung.evidence) == RULES.min_reviewed
    ladder = _promoted()
    key = next(f"k{n}" for n in range(100) if canary_pick(f"k{n}", RULES.canary_share))
    step = ladder.step("track_order", key, 0.95, GOOD, thumbs_down=True)
    assert step.event == DemotionReason.THUMBS_DOWN


def test_rewrites_after_promotion_demote_below_target() -> None:
    ladder = _promoted()
    events = [
        ladder.step("track_order", f"nc{n}", 0.95, ReviewVerdict.LARGE_EDIT).event
        for n in range(200)
        if not canary_pick(f"nc{n}", RULES.canary_share)
    ]
    assert DemotionReason.BELOW_TARGET in events
    assert ladder.rung("track_order").demotions[DemotionReason.BELOW_TARGET] == 1


def test_blocked_drafts_wait_for_a_human_whatever_the_rung() -> None:
    ladder = _promoted(LadderRules(min_reviewed=20, target=0.85, canary_share=1.0))
    assert ladder.would_auto_send("track_order", "k", 0.95)
    for blocked in ([GUARD], [ACTION], [NOT_SUGGESTED]):
        step = ladder.step("track_order", "k", 0.95, GOOD, blocked=blocked)
        assert not step.auto_sent
    assert not ladder.would_auto_send("", "k", 0.95)
    assert not ladder.would_auto_send("track_order", "k", None)


def test_blockers() -> None:
    clean: dict[str, Any] = {
        "suggested": True,
        "intent": "track_order",
        "guard": CLEAN,
        "actions": 0,
    }
    assert blockers(**clean, mismatches=0) == []
    assert blockers(**{**clean, "guard": {**CLEAN, "tone": False}}, mismatches=0) == [GUARD]
    assert blockers(**{**clean, "actions": 1}, mismatches=0, verified=False) == [
        ACTION,
        UNVERIFIED,
    ]
    assert "document_mismatch" in blockers(**clean, mismatches=2)
    assert blockers(**{**clean, "suggested": False, "intent": ""}, mismatches=0) == [
        NOT_SUGGESTED,
        "no_intent",
    ]


def test_the_report_counts_what_went_out_alone() -> None:
    ladder = _promoted(LadderRules(min_reviewed=20, target=0.85, canary_share=1.0))
    ladder.step("track_order", "a", 0.95, GOOD)
    ladder.step("track_order", "b", 0.95, ReviewVerdict.LARGE_EDIT)  # rewritten: caught
    ladder.step("get_refund", "c", 0.95, GOOD)
    report = ladder.report()
    row = report["by_intent"]["track_order"]
    assert (row["drafts"], row["would_auto_send"], row["of_which_rewritten"]) == (22, 2, 1)
    assert row["share"] == round(2 / 22, 4) and row["mode"] == AutonomyMode.REVIEW
    assert [t["event"] for t in row["transitions"]] == [PROMOTED, DemotionReason.CORRECTED]
    assert (report["drafts"], report["would_auto_send"], report["demotions"]) == (23, 2, 1)


def test_escalated_drafts_are_evidence_unless_only_suggestions_count() -> None:
    """An intent whose runs escalate one message in four (a human writes those replies):
    with the foundation's evidence they are rewrites and it is never promoted; counting only
    what was suggested, its suggestions earn auto."""
    from dataclasses import replace

    results = {}
    for suggested_only in (False, True):
        ladder = Ladder(replace(RULES, suggested_only=suggested_only))
        for n in range(80):
            escalated = n % 4 == 0
            ladder.step(
                "track_order",
                f"k{n}",
                0.9,
                ReviewVerdict.LARGE_EDIT if escalated else GOOD,
                blocked=[NOT_SUGGESTED] if escalated else [],
            )
        results[suggested_only] = ladder.rung("track_order")
    assert results[False].mode == AutonomyMode.REVIEW and results[False].auto_sent == 0
    assert results[True].mode == AutonomyMode.AUTO and results[True].auto_sent > 0
    assert all(review.good for review in results[True].evidence)
