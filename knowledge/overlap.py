"""How much two texts say the same in words: SQuAD-style token F1 (bag of lower-cased words).
The learning loop uses it to tell whether two answers are one; the eval harness scores drafts
against reference answers with it."""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokens(text: str) -> list[str]:
    return WORD.findall(text.lower())


def token_f1(answer: str, reference: str) -> float:
    got, want = tokens(answer), tokens(reference)
    if not got or not want:
        return float(got == want)
    common = sum((Counter(got) & Counter(want)).values())
    if not common:
        return 0.0
    precision, recall = common / len(got), common / len(want)
    return 2 * precision * recall / (precision + recall)
