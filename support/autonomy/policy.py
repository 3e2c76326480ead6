"""The ladder's rules as a pure state machine: no database, no clock. Fed one draft at a time in
the order they were decided, it says whether each would have gone out alone and moves each
intent's rung (promotion, canary, take-back) as the decided rules say (design of #29). The shadow
replay (`evaluate --replay`) walks the team's reviewed drafts through it, the simulated team
(`evaluate --simulate-team`) the labelled sets' drafts; the live ladder (support/autonomy/ladder.py)
decides with the same functions (reweigh, take_back_on_review, rung_sends, blockers) and adds the
row locks, the writes and the audit.

Evidence: the suggestions a human judged (an escalated draft is none). Rules: an intent in review
is promoted when some confidence threshold c earns auto (LadderRules.threshold: the lowest c whose
reviewed suggestions at or above it are at least min_reviewed with a Wilson lower bound >= target);
it then auto-sends the canary share of its eligible drafts (`canary_pick` on the draft's key) at
or above c, until the reviews since the promotion alone earn auto at some threshold. A human's
rejection of a reviewed suggestion at or above the threshold of an auto intent, a wrong auto-sent
reply caught after the fact
(👎 or a correction), or no threshold earning auto any more demote it at once, and its evidence
starts afresh."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from support.autonomy.evidence import (
    GOOD_VERDICTS,
    Review,
    calibrated_threshold,
    canary_pick,
    pairs,
    tally,
)
from support.vocabulary import GUARD_CHECKS, AutonomyMode, DemotionReason, ReviewVerdict

# Why an eligible-looking draft still waits for a human, whatever its intent's rung.
NOT_SUGGESTED = "not_suggested"
NO_INTENT = "no_intent"
GUARD = "guard"
ACTION = "action"
DOCUMENT_MISMATCH = "document_mismatch"
ESCALATED = "escalated"
UNVERIFIED = "unverified"
# Events of an intent's rung, as the replay reports them over time.
PROMOTED = "promoted"
CANARY_ENDED = "canary_ended"
RECALIBRATED = "recalibrated"
TRANSITIONS_KEPT = 50


def blockers(
    *,
    suggested: bool,
    intent: str,
    guard: Mapping[str, Any] | None,
    actions: int,
    mismatches: int,
    escalated: bool = False,
    verified: bool = True,
) -> list[str]:
    """What keeps a draft from being sent alone, its intent's rung aside: not SUGGESTED, no
    intent, a guard check not passed, an action proposed (money always waits for a person, the
    others for their approval), a document disagreeing with our records, an escalated
    conversation, a sender not verified when only verified customers may be answered alone."""
    found = []
    if not suggested:
        found.append(NOT_SUGGESTED)
    if not intent:
        found.append(NO_INTENT)
    if not all((guard or {}).get(check) is True for check in GUARD_CHECKS):
        found.append(GUARD)
    if actions:
        found.append(ACTION)
    if mismatches:
        found.append(DOCUMENT_MISMATCH)
    if escalated:
        found.append(ESCALATED)
    if not verified:
        found.append(UNVERIFIED)
    return found


@dataclass(frozen=True)
class LadderRules:
    min_reviewed: int
    target: float
    canary_share: float

    @classmethod
    def from_settings(cls, min_reviewed: int | None = None) -> LadderRules:
        from django.conf import settings

        return cls(
            min_reviewed=min_reviewed or settings.AUTONOMY_MIN_REVIEWED,
            target=settings.AUTONOMY_TARGET,
            canary_share=settings.AUTONOMY_CANARY_SHARE,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "min_reviewed": self.min_reviewed,
            "target": self.target,
            "canary_share": self.canary_share,
        }

    def threshold(self, pairs: Sequence[tuple[float, bool]]) -> float | None:
        """The one rule (promotion, demotion below target, the canary's end): the lowest
        confidence c whose reviewed suggestions at or above it are at least min_reviewed and
        good with a Wilson lower bound >= target; None: nothing earns auto."""
        return calibrated_threshold(pairs, self.target, self.min_reviewed)


@dataclass(frozen=True)
class Move:
    """What re-weighing a rung decides: `event` (PROMOTED, CANARY_ENDED, RECALIBRATED or
    DemotionReason.BELOW_TARGET) and the rung's confidence threshold from then on."""

    event: str
    min_confidence: float | None
    # RECALIBRATED to a lower threshold: a confidence band no canary tried yet is sent alone
    # from now on, so the rung goes back into its canary (its reviews counted afresh).
    canary: bool = False


def reweigh(
    rules: LadderRules,
    *,
    auto: bool,
    allowed: bool,
    canary: bool,
    min_confidence: float | None,
    evidence: Sequence[tuple[float, bool]],
    since_promotion: Sequence[tuple[float, bool]] = (),
) -> Move | None:
    """The rung's move on its evidence since the last demotion (`evidence`) and since its
    promotion, as (confidence, good) pairs; None: it stays as it is. In review: promoted if
    allowed and some threshold earns auto. Auto: demoted (BELOW_TARGET) if none does; its
    canary ends once the reviews since the promotion alone earn auto at some threshold (at a
    threshold no lower than the canary's); its threshold follows the evidence (RECALIBRATED),
    and a lower one goes back into the canary: no confidence band is sent alone in full
    before a canary tried it. The live ladder (support/autonomy/ladder.py),
    the replay and the simulated team all decide here."""
    threshold = rules.threshold(evidence)
    if not auto:
        return Move(PROMOTED, threshold) if allowed and threshold is not None else None
    if threshold is None:
        return Move(DemotionReason.BELOW_TARGET, None)
    if canary and rules.threshold(since_promotion) is not None:
        # The canary tried the band from its threshold up: a lower one is a new canary.
        return Move(CANARY_ENDED, max(threshold, min_confidence or threshold))
    if threshold != min_confidence:
        lower = min_confidence is not None and threshold < min_confidence
        return Move(RECALIBRATED, threshold, canary=lower)
    return None


def take_back_on_review(
    auto: bool, verdict: str, confidence: float | None, min_confidence: float | None
) -> str | None:
    """A human's review of a suggestion of an auto intent that takes it back at once: a
    rejection of one the rung would have sent alone (at or above its threshold). A rejected
    suggestion below the threshold is what the threshold is for: evidence, re-weighed."""
    if not auto or verdict != ReviewVerdict.REJECTED:
        return None
    if min_confidence is not None and (confidence or 0.0) < min_confidence:
        return None
    return DemotionReason.REJECTED


def rung_sends(
    rules: LadderRules,
    *,
    auto: bool,
    allowed: bool,
    canary: bool,
    min_confidence: float | None,
    key: str,
    confidence: float | None,
) -> bool:
    """Whether an intent's rung lets a draft (its `key`: the draft id) go out alone: auto and
    allowed, at or above the calibrated threshold, and in a canary one of its share."""
    if not auto or not allowed or min_confidence is None or confidence is None:
        return False
    if confidence < min_confidence:
        return False
    return not canary or canary_pick(key, rules.canary_share)


@dataclass
class Rung:
    """One intent: its mode, and what it did while it was walked."""

    intent: str
    mode: str = AutonomyMode.REVIEW
    canary: bool = False
    min_confidence: float | None = None
    evidence: list[Review] = field(default_factory=list)  # since the last demotion
    since_promotion: list[Review] = field(default_factory=list)
    drafts: int = 0
    auto_sent: int = 0
    auto_sent_rejected: int = 0  # that a human rejected (or would have)
    auto_sent_rewritten: int = 0  # that a human rewrote (large edit)
    promotions: int = 0
    demotions: Counter[str] = field(default_factory=Counter)
    transitions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def auto(self) -> bool:
        return self.mode == AutonomyMode.AUTO

    def report(self) -> dict[str, Any]:
        return {
            "drafts": self.drafts,
            "would_auto_send": self.auto_sent,
            "of_which_rejected": self.auto_sent_rejected,
            "of_which_rewritten": self.auto_sent_rewritten,
            "share": round(self.auto_sent / self.drafts, 4) if self.drafts else 0.0,
            "mode": str(self.mode),
            "canary": self.canary,
            "min_confidence": self.min_confidence,
            "promotions": self.promotions,
            "demotions": dict(self.demotions),
            "evidence": tally(self.intent, self.evidence).as_dict(),
            "evidence_at_threshold": tally(
                self.intent,
                [r for r in self.evidence if r.confidence >= (self.min_confidence or 0.0)],
            ).as_dict(),
            "transitions": self.transitions[-TRANSITIONS_KEPT:],
        }


@dataclass(frozen=True)
class Step:
    intent: str
    auto_sent: bool
    verdict: str
    event: str | None  # PROMOTED, CANARY_ENDED or a DemotionReason


class Ladder:
    """Every intent's rung, moved draft by draft."""

    def __init__(self, rules: LadderRules) -> None:
        self.rules = rules
        self.rungs: dict[str, Rung] = {}

    def rung(self, intent: str) -> Rung:
        if intent not in self.rungs:
            self.rungs[intent] = Rung(intent)
        return self.rungs[intent]

    def would_auto_send(
        self, intent: str, key: str, confidence: float | None, blocked: Sequence[str] = ()
    ) -> bool:
        if not intent or blocked:
            return False
        rung = self.rung(intent)
        return rung_sends(
            self.rules,
            auto=rung.auto,
            allowed=True,
            canary=rung.canary,
            min_confidence=rung.min_confidence,
            key=key,
            confidence=confidence,
        )

    def step(
        self,
        intent: str,
        key: str,
        confidence: float | None,
        verdict: str,
        *,
        blocked: Sequence[str] = (),
        thumbs_down: bool = False,
        caught: bool = True,
        at: str = "",
    ) -> Step:
        """One draft of `intent`: sent alone if its rung allows it (then no human reviews it; a
        wrong one, `caught` by a 👎 or a correction, takes the intent back), else reviewed with
        `verdict` (the human's): evidence only if it was a suggestion. `at`: when, for the
        transitions reported."""
        rung = self.rung(intent)
        rung.drafts += 1
        if self.would_auto_send(intent, key, confidence, blocked):
            rung.auto_sent += 1
            rung.auto_sent_rejected += verdict == ReviewVerdict.REJECTED
            rung.auto_sent_rewritten += verdict == ReviewVerdict.LARGE_EDIT
            wrong = verdict not in GOOD_VERDICTS or thumbs_down
            event = None
            if wrong and caught:
                reason = DemotionReason.THUMBS_DOWN if thumbs_down else DemotionReason.CORRECTED
                event = self._demote(rung, reason, key, at)
            return Step(intent, True, verdict, event)
        if NOT_SUGGESTED in blocked:
            # Autonomy only ever sends suggestions: an escalated draft, whose reply a human
            # wrote, is no evidence about them (evidence.reviewed_drafts, live).
            return Step(intent, False, verdict, None)
        review = Review(float(confidence or 0.0), verdict, thumbs_down)
        return Step(intent, False, verdict, self.review(intent, review, key=key, at=at))

    def review(self, intent: str, review: Review, *, key: str = "", at: str = "") -> str | None:
        """A human's review of a suggestion of `intent`; the rung's move, if any."""
        rung = self.rung(intent)
        rung.evidence.append(review)
        if rung.auto:
            rung.since_promotion.append(review)
            reason = take_back_on_review(
                rung.auto, review.verdict, review.confidence, rung.min_confidence
            )
            if reason:
                return self._demote(rung, reason, key, at)
        move = reweigh(
            self.rules,
            auto=rung.auto,
            allowed=True,
            canary=rung.canary,
            min_confidence=rung.min_confidence,
            evidence=pairs(rung.evidence),
            since_promotion=pairs(rung.since_promotion),
        )
        if move is None:
            return None
        if move.event == DemotionReason.BELOW_TARGET:
            return self._demote(rung, move.event, key, at)
        if move.event == PROMOTED:
            rung.mode, rung.canary = AutonomyMode.AUTO, True
            rung.since_promotion = []
            rung.promotions += 1
        elif move.event == CANARY_ENDED:
            rung.canary = False
        elif move.canary:
            rung.canary = True
            rung.since_promotion = []
        rung.min_confidence = move.min_confidence
        return self._moved(rung, move.event, key, at)

    def _demote(self, rung: Rung, reason: str, key: str, at: str) -> str:
        rung.mode, rung.canary, rung.min_confidence = AutonomyMode.REVIEW, False, None
        rung.evidence, rung.since_promotion = [], []
        rung.demotions[str(reason)] += 1
        return self._moved(rung, str(reason), key, at)

    def _moved(self, rung: Rung, event: str, key: str, at: str) -> str:
        rung.transitions.append({"event": event, "draft": key, "at": at})
        return event

    def report(self) -> dict[str, Any]:
        """Per intent (rung.report) and the totals: the replay's and the simulation's numbers."""
        rungs = sorted(self.rungs.values(), key=lambda rung: rung.intent)
        drafts = sum(rung.drafts for rung in rungs)
        sent = sum(rung.auto_sent for rung in rungs)
        rejected = sum(rung.auto_sent_rejected for rung in rungs)
        rewritten = sum(rung.auto_sent_rewritten for rung in rungs)
        return {
            "rules": self.rules.as_dict(),
            "drafts": drafts,
            "would_auto_send": sent,
            "of_which_rejected": rejected,
            "of_which_rewritten": rewritten,
            "share": round(sent / drafts, 4) if drafts else 0.0,
            "demotions": sum(sum(rung.demotions.values()) for rung in rungs),
            "by_intent": {rung.intent: rung.report() for rung in rungs},
        }
