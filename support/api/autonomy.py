"""GET /autonomy: each intent's rung on the autonomy ladder and the evidence behind it (#29)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from resolver.api.auth import scoped
from resolver.api.errors import ERRORS
from resolver.models import Scope
from support.autonomy.ladder import Rung, rungs
from support.autonomy.switch import console_switch_on
from support.vocabulary import AutonomyMode, DemotionReason

router = Router(tags=["autonomy"])


class RungOut(Schema):
    # CONTRACTS.md
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


class RungPage(Schema):
    items: list[RungOut]


def rung_wire(rung: Rung, switch_on: bool = True) -> dict[str, Any]:
    evidence = rung.evidence
    return {
        "intent": rung.intent,
        "mode": rung.mode,
        "reviewed": evidence.reviewed,
        "sent_unchanged": evidence.sent_unchanged,
        "lower_bound": round(evidence.lower_bound, 4),
        "since": rung.since,
        "demoted_at": rung.demoted_at,
        "allowed": rung.allowed,
        "canary": rung.canary,
        "demoted_reason": rung.demoted_reason or None,
        "min_confidence": rung.min_confidence,
        # AUTONOMY_ENABLED and the console's kill switch (support/autonomy/switch.py).
        "enabled": rung.enabled and switch_on,
    }


@router.get("/autonomy", response={200: RungPage, **ERRORS}, auth=scoped(Scope.READ))
def list_autonomy(request: HttpRequest) -> dict[str, Any]:
    """Every intent of the taxonomy (and any with a rung), by name: its mode and the evidence
    since its last demotion (reviewed drafts, sent unchanged or lightly edited and not 👎, the
    Wilson lower bound of that rate)."""
    switch_on = console_switch_on()
    return {"items": [rung_wire(rung, switch_on) for rung in rungs()]}
