"""Message-level signals that decide escalation before any wording is judged: a request for a
human, high-risk topics (threats, legal, medical, self-harm, fraud), prompt injection (plain
patterns on purpose: every hit is explainable to the agent who reviews it), and, from the tone
model's reading of the message, a complaint or praise a person would thank. Praise is acknowledged
only when nothing vetoes it: sarcasm or irony, another company praised, a problem attached, thanks
closing a complaint, a question to answer (agents/triage/cues.py names why)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from agents.text import sentences
from agents.triage.cues import FRAUD, LEGAL, QUESTION, praise_veto_cues, sarcasm_cues
from knowledge.taxonomy import COMPLAINT_INTENT, HUMAN_INTENTS
from support.vocabulary import MessageKind

# Tone-model probability above which a message counts as a complaint, chosen on the real-tweet
# tuning set (evals/sets/real_tweets_dev.jsonl; README, "Quality"). The threshold on P(a person
# would thank it) is the tone model's own (its ack head's, chosen on the same set); PRAISE_MIN
# stands in when triage gives none (the kind head's P(praise)).
DISSATISFIED_MIN = 0.5
PRAISE_MIN = 0.8
INTENT_MIN = 0.5
# P(a person would thank it) of praise something vetoes: small, not nil (a veto can misfire). On
# the real-tweet tuning half, 4 of the 238 messages given P <= 0.02 were praise to thank (1.7%).
VETOED_ACKNOWLEDGE = 0.02

# Questions that ask nothing: a wink or an exclamation in question form ("see what I did there?",
# "how cool is that?", "who knew?"); praise ending in one is still praise.
_RHETORICAL = re.compile(
    r"\b(?:see what (?:i|we) did there|how (?:cool|awesome|great|amazing|good|nice|lucky) is "
    r"that|who knew|what more could (?:i|you|we|anyone) (?:ask|want|wish) for|why can'?t "
    r"everyone be (?:this|so|like)|how (?:did|do) (?:i|we) (?:ever )?(?:live|cope|manage) "
    r"without)\b[^?]*\?+",
    re.IGNORECASE,
)
_HUMAN = re.compile(
    r"\b(speak|talk|chat|connect|put me through|transfer me)\b[^.?!]{0,30}\b(human|person|"
    r"agent|representative|someone|somebody|manager|supervisor|operator|real people)\b|"
    r"\b(want|need|get|give me)\b[^.?!]{0,15}\b(human|real person|live agent|human agent)\b|"
    # "a real person" asked for, not one who already did something ("finally a real human
    # replied, thanks!" asks for nobody).
    r"\b(real|live|actual) (person|human|agent)\b(?!\s+(?:who\s+|that\s+)?(?:has\s+|had\s+)?"
    r"(?:finally\s+|actually\s+|just\s+)?(?:replied|answered|responded|helped|got back|sorted|"
    r"fixed|solved|called|listened|cared|read))|\bnot (a|another) (bot|robot|machine)\b",
    re.IGNORECASE,
)
RISK_PATTERNS: dict[str, re.Pattern[str]] = {
    "threat": re.compile(
        r"\b(kill|hurt|shoot|stab|bomb|attack|beat up|destroy) (you|your|them|him|her|everyone)\b|"
        r"\b(i will|i'll|gonna|going to) (find|come for|come after) you\b",
        re.IGNORECASE,
    ),
    "legal": re.compile(LEGAL, re.IGNORECASE),
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
    "fraud": re.compile(FRAUD, re.IGNORECASE),
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
    praise: bool = False  # thanks or praise with nothing to answer: acknowledged (the route)
    acknowledge: float = 0.0  # P(a person would thank it): P(praise), unless a veto says not
    # The customer's question or request sentences, verbatim ("" if none): a mixed message's
    # part to answer, named for the agent when a person takes it.
    question: str = ""
    vetoes: tuple[str, ...] = ()  # why praise is not thanked (sarcasm, a problem, a question)

    def as_dict(self) -> dict[str, object]:
        return {**asdict(self), "risks": list(self.risks), "vetoes": list(self.vetoes)}


def asks_for_person(text: str) -> bool:
    """The words ask for a person ("I want to speak to a human agent"), whatever the intent
    says: praise naming an agent ("best gate agent I've ever seen") asks for nobody."""
    return bool(_HUMAN.search(text))


def question_of(text: str) -> str:
    """The sentences of `text` that ask or request something, verbatim ("" if none)."""
    asked = [
        sentence for sentence in sentences(text) if QUESTION.search(_RHETORICAL.sub("", sentence))
    ]
    return " ".join(asked)


def without_question(text: str) -> str:
    """`text` minus its question and request sentences ("" if nothing else is said)."""
    return " ".join(
        sentence
        for sentence in sentences(text)
        if not QUESTION.search(_RHETORICAL.sub("", sentence))
    )


_WORD = re.compile(r"[^\W\d_]{2,}")  # two letters of any alphabet


def _vetoes(text: str, question: str, complaint: bool, risks: tuple[str, ...]) -> list[str]:
    """Why praise in this message is not praise a person would thank."""
    found = [*sarcasm_cues(text), *praise_veto_cues(text)]
    if not _WORD.search(text):
        # A row of emoji says too little to thank (🙂🙂🙂 may be irony, a test, a slip): a
        # person reads it.
        found.append("no words")
    if question:
        found.append("asks something to answer")
    if complaint:
        found.append("a complaint")
    found += [f"risk: {risk}" for risk in risks]
    return list(dict.fromkeys(found))


def read_signals(
    text: str,
    intent: str,
    kinds: dict[str, float] | None = None,
    intent_confidence: float = 1.0,
    acknowledge_probability: float | None = None,
    said_kinds: dict[str, float] | None = None,
    acknowledge_min: float = PRAISE_MIN,
) -> MessageSignals:
    """`kinds`: the tone model's probability of each message kind (Triage.kinds);
    `acknowledge_probability`: its ack head's calibrated P(a person would thank it)
    (Triage.scores["acknowledge"]), said from `acknowledge_min` (Triage.acknowledge_min); without
    it, P(praise) of `kinds` from PRAISE_MIN.
    An intent counts only when triage is fairly sure of it (a row of emoji is no request for a
    human). Sarcasm is a complaint whatever the words' tone ("great job losing my parcel 🙄").
    `said_kinds`: the kinds of what a mixed message says besides its question (the question
    waters a complaint down: "fifteen years a customer and that ends today. How do I close my
    account?")."""
    kinds = kinds or {}
    sure = intent if intent_confidence >= INTENT_MIN else ""
    risks = tuple(name for name, pattern in RISK_PATTERNS.items() if pattern.search(text))
    complaint = (
        sure == COMPLAINT_INTENT
        or kinds.get(MessageKind.DISSATISFIED, 0.0) >= DISSATISFIED_MIN
        or bool(sarcasm_cues(text))
        or (said_kinds or {}).get(MessageKind.DISSATISFIED, 0.0) >= DISSATISFIED_MIN
    )
    human = (sure in HUMAN_INTENTS and not complaint) or bool(_HUMAN.search(text))
    question = question_of(text)
    vetoes = tuple(_vetoes(text, question, complaint, risks))
    if acknowledge_probability is None:
        thanked, threshold = kinds.get(MessageKind.PRAISE, 0.0), PRAISE_MIN
    else:
        thanked, threshold = acknowledge_probability, acknowledge_min
    acknowledge = min(thanked, VETOED_ACKNOWLEDGE) if vetoes else thanked
    return MessageSignals(
        human_requested=human,
        risks=risks,
        injection=bool(_INJECTION.search(text)),
        complaint=complaint,
        praise=acknowledge >= threshold,
        acknowledge=round(acknowledge, 4),
        question=question,
        vetoes=vetoes,
    )


def without_injection(text: str) -> str:
    """The text minus sentences that try to instruct the assistant: they are data, and must not
    steer triage, retrieval or the draft. Whatever is left (or the original, if nothing is)."""
    kept = [sentence for sentence in sentences(text) if not _INJECTION.search(sentence)]
    return " ".join(kept) if kept else text
