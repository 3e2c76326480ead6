"""The autonomy ladder (#29): an intent climbs to `auto` on its evidence and is taken back at
once by a take-back signal. The rules are support/autonomy/policy.py's (one definition, shared
with the replay and the simulated team); here: check_* validate; do_* (and the public functions)
lock the intent's IntentAutonomy row (SELECT ... FOR UPDATE), write it, audit, and log after
commit.

The row lock is the one support/autosend.py takes (FOR SHARE) while it decides and sends: once
a demotion commits, no draft of that intent is sent alone; a send that held the lock first
committed before the demotion could write."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from knowledge.taxonomy import intents
from resolver.audit_actor import Actor
from resolver.errors import ClientError
from support.autonomy.evidence import (
    IntentEvidence,
    confidence_pairs,
    pairs,
    reviewed_drafts,
    reviews,
    tally,
)
from support.autonomy.policy import (
    CANARY_ENDED,
    PROMOTED,
    LadderRules,
    Move,
    reweigh,
    take_back_on_review,
)
from support.models import AuditAction, AuditLog, Draft, IntentAutonomy
from support.vocabulary import AutonomyMode, DemotionReason, ReviewVerdict

logger = logging.getLogger(__name__)


class AutonomyError(ClientError):
    """An intent or reason the ladder does not know (422)."""


@dataclass(frozen=True)
class Rung:
    """An intent's rung and the evidence behind it (the console and GET /autonomy read this)."""

    intent: str
    mode: str
    allowed: bool
    canary: bool
    since: datetime | None
    min_confidence: float | None
    demoted_at: datetime | None
    demoted_reason: str
    demoted_draft_id: str | None
    evidence: IntentEvidence  # every reviewed suggestion since the last demotion (context)
    threshold: float | None  # c: the lowest confidence whose evidence at or above it earns auto
    evidence_at_threshold: IntentEvidence  # the evidence behind the rung: the drafts >= c
    enabled: bool  # AUTONOMY_ENABLED: off, nothing is sent alone whatever the rung

    @property
    def sends_alone(self) -> bool:
        return self.enabled and self.allowed and self.mode == AutonomyMode.AUTO


def _lock(intent: str) -> IntentAutonomy:
    """The intent's row, created in review if it has none, locked FOR UPDATE."""
    IntentAutonomy.objects.get_or_create(intent=intent)
    return IntentAutonomy.objects.select_for_update().get(intent=intent)


def _state(row: IntentAutonomy) -> dict[str, Any]:
    return {
        "mode": row.mode,
        "allowed": row.allowed,
        "canary": row.canary,
        "min_confidence": row.min_confidence,
    }


def _audit(row: IntentAutonomy, actor: Actor, action: str, before: Any, **meta: Any) -> None:
    draft = row.demoted_draft if action == AuditAction.AUTONOMY_DEMOTED else None
    after = {**_state(row), "intent": row.intent}
    if action == AuditAction.AUTONOMY_DEMOTED:
        after["reason"] = row.demoted_reason
    AuditLog.objects.record(
        actor,
        action,
        conversation_id=draft.conversation_id if draft else None,
        draft_id=draft.pk if draft else None,
        before=before,
        after=after,
        intent=row.intent,
        **meta,
    )
    change = f"{action} {row.intent}: {after}"
    transaction.on_commit(lambda: logger.warning("autonomy: %s", change))


def check_intent(intent: str) -> str:
    if not intent or len(intent) > 64:
        raise AutonomyError("name an intent")
    return intent


def check_reason(reason: str) -> str:
    if reason not in DemotionReason.values:
        raise AutonomyError(f"reason must be one of {', '.join(DemotionReason.values)}")
    return reason


def do_move(row: IntentAutonomy, move: Move) -> None:
    """The locked row takes policy.reweigh's move: promoted (auto, in its canary, from now),
    its canary ended, or its threshold recalibrated; a demotion goes through do_demote."""
    before = _state(row)
    meta: dict[str, Any] = {}
    if move.event == PROMOTED:
        row.mode, row.canary, row.since = AutonomyMode.AUTO, True, timezone.now()
    elif move.event == CANARY_ENDED:
        row.canary = False
        meta["canary_ended"] = True
    else:
        meta["recalibrated"] = True
        if move.canary:
            # A lower threshold: back into the canary, its reviews counted from now.
            row.canary, row.since = True, timezone.now()
            meta["canary_again"] = True
    row.min_confidence = move.min_confidence
    row.save()
    _audit(row, Actor.system("autonomy"), AuditAction.AUTONOMY_PROMOTED, before, **meta)


def do_demote(row: IntentAutonomy, reason: str, draft: Draft | None, actor: Actor) -> None:
    """The locked row goes back to review; its evidence starts afresh from now."""
    before = _state(row)
    now = timezone.now()
    row.mode, row.canary, row.since = AutonomyMode.REVIEW, False, now
    row.demoted_at, row.demoted_reason, row.demoted_draft = now, reason, draft
    row.save()
    _audit(row, actor, AuditAction.AUTONOMY_DEMOTED, before)


