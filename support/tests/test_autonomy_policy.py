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
    RECALIBRATED,
    UNVERIFIED,
    Ladder,
    LadderRules,
    Move,
    blockers,
    reweigh,
    take_back_on_review,
    tally,
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


def test_escalated_drafts_are_no_evidence() -> None:
    """An intent whose runs escalate one message in four (a human writes those replies, a
    rewrite): autonomy only sends suggestions, so only those count, and they earn auto."""
    ladder = Ladder(RULES)
    for n in range(80):
        escalated = n % 4 == 0
        ladder.step(
            "track_order",
            f"k{n}",
            0.9,
            ReviewVerdict.LARGE_EDIT if escalated else GOOD,
            blocked=[NOT_SUGGESTED] if escalated else [],
        )
    rung = ladder.rung("track_order")
    assert rung.mode == AutonomyMode.AUTO and rung.auto_sent > 0
    assert rung.evidence and all(review.good for review in rung.evidence)


def test_promoted_at_the_threshold_where_the_evidence_earns_it() -> None:
    """Low-confidence suggestions bad, high ones good: the whole never earns auto, the drafts
    at or above the boundary do; promoted with min_confidence at the boundary, and a
    low-confidence draft still waits for a human."""
    ladder = Ladder(LadderRules(min_reviewed=20, target=0.85, canary_share=1.0))
    for n in range(20):
        ladder.step("track_order", f"low{n}", 0.5 + n / 1000, ReviewVerdict.REJECTED)
    assert ladder.rung("track_order").mode == AutonomyMode.REVIEW
    events = [ladder.step("track_order", f"h{n}", 0.9 + n / 1000, GOOD).event for n in range(20)]
    assert events[-1] == PROMOTED and set(events[:-1]) == {None}
    rung = ladder.rung("track_order")
    assert rung.min_confidence == 0.9  # the lowest good one: every draft >= 0.9 was good
    assert tally("", rung.evidence).lower_bound < RULES.target  # the whole: 20 of 40
    assert not ladder.would_auto_send("track_order", "k", 0.6)
    assert not ladder.step("track_order", "low-again", 0.6, GOOD).auto_sent
    assert ladder.step("track_order", "high-again", 0.95, GOOD).auto_sent
    # A rejected suggestion below the threshold is evidence, not a take-back.
    assert ladder.step("track_order", "low-bad", 0.55, ReviewVerdict.REJECTED).event is None
    assert ladder.rung("track_order").mode == AutonomyMode.AUTO
    # The good review at 0.6 recalibrates: every reviewed suggestion >= 0.6 was good.
    report = ladder.report()["by_intent"]["track_order"]
    assert report["min_confidence"] == 0.6
    assert report["transitions"][-1]["event"] == RECALIBRATED
    assert (report["evidence_at_threshold"]["reviewed"], report["evidence"]["reviewed"]) == (21, 42)
    # Lowered from 0.9 to 0.6: the band 0.6-0.9 goes through a canary first.
    assert report["canary"] is True


def test_reweigh_is_the_one_rule() -> None:
    """Promotion, the canary's end, recalibration and demotion below target, on pairs."""
    good = [(0.9, True)] * 20
    bad_low = [(0.5, False)] * 10
    rules = LadderRules(min_reviewed=20, target=0.85, canary_share=0.2)
    review_rung: dict[str, Any] = {
        "auto": False,
        "allowed": True,
        "canary": False,
        "min_confidence": None,
    }
    assert reweigh(rules, **review_rung, evidence=good[:19]) is None
    assert reweigh(rules, **review_rung, evidence=good + bad_low) == Move(PROMOTED, 0.9)
    assert reweigh(rules, **{**review_rung, "allowed": False}, evidence=good) is None
    auto: dict[str, Any] = {"auto": True, "allowed": True, "canary": True, "min_confidence": 0.9}
    assert reweigh(rules, **auto, evidence=good, since_promotion=good[:5]) is None
    assert reweigh(rules, **auto, evidence=good, since_promotion=good) == Move(CANARY_ENDED, 0.9)
    more = good + [(0.8, True)] * 5
    # A lower threshold sends a band no canary tried: back into the canary. A higher one not.
    lowered = reweigh(rules, **{**auto, "canary": False}, evidence=more)
    assert lowered == Move(RECALIBRATED, 0.8, canary=True)
    raised = reweigh(rules, **{**auto, "canary": False, "min_confidence": 0.7}, evidence=more)
    assert raised == Move(RECALIBRATED, 0.8, canary=False)
    below = reweigh(rules, **auto, evidence=[(0.9, False)] * 5 + good)
    assert below == Move(DemotionReason.BELOW_TARGET, None)
    rejected = ReviewVerdict.REJECTED
    assert take_back_on_review(True, rejected, 0.9, 0.9) == DemotionReason.REJECTED
    assert take_back_on_review(True, rejected, 0.89, 0.9) is None  # below: evidence only
    assert take_back_on_review(False, rejected, 0.9, None) is None
    assert take_back_on_review(True, ReviewVerdict.LARGE_EDIT, 0.95, 0.9) is None
