"""Why triage read a message as it did, for the console's chips: each head's probability and the
cues that decided it (the tone model's `cues`, the signals' vetoes), as stored in the draft's
triage_scores. The queue row and the draft card, page and live push, read them from here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from support.models import Draft
from support.vocabulary import MessageKind, Urgency

# P(praise) from which a message the run did not thank still shows why not (the tone model read
# praise; a veto or its doubt said otherwise).
PRAISE_SHOWN_MIN = 0.5
NO_CUE = "no single cue decided it"


@dataclass(frozen=True)
class Why:
    label: str  # what the chip says
    probabilities: tuple[tuple[str, float], ...]  # (what, P), e.g. ("P(high)", 0.12)
    cues: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        """One line for the hover title and the screen reader: "P(negative) 0.83 · cues: …"."""
        shown = " · ".join(f"{name} {p:.2f}" for name, p in self.probabilities)
        cues = "; ".join(self.cues) if self.cues else NO_CUE
        return f"{shown} · {cues}" if shown else cues


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _cues(value: Any) -> tuple[str, ...]:
    return tuple(str(cue) for cue in value) if isinstance(value, list | tuple) else ()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _probabilities(*pairs: tuple[str, Any]) -> tuple[tuple[str, float], ...]:
    return tuple((name, p) for name, value in pairs if (p := _number(value)) is not None)


def triage_why(draft: Draft) -> dict[str, Why]:
    """{"sentiment", "urgency", "acknowledgement"?} → Why; the acknowledgement only where the
    run thanked the message or the tone model read praise it did not thank."""
    scores = _dict(draft.triage_scores)
    cues, signals = _dict(scores.get("cues")), _dict(scores.get("signals"))
    sentiment, urgency = draft.sentiment.lower(), draft.urgency.lower()
    high = scores.get("urgency_high") if draft.urgency != Urgency.HIGH else None
    why = {
        "sentiment": Why(
            sentiment,
            _probabilities((f"P({sentiment})", scores.get("sentiment"))),
            _cues(cues.get("sentiment")),
        ),
        "urgency": Why(
            urgency,
            _probabilities((f"P({urgency})", scores.get("urgency")), ("P(high)", high)),
            _cues(cues.get("urgency")),
        ),
    }
    thanked = bool(signals.get(MessageKind.PRAISE))  # the signal is named after the kind
    praise = _number(scores.get(MessageKind.PRAISE))
    # Shown when the message reads as thanks to either head (the ack head's P before vetoes).
    read_as = [p for p in (praise, _number(scores.get("acknowledge"))) if p is not None]
    if thanked or (read_as and max(read_as) >= PRAISE_SHOWN_MIN):
        why["acknowledgement"] = Why(
            "acknowledged" if thanked else "not thanked",
            _probabilities(("P(thank)", signals.get("acknowledge")), ("P(praise)", praise)),
            # The tone model's cues and the vetoes often name the same thing: once each.
            tuple(dict.fromkeys(_cues(cues.get("kind")) + _cues(signals.get("vetoes")))),
        )
    return why


def also_asks(draft: Draft) -> str:
    """The question an escalated mixed message also asks ("" if none, or if the question is
    the whole message): the agent who takes the complaint answers it too."""
    signals = _dict(_dict(draft.triage_scores).get("signals"))
    question = str(signals.get("question") or "").strip()
    if not draft.is_escalated or not question or question == draft.message.body.strip():
        return ""
    return question
