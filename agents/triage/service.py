from __future__ import annotations

from dataclasses import dataclass

from agents.triage.classifier import load_classifier
from agents.triage.sentiment import sentiment, urgency


@dataclass(frozen=True)
class Triage:
    intent: str
    category: str
    sentiment: str
    urgency: str
    confidence: float  # the intent probability
    scores: dict[str, float]  # each head's probability

    def as_dict(self) -> dict[str, object]:
        return {
            "intent": self.intent,
            "category": self.category,
            "sentiment": self.sentiment,
            "urgency": self.urgency,
            "confidence": round(self.confidence, 4),
        }


def triage_texts(texts: list[str]) -> list[Triage]:
    results = []
    for text, predicted in zip(texts, load_classifier().predict(texts), strict=True):
        mood, mood_p = sentiment(text)
        level, level_p = urgency(text, predicted["intent"], mood)
        results.append(
            Triage(
                intent=predicted["intent"],
                category=predicted["category"],
                sentiment=mood,
                urgency=level,
                confidence=predicted["intent_probability"],
                scores={
                    "intent": round(predicted["intent_probability"], 4),
                    "category": round(predicted["category_probability"], 4),
                    "sentiment": mood_p,
                    "urgency": level_p,
                },
            )
        )
    return results


def triage_text(text: str) -> Triage:
    return triage_texts([text])[0]
