"""Message-level signals that decide escalation before any wording is judged: a request for a
human, high-risk topics (threats, legal, medical, self-harm, fraud), prompt injection (plain
patterns on purpose: every hit is explainable to the agent who reviews it), and, from the tone
model's reading of the message, a complaint or praise."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from agents.text import sentences
from knowledge.taxonomy import COMPLAINT_INTENT, HUMAN_INTENTS
from support.vocabulary import MessageKind

# Tone-model probabilities above which a message counts as a complaint or as praise, chosen on
# the real-tweet tuning set (evals/sets/real_tweets_dev.jsonl; README, "Quality").
DISSATISFIED_MIN = 0.5
PRAISE_MIN = 0.8
INTENT_MIN = 0.5

_HUMAN = re.compile(
    r"\b(speak|talk|chat|connect|put me through|transfer me)\b[^.?!]{0,30}\b(human|person|"
    r"agent|representative|someone|somebody|manager|supervisor|operator|real people)\b|"
    r"\b(want|need|get|give me)\b[^.?!]{0,15}\b(human|real person|live agent|human agent)\b|"
    r"\b(real|live|actual) (person|human|agent)\b|\bnot (a|another) (bot|robot|machine)\b",
    re.IGNORECASE,
)
RISK_PATTERNS: dict[str, re.Pattern[str]] = {
    "threat": re.compile(
        r"\b(kill|hurt|shoot|stab|bomb|attack|beat up|destroy) (you|your|them|him|her|everyone)\b|"
        r"\b(i will|i'll|gonna|going to) (find|come for|come after) you\b",
        re.IGNORECASE,
    ),
    "legal": re.compile(
        r"\b(lawyer|attorney|solicitor|lawsuit|sue|suing|legal action|court|small claims|"
        r"class action|gdpr request|data protection authority|ombudsman)\b",
        re.IGNORECASE,
    ),
    "medical": re.compile(
        r"\b(allergic reaction|hospital|injur(y|ed|ies)|burn(ed|t)? me|poison(ed|ing)?|"
        r"rash|choking|doctor|medical|medication|overdose)\b",
        re.IGNORECASE,
    ),
    "self_harm": re.compile(
        r"\b(kill myself|suicid(e|al)|end my life|hurt myself|self[- ]harm|want to die)\b",
        re.IGNORECASE,
    ),
    # Someone else's personal data: never answered from the KB, whoever asks.
    "privacy": re.compile(
        r"\b(home address|address|phone number|e-?mail(?: address)?|order history|password|"
        r"personal (?:data|details|information))\b[^.?!]{0,40}\b(?:of|for|belonging to)\b"
        r"[^.?!]{0,25}\b(?:the person|someone|somebody|another customer|other customers|"
        r"customer(?!\s*(?:service|support|care))|employee|driver|courier|staff member)\b",
        re.IGNORECASE,
    ),
    "fraud": re.compile(
        r"\b(fraud(ulent)?|scam(med)?|unauthori[sz]ed (charge|payment|transaction|purchase)s?|"
        r"stolen (card|identity|account)|identity theft|hacked|someone (used|accessed) my)\b",
        re.IGNORECASE,
    ),
}
_INJECTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b[^.?!]{0,40}\b(instructions?|rules|prompts?|"
    r"guidelines|polic(y|ies))\b|\bsystem prompt\b|\byou are now\b|\bdeveloper mode\b|"
    r"\bjailbreak\b|\bact as (an? )?(admin|administrator|developer|system)\b|"
    r"\b(reveal|print|show|repeat)\b[^.?!]{0,30}\b(instructions|prompt|rules)\b|"
    r"</?(system|assistant|instructions?)>|\[\[?system\]?\]",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class MessageSignals:
    human_requested: bool
    risks: tuple[str, ...]  # keys of RISK_PATTERNS that matched
    injection: bool
    complaint: bool = False  # dissatisfaction, anger, a threat to leave: a person answers
    praise: bool = False  # thanks or praise with nothing to answer: acknowledged

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "risks": list(self.risks)}


def read_signals(
    text: str,
    intent: str,
    kinds: dict[str, float] | None = None,
    intent_confidence: float = 1.0,
) -> MessageSignals:
    """`kinds`: the tone model's probability of each message kind (Triage.kinds). An intent
    counts only when triage is fairly sure of it (a row of emoji is no request for a human)."""
    kinds = kinds or {}
    sure = intent if intent_confidence >= INTENT_MIN else ""
    risks = tuple(name for name, pattern in RISK_PATTERNS.items() if pattern.search(text))
    complaint = (
        sure == COMPLAINT_INTENT or kinds.get(MessageKind.DISSATISFIED, 0.0) >= DISSATISFIED_MIN
    )
    human = (sure in HUMAN_INTENTS and not complaint) or bool(_HUMAN.search(text))
    praise = (
        kinds.get(MessageKind.PRAISE, 0.0) >= PRAISE_MIN
        and "?" not in text
        and not (complaint or risks)
    )
    return MessageSignals(human, risks, bool(_INJECTION.search(text)), complaint, praise)


def without_injection(text: str) -> str:
    """The text minus sentences that try to instruct the assistant: they are data, and must not
    steer triage, retrieval or the draft. Whatever is left (or the original, if nothing is)."""
    kept = [sentence for sentence in sentences(text) if not _INJECTION.search(sentence)]
    return " ".join(kept) if kept else text
