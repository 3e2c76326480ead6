"""Cue detectors for the tone of a message: sarcasm and irony, and what makes praise no praise to
thank (another company praised, a problem attached, thanks closing a complaint). Each cue is a
short human-readable reason the console shows on hover.

A minimal stand-in for the routing work (branch `route`); the tone-model work replaces it and
keeps these two signatures."""

from __future__ import annotations

import re

_SARCASM: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("eye-roll emoji 🙄", re.compile("\U0001f644")),
    ("unamused emoji 😒", re.compile("\U0001f612")),
    ("upside-down face 🙃", re.compile("\U0001f643")),
    ("“thanks for nothing”", re.compile(r"\bthanks? (you )?for nothing\b", re.I)),
    (
        "“… not”",
        re.compile(
            r"\b(great|good|nice|amazing|awesome|brilliant)\b[^.!?]{0,30}(\.\.\.|…)\s*not\b", re.I
        ),
    ),
    ("“yeah right”", re.compile(r"\byeah,? right\b", re.I)),
    (
        "praise for a failure",
        re.compile(
            r"\b(thanks?( you)?|great job|good job|nice job|well done|way to go|bravo|kudos)\b"
            r"[^.!?]{0,20}\b(for )?(losing|ruining|breaking|ignoring|wasting|delaying|"
            r"cancell?ing|overcharging|charging me twice|messing)\b",
            re.I,
        ),
    ),
)
_VETO: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "another company praised",
        re.compile(
            r"\b(is|are|was|were) (so |way |far |much |a lot )*(better|more helpful|faster|"
            r"cheaper|nicer|easier) than (you|y'all|this)\b|\bunlike you\b|"
            r"\bswitch(ed|ing)? to\b",
            re.I,
        ),
    ),
    (
        "praise with a problem",
        re.compile(
            r"\b(love|like|great|awesome|amazing|thanks?)\b[^.!?]{0,60}\bbut\b[^.!?]{0,80}"
            r"\b(crash\w*|broken|not work\w*|doesn'?t work|won'?t|can'?t|still|never|missing|"
            r"wrong|error|problem|issue)\b",
            re.I,
        ),
    ),
    (
        "praise with a problem",
        re.compile(
            r"(?s)(?=.*\b(love|great|awesome|amazing|thanks?)\b)(?=.*\b(would not|won'?t|"
            r"doesn'?t work|stopped working|not working|broken|crash\w*|never arrived|"
            r"still waiting|no longer)\b)",
            re.I,
        ),
    ),
    (
        "thanks closing a complaint",
        re.compile(r"\bthanks? (you )?anyway\b|\bno thanks to you\b|\bthanks for nothing\b", re.I),
    ),
)


def sarcasm_cues(text: str) -> list[str]:
    """Why the message reads as sarcasm or irony ([] if it does not)."""
    return [cue for cue, pattern in _SARCASM if pattern.search(text)]


def praise_veto_cues(text: str) -> list[str]:
    """Why praise in the message is not praise to thank ([] if nothing vetoes it)."""
    return list(dict.fromkeys(cue for cue, pattern in _VETO if pattern.search(text)))
