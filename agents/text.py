"""Small text helpers shared by the extractive provider and the guard."""

from __future__ import annotations

import re

from knowledge.chunking import split_units

# Started only where a run of spaces starts (the same matches): from inside one, each position
# read the rest of the run again.
_CITATION = re.compile(r"(?<!\s)\s*\[(\d{1,2})\]")
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
STOPWORDS = frozenset(
    """
    a an the and or but if then so to of in on at by for with from as is are was were be been
    being it its this that these those you your yours we our us i me my mine he she they them
    their there here have has had do does did will would can could should may might must shall
    not no yes please thank thanks just also any all some more most very really into out up down
    about over than too what which who whom when where why how am let know get got help need want
    like make sure able feel free reach assist assistance happy glad
    """.split()  # noqa: SIM905
)


# Sentences and list items, in order: the chunker's splitter, so the guard and the drafts cut
# text exactly where retrieval did ("1." stays with the step it numbers).
sentences = split_units


# Phones, word processors and LLMs type \u2019 for ', which the patterns over customers' and drafts'
# words are written with: "I don\u2019t want to cancel" must read as the negation it is.
_APOSTROPHES = str.maketrans(dict.fromkeys("\u2019\u2018\u02bc\u2032\u00b4\u0060\uff07", "'"))
# Markdown's emphasis: "We **will** refund you" says "We will refund you".
_EMPHASIS = re.compile(r"\*{1,3}|(?<!\w)_{1,3}|_{1,3}(?!\w)|~~")


def straight_apostrophes(text: str) -> str:
    return text.translate(_APOSTROPHES)


def as_read(text: str) -> str:
    """`text` as a pattern over words reads it: apostrophes typed as ', no emphasis marks."""
    return _EMPHASIS.sub("", straight_apostrophes(text))


def strip_citations(text: str) -> str:
    return _CITATION.sub("", text)


def cited_numbers(text: str) -> list[int]:
    return [int(n) for n in _CITATION.findall(text)]


def stem(word: str) -> str:
    """A crude suffix stripper: enough to match "cancelling" with "cancel", "orders" with
    "order" when checking that a sentence is backed by a source."""
    for suffix in ("ations", "ation", "ings", "ing", "ied", "ies", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def content_stems(text: str) -> set[str]:
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1}
