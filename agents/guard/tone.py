"""Tone: no blame, no insults, and empathy when the customer is upset."""

from __future__ import annotations

import re

from agents.state import GuardIssue
from agents.text import sentences
from support.vocabulary import Sentiment

_BLAME = re.compile(
    r"\b(your (own )?fault|you should have (known|read|checked|done|called|contacted|been)|"
    r"you failed to|you didn'?t (read|follow|check)|"
    r"as i (already )?(said|told you|mentioned)|obviously|clearly you|calm down|"
    r"stop (complaining|yelling|shouting)|you people|not our problem|user error|"
    r"you must have (done|made|broken))\b",
    re.IGNORECASE,
)
_INSULT = re.compile(
    r"\b(stupid|idiot\w*|dumb|moron\w*|pathetic|incompetent|shut up|lazy|ridiculous)\b",
    re.IGNORECASE,
)
EMPATHY = re.compile(
    r"\b(sorry|apologi[sz]e|apologies|understand|frustrat\w*|inconvenien\w*|regret|"
    r"appreciate your patience|hear that|upsetting|disappoint\w*)\b",
    re.IGNORECASE,
)


def check_tone(answer: str, sentiment: str) -> list[GuardIssue]:
    issues = [
        GuardIssue("tone", code, sentence[:160])
        for sentence in sentences(answer)
        for code, pattern in (("blame", _BLAME), ("insult", _INSULT))
        if pattern.search(sentence)
    ]
    if sentiment == Sentiment.NEGATIVE and answer.strip() and not EMPATHY.search(answer):
        issues.append(GuardIssue("tone", "no_empathy", "the customer is upset"))
    return issues
