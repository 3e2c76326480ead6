"""GET /autonomy: each intent's rung on the autonomy ladder and the evidence behind it (#29)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from resolver.api.auth import scoped
from resolver.api.errors import ERRORS
from resolver.models import Scope
from support.autonomy.evidence import IntentEvidence
from support.autonomy.ladder import Rung, rungs
from support.autonomy.switch import console_switch_on
from support.vocabulary import AutonomyMode, DemotionReason

router = Router(tags=["autonomy"])


class EvidenceOut(Schema):
    reviewed: int
    sent_unchanged: int
    lower_bound: float


class RungOut(Schema):
    # CONTRACTS.md: the evidence behind the rung (the reviewed suggestions at or above the
    # calibrated threshold, all of them when none earns auto)
    intent: str
    mode: AutonomyMode
    reviewed: int
    sent_unchanged: int
    lower_bound: float
    since: datetime | None
    demoted_at: datetime | None
    # Additions: the team's switch, the canary, why it was last taken back, the calibrated
    # confidence threshold, and whether AUTONOMY_ENABLED lets anything go out alone at all.
    allowed: bool
    canary: bool
    demoted_reason: DemotionReason | None
    min_confidence: float | None
    enabled: bool
    # The threshold the evidence earns now (what a promotion would take; None: none earns
    # auto) and, for context, every reviewed suggestion since the last demotion.
    threshold: float | None
    all_reviewed: EvidenceOut


class RungPage(Schema):
    items: list[RungOut]


def _evidence_wire(evidence: IntentEvidence) -> dict[str, Any]:
    return {
        "reviewed": evidence.reviewed,
        "sent_unchanged": evidence.sent_unchanged,
        "lower_bound": round(evidence.lower_bound, 4),
    }


def rung_wire(rung: Rung, switch_on: bool = True) -> dict[str, Any]:
    evidence = rung.evidence_at_threshold
    return {
        "intent": rung.intent,
        "mode": rung.mode,
        **_evidence_wire(evidence),
        "since": rung.since,
        "demoted_at": rung.demoted_at,
        "allowed": rung.allowed,
        "canary": rung.canary,
        "demoted_reason": rung.demoted_reason or None,
        "min_confidence": rung.min_confidence,
        # AUTONOMY_ENABLED and the console's kill switch (support/autonomy/switch.py).
        "enabled": rung.enabled and switch_on,
        "threshold": rung.threshold,
        "all_reviewed": _evidence_wire(rung.evidence),
    }


@router.get("/autonomy", response={200: RungPage, **ERRORS}, auth=scoped(Scope.READ))
def list_autonomy(request: HttpRequest) -> dict[str, Any]:
    """Every intent of the taxonomy (and any with a rung), by name: its mode and the evidence
    behind it since its last demotion (reviewed suggestions at or above the threshold, sent
    unchanged or lightly edited and not 👎, the Wilson lower bound of that rate), the threshold
    and every reviewed suggestion for context."""
    switch_on = console_switch_on()
    return {"items": [rung_wire(rung, switch_on) for rung in rungs()]}