def update_for_intent(intent: str) -> IntentAutonomy:
    """Re-weighs the intent's rung on its evidence since its last demotion (policy.reweigh):
    promotes it if earned and allowed, ends its canary, recalibrates its threshold, or demotes
    it (BELOW_TARGET) if no threshold earns auto any more. Idempotent."""
    check_intent(intent)
    with transaction.atomic():
        row = _lock(intent)
        auto = row.mode == AutonomyMode.AUTO
        move = reweigh(
            LadderRules.from_settings(),
            auto=auto,
            allowed=row.allowed,
            canary=row.canary,
            min_confidence=row.min_confidence,
            evidence=confidence_pairs(intent, row.demoted_at),
            since_promotion=confidence_pairs(intent, row.since) if auto and row.canary else (),
        )
        if move is None:
            pass
        elif move.event == DemotionReason.BELOW_TARGET:
            do_demote(row, DemotionReason.BELOW_TARGET, None, Actor.system("autonomy"))
        else:
            do_move(row, move)
    return row


def demote(
    intent: str, reason: str, draft: Draft | None = None, actor: Actor | None = None
) -> bool:
    """Takes the intent back to review at once if it is auto (True), audited with the reason
    and the draft that triggered it; an intent in review stays as it is (False), and so does
    one whose rejected draft was below its threshold (False: evidence only)."""
    check_intent(intent)
    check_reason(reason)
    with transaction.atomic():
        row = IntentAutonomy.objects.select_for_update().filter(intent=intent).first()
        if row is None or row.mode != AutonomyMode.AUTO:
            return False
        if reason == DemotionReason.REJECTED and not _rejection_takes_back(row, draft):
            return False
        do_demote(row, reason, draft, actor or Actor.system("autonomy"))
    return True


def _rejection_takes_back(row: IntentAutonomy, draft: Draft | None) -> bool:
    """policy.take_back_on_review on the locked row: a rejected suggestion below the rung's
    threshold is evidence (re-weighed after the review), not a take-back."""
    if draft is None:
        return True
    confidence = draft.confidence
    verdict = ReviewVerdict.REJECTED
    return take_back_on_review(True, verdict, confidence, row.min_confidence) is not None


def demote_for_draft(draft: Draft, reason: str, actor: Actor) -> bool:
    """A take-back signal on `draft`: the intent it was drafted (and maybe sent alone) under is
    demoted if it is auto. A rejected draft that its run escalated was no suggestion: no
    evidence, no take-back."""
    if reason == DemotionReason.REJECTED and draft.escalation_reason:
        return False
    intent = drafted_intent(draft)
    return bool(intent) and demote(intent, reason, draft, actor)


def drafted_intent(draft: Draft) -> str:
    """The intent the run gave the draft: an agent who re-labels a wrong auto-sent reply before
    correcting it (or a customer's 👎 after it) must take back the intent that sent it, not the
    label it has now. Its first re-label's `before` says it; none: the label is the run's."""
    first = (
        AuditLog.objects.filter(draft_id=draft.pk, action=AuditAction.RELABELLED)
        .order_by("created_at", "id")
        .values_list("before", flat=True)
        .first()
    )
    if isinstance(first, dict) and isinstance(first.get("intent"), str):
        return str(first["intent"])
    return draft.intent


def set_allowed(intent: str, allowed: bool, actor: Actor) -> IntentAutonomy:
    """The team's switch for one intent. Off: never sent alone (an auto intent is demoted,
    SWITCHED_OFF). On: the intent may earn auto again (re-weighed at once)."""
    check_intent(intent)
    with transaction.atomic():
        row = _lock(intent)
        if row.allowed != allowed:
            before = _state(row)
            row.allowed = allowed
            row.save(update_fields=["allowed", "updated_at"])
            _audit(row, actor, AuditAction.AUTONOMY_SWITCHED, before)
            if not allowed and row.mode == AutonomyMode.AUTO:
                do_demote(row, DemotionReason.SWITCHED_OFF, None, actor)
    if allowed:
        row = update_for_intent(intent)
    return row


def _reviewed_intents() -> set[str]:
    """The intents with reviews, found a step at a time along draft_evidence_idx (the next
    intent after the last one found: an index probe each), rather than by reading every
    reviewed draft for their DISTINCT intents."""
    reviewed = reviewed_drafts().order_by("intent").values_list("intent", flat=True)
    found: set[str] = set()
    last = ""
    while (intent := reviewed.filter(intent__gt=last).first()) is not None:
        found.add(intent)
        last = intent
    return found


def rungs() -> list[Rung]:
    """Every intent of the taxonomy, any with a row and any with reviews, by name."""
    rows = {row.intent: row for row in IntentAutonomy.objects.all()}
    enabled = bool(settings.AUTONOMY_ENABLED)
    rules = LadderRules.from_settings()
    result = []
    for intent in sorted({*intents(), *rows, *_reviewed_intents()}):
        row = rows.get(intent) or IntentAutonomy(intent=intent)
        judged = reviews(intent, row.demoted_at)  # one read for the rung's three figures
        threshold = rules.threshold(pairs(judged))
        result.append(
            Rung(
                intent=intent,
                mode=row.mode,
                allowed=row.allowed,
                canary=row.canary,
                since=row.since,
                min_confidence=row.min_confidence,
                demoted_at=row.demoted_at,
                demoted_reason=row.demoted_reason,
                demoted_draft_id=str(row.demoted_draft_id) if row.demoted_draft_id else None,
                evidence=tally(intent, judged),
                threshold=threshold,
                evidence_at_threshold=tally(intent, judged, threshold),
                enabled=enabled,
            )
        )
    return result


def intents_to_sweep() -> list[str]:
    """The intents the periodic sweep re-weighs: every one with a row or a human review."""
    return sorted({*IntentAutonomy.objects.values_list("intent", flat=True), *_reviewed_intents()})
