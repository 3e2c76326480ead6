"""Triage of one message: intent and category (the intent classifier), what kind of message it
is, its sentiment and urgency (the tone model, agents/triage/tone_model.py)."""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.triage.classifier import load_classifier
from agents.triage.tone_model import ACK_MIN, load_tone_model
from support.vocabulary import MessageKind, Urgency


@dataclass(frozen=True)
class Triage:
    intent: str
    category: str
    sentiment: str
    urgency: str
    confidence: float  # the intent probability
    scores: dict[str, float]  # each head's probability
    kind: str = MessageKind.STORE_QUESTION
    # Probability of each message kind (MessageKind).
    kinds: dict[str, float] = field(default_factory=dict)
    # P(store question) of the text the intent was read from, when that differs from the message
    # (a follow-up: "and how long does it take?" is a store question with its previous turn).
    context_answerable: float | None = None
    # Calibrated probability of each urgency (Urgency).
    urgencies: dict[str, float] = field(default_factory=dict)
    # Per head ("kind", "sentiment", "urgency"): the cues that decided it (Tone.cues).
    cues: dict[str, list[str]] = field(default_factory=dict)
    # The tone model's threshold on scores["acknowledge"] (P(a person would thank it)).
    acknowledge_min: float = ACK_MIN
    # The message's language (#31: agents/triage/language.py; ISO 639-1 or "und"; "" = not
    # detected) and the detector's confidence in it.
    language: str = ""
    language_confidence: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "category": self.category,
            "sentiment": self.sentiment,
            "urgency": self.urgency,
            "confidence": round(self.confidence, 4),
            "kind": self.kind,
            "cues": self.cues,
            "language": self.language,
        }

    @property
    def answerable_probability(self) -> float:
        """How likely a store's help centre answers this at all (P(store_question)), of the
        message or of the message in its context, whichever is higher."""
        own = self.kinds.get(MessageKind.STORE_QUESTION, 1.0)
        return max(own, self.context_answerable or 0.0)


def triage_texts(texts: list[str], tone_texts: list[str] | None = None) -> list[Triage]:
    """`tone_texts`: what the tone is read from when it differs from what the intent is read
    from (a follow-up's intent needs the previous message; its tone is its own)."""
    intents = load_classifier().predict(texts)
    model = load_tone_model()
    tones = model.predict(tone_texts or texts)
    in_context: list[float | None] = [None] * len(texts)
    if tone_texts:
        differs = [i for i, (a, b) in enumerate(zip(texts, tone_texts, strict=True)) if a != b]
        for index, tone in zip(differs, model.predict([texts[i] for i in differs]), strict=True):
            in_context[index] = tone.kind_scores.get(MessageKind.STORE_QUESTION, 0.0)
    return [
        Triage(
            intent=predicted["intent"],
            category=predicted["category"],
            sentiment=tone.sentiment,
            urgency=tone.urgency,
            confidence=predicted["intent_probability"],
            scores={
                "intent": round(predicted["intent_probability"], 4),
                "category": round(predicted["category_probability"], 4),
                "sentiment": tone.sentiment_confidence,
                "urgency": tone.urgency_confidence,
                "kind": tone.kind_scores[tone.kind],
                MessageKind.PRAISE: tone.kind_scores.get(MessageKind.PRAISE, 0.0),
                "acknowledge": tone.acknowledge,
                "urgency_high": tone.urgency_scores.get(Urgency.HIGH, 0.0),
            },
            kind=tone.kind,
            kinds=tone.kind_scores,
            context_answerable=context,
            urgencies=tone.urgency_scores,
            cues=tone.cues,
            acknowledge_min=tone.acknowledge_min,
        )
        for predicted, tone, context in zip(intents, tones, in_context, strict=True)
    ]


def triage_text(text: str, tone_text: str | None = None) -> Triage:
    return triage_texts([text], [tone_text] if tone_text else None)[0]
