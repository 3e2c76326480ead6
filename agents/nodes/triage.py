"""triage: intent, category, sentiment, urgency (in the conversation's context) and the
message-level signals (request for a human, risk topics, prompt injection)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from agents.message_signals import (
    question_of,
    read_signals,
    without_injection,
    without_question,
)
from agents.services import Services
from agents.state import AgentState, Turn, customer_turns
from agents.triage.language import DetectedLanguage, detect_language
from agents.triage.service import Triage
from knowledge.languages import DEFAULT_LANGUAGE, Language
from support.vocabulary import MessageKind, Sentiment, Urgency

# A short message that leans on the previous one: "and when does it arrive?", "what about
# the other one?". It is read together with the customer's previous message.
_FOLLOW_UP = re.compile(
    r"^\s*(and|also|but|so|ok|okay|then|what about|how about)\b|\b(it|that|this|they|them|its|"
    r"one)\b",
    re.IGNORECASE,
)
FOLLOW_UP_MAX_WORDS = 12
# Risk topics that make a message urgent by themselves (a mention of a doctor or of a lawyer
# does not: the tone model reads those).
URGENT_RISKS = {"threat", "self_harm", "fraud"}


def previous_customer_turn(history: list[Turn]) -> str:
    return next(iter(customer_turns(history)), "")


def context_text(message: str, history: list[Turn]) -> str:
    previous = previous_customer_turn(history)
    short = len(message.split()) <= FOLLOW_UP_MAX_WORDS
    if previous and short and _FOLLOW_UP.search(message):
        return f"{previous}\n{message}"
    return message


def _triage_in_context(message: str, history: list[Turn], services: Services) -> tuple[str, Triage]:
    """(the text the intent is read from, its triage). A short message after an earlier one is
    also read together with it ("will my order history be deleted too?"), and that reading wins
    when it makes triage surer of the intent; the tone is always the message's own."""
    text = context_text(message, history)
    if text != message:
        return text, services.triage(text, message)
    alone = services.triage(message)
    previous = previous_customer_turn(history)
    if not previous or len(message.split()) > FOLLOW_UP_MAX_WORDS:
        return message, alone
    together = f"{previous}\n{message}"
    joined = services.triage(together, message)
    return (together, joined) if joined.confidence > alone.confidence else (message, alone)


def _said_kinds(message: str, services: Services) -> dict[str, float] | None:
    """The tone of what a mixed message says besides its question, read on its own: a
    complaint followed by a question reads as a question as a whole. None when the message is
    all question or has none."""
    said = without_question(message)
    if not question_of(message) or not said or said == message:
        return None
    apart = services.triage(said)
    # Only a clearly negative complaint counts: a neutral account of a problem before the
    # question ("I moved house. How do I change my address?") is the question's context.
    return apart.kinds if apart.sentiment == Sentiment.NEGATIVE else None


def foreign(detected: DetectedLanguage) -> bool:
    """Written in a language other than the KB's default: the intent classifier and the tone
    model were trained on English and read such a message as noise."""
    return detected.determined and detected.language != DEFAULT_LANGUAGE


def _untrained_reading(triaged: Triage, detected: DetectedLanguage) -> Triage:
    """What triage says of a message in a language its models were not trained on (#31): no
    tone read into it (neutral, normal urgency, a store question: nothing to thank, nothing to
    escalate as a complaint on noise; a risk topic still makes it urgent), and no intent yet:
    the retrieve node takes it from the article in the customer's language that answers it."""
    name = Language(detected.language).label
    return replace(
        triaged,
        intent="",
        category="",
        confidence=0.0,
        sentiment=Sentiment.NEUTRAL,
        urgency=Urgency.NORMAL,
        kind=MessageKind.STORE_QUESTION,
        kinds={MessageKind.STORE_QUESTION: 1.0},
        context_answerable=None,
        urgencies={},
        scores={"intent": 0.0, "kind": 1.0, MessageKind.PRAISE: 0.0, "acknowledge": 0.0},
        cues={"kind": [f"written in {name}: the tone model reads English, the tone is not read"]},
    )


def texts_read(message: str, history: list[Turn]) -> list[str]:
    """Every text triage embeds (_triage_in_context, _said_kinds), the KB search's among them:
    known before any is read, so that one encoder pass embeds them all."""
    texts = [message, context_text(message, history)]
    previous = previous_customer_turn(history)
    if previous and len(message.split()) <= FOLLOW_UP_MAX_WORDS:
        texts.append(f"{previous}\n{message}")
    said = without_question(message)
    if question_of(message) and said and said != message:
        texts.append(said)
    return list(dict.fromkeys(texts))


def triage_node(state: AgentState, services: Services) -> dict[str, Any]:
    message = without_injection(state["message"])
    history = state.get("history", [])
    services.embed(texts_read(message, history))
    detected = detect_language(message, customer_turns(history))
    text, triaged = _triage_in_context(message, history, services)
    if foreign(detected):
        triaged = _untrained_reading(triaged, detected)
    triaged = replace(
        triaged, language=detected.language, language_confidence=round(detected.confidence, 4)
    )
    signals = read_signals(
        state["message"],
        triaged.intent,
        triaged.kinds,
        triaged.confidence,
        acknowledge_probability=triaged.scores.get("acknowledge"),
        acknowledge_min=triaged.acknowledge_min,
        said_kinds=None if foreign(detected) else _said_kinds(message, services),
    )
    if set(signals.risks) & URGENT_RISKS and triaged.urgency != Urgency.HIGH:
        # A threat, fraud or self-harm is urgent whatever the wording's tone.
        triaged = replace(triaged, urgency=Urgency.HIGH)
    return {
        "clean_message": message,
        "context_text": text,
        "triage_result": triaged,
        "signals": signals,
        "trace": ["triage"],
    }
