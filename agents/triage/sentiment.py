"""Sentiment and urgency from wording. The datasets label neither, so these are transparent
rules (lexicons with negation, intensity from punctuation and capitals) rather than a model
trained on nothing; each returns a label and a probability-like confidence."""

from __future__ import annotations

import re

NEGATIVE = {
    "angry", "annoyed", "annoying", "awful", "bad", "disappointed", "disappointing", "disgusted",
    "frustrated", "frustrating", "furious", "hate", "horrible", "terrible", "unacceptable",
    "worst", "ridiculous", "useless", "scam", "upset", "sucks", "poor", "rude", "broken",
    "damaged", "outraged", "pathetic", "incompetent", "nightmare", "fed", "sick", "wrong",
    "problem", "issue", "complain", "complaint", "waste", "never", "unhappy", "mad", "stupid",
}  # fmt: skip
POSITIVE = {
    "thanks", "thank", "great", "awesome", "love", "excellent", "appreciate", "happy", "perfect",
    "wonderful", "amazing", "good", "nice", "helpful", "pleased", "glad", "fantastic",
}  # fmt: skip
NEGATORS = {"not", "no", "never", "don't", "dont", "isn't", "wasn't", "can't", "cannot", "won't"}
URGENT = re.compile(
    r"\b(urgent|urgently|asap|immediately|right now|right away|emergency|today|tonight|"
    r"fraud|fraudulent|unauthori[sz]ed|hacked|stolen|charged twice|double charged|lawyer|"
    r"legal action|sue|police|deadline|as soon as possible)\b",
    re.IGNORECASE,
)
LOW_INTENTS = {"review", "newsletter_subscription", "check_payment_methods", "delivery_options"}
_WORD = re.compile(r"[a-z']+")


def sentiment(text: str) -> tuple[str, float]:
    words = _WORD.findall(text.lower())
    score = 0.0
    for index, word in enumerate(words):
        polarity = (word in POSITIVE) - (word in NEGATIVE)
        if polarity and index and words[index - 1] in NEGATORS:
            polarity = -polarity  # "not happy", "no problem"
        score += polarity
    shouting = text.count("!") >= 2 or sum(w.isupper() and len(w) > 2 for w in text.split()) >= 2
    if shouting and score <= 0:
        score -= 1
    if score <= -1:
        return "NEGATIVE", min(0.95, 0.6 + 0.1 * -score)
    if score >= 1:
        return "POSITIVE", min(0.95, 0.6 + 0.1 * score)
    return "NEUTRAL", 0.7


def urgency(text: str, intent: str, sentiment_label: str) -> tuple[str, float]:
    hits = len(URGENT.findall(text))
    if hits:
        return "HIGH", min(0.95, 0.7 + 0.1 * hits)
    if sentiment_label == "NEGATIVE" and intent in {"complaint", "payment_issue"}:
        return "HIGH", 0.6
    if intent in LOW_INTENTS and sentiment_label != "NEGATIVE":
        return "LOW", 0.6
    return "NORMAL", 0.7
