"""What the console's Autonomy page shows (#29): each intent's rung on the ladder with the
evidence behind it (support/autonomy/ladder.rungs(), read defensively: it may gain fields), the
last take-back and the draft that caused it, and the global state (AUTONOMY_ENABLED and the
console's kill switch). The full page and the htmx answer to a switch render one partial."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings

from support.autonomy.evidence import wilson_lower_bound
from support.autonomy.ladder import Rung, rungs
from support.autonomy.switch import autonomy_on
from support.models import AutonomySwitch, Draft
from support.vocabulary import AutonomyMode, DemotionReason

# "Reviews still needed" stops counting here: past it the intent is far from the target.
MAX_NEEDED = 10_000


def reviews_needed(good: int, reviewed: int, min_reviewed: int, target: float) -> int | None:
    """How many more reviews, all good, would earn auto: at least up to `min_reviewed`, and
    until the Wilson lower bound reaches `target`; None if more than MAX_NEEDED would."""
    for more in range(max(0, min_reviewed - reviewed), MAX_NEEDED + 1):
        if wilson_lower_bound(good + more, reviewed + more) >= target:
            return more
    return None


def _reason_label(reason: str) -> str:
    try:
        return str(DemotionReason(reason).label)
    except ValueError:
        return reason


@dataclass(frozen=True)
class RungRow:
    rung: Rung
    demoted_conversation_id: Any  # the conversation of the draft that caused the last demotion

    def _evidence(self, name: str) -> Any:
        return getattr(self.rung.evidence, name, 0)

    @property
    def intent(self) -> str:
        return self.rung.intent

    @property
    def auto(self) -> bool:
        return getattr(self.rung, "mode", AutonomyMode.REVIEW) == AutonomyMode.AUTO

    @property
    def allowed(self) -> bool:
        return bool(getattr(self.rung, "allowed", True))

    @property
    def canary(self) -> bool:
        return self.auto and bool(getattr(self.rung, "canary", False))

    @property
    def since(self) -> datetime | None:
        return getattr(self.rung, "since", None)

    @property
    def min_confidence(self) -> float | None:
        return getattr(self.rung, "min_confidence", None)

    @property
    def evidence(self) -> dict[str, Any]:
        names = ("reviewed", "sent_unchanged", "small_edit", "large_edit", "rejected")
        return {name: self._evidence(name) for name in (*names, "thumbs_down")}

    @property
    def lower_bound(self) -> float:
        return float(self._evidence("lower_bound") or 0.0)

    @property
    def meets_target(self) -> bool:
        return self.lower_bound >= settings.AUTONOMY_TARGET

    @property
    def needed(self) -> int | None:
        return reviews_needed(
            self._evidence("sent_unchanged"),
            self._evidence("reviewed"),
            settings.AUTONOMY_MIN_REVIEWED,
            settings.AUTONOMY_TARGET,
        )

    @property
    def demoted_at(self) -> datetime | None:
        return getattr(self.rung, "demoted_at", None)

    @property
    def demoted_reason(self) -> str:
        return _reason_label(getattr(self.rung, "demoted_reason", "") or "")

    @property
    def demoted_draft_id(self) -> str | None:
        return getattr(self.rung, "demoted_draft_id", None)


@dataclass(frozen=True)
class GlobalState:
    environment: bool  # AUTONOMY_ENABLED: the master, set at deploy
    console: bool  # the kill switch on this page
    changed_by: str
    changed_at: datetime | None

    @property
    def on(self) -> bool:
        return self.environment and self.console

    @classmethod
    def load(cls) -> GlobalState:
        row = AutonomySwitch.objects.filter(pk=1).first()
        return cls(
            environment=bool(settings.AUTONOMY_ENABLED),
            console=row is None or row.on,
            changed_by=row.changed_by if row else "",
            changed_at=row.updated_at if row else None,
        )


def _demoted_conversations(all_rungs: list[Rung]) -> dict[str, Any]:
    ids = [str(getattr(r, "demoted_draft_id", None) or "") for r in all_rungs]
    ids = [pk for pk in ids if pk]
    rows = Draft.objects.filter(pk__in=ids).values_list("pk", "conversation_id")
    return {str(pk): conversation_id for pk, conversation_id in rows}


def autonomy_context() -> dict[str, Any]:
    all_rungs = rungs()
    conversations = _demoted_conversations(all_rungs)
    rows = [
        RungRow(rung, conversations.get(str(getattr(rung, "demoted_draft_id", None) or "")))
        for rung in all_rungs
    ]
    state = GlobalState.load()
    return {
        "rows": rows,
        "state": state,
        "sending": autonomy_on(),
        "auto_count": sum(1 for row in rows if row.auto and row.allowed),
        "min_reviewed": settings.AUTONOMY_MIN_REVIEWED,
        "target": settings.AUTONOMY_TARGET,
        "canary_share": settings.AUTONOMY_CANARY_SHARE,
    }
