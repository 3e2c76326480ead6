"""Token-aware chunking: passages that fit the embedding window, overlapping at sentence edges."""

from __future__ import annotations

import re
from collections.abc import Callable

from knowledge.embeddings import count_tokens

CHUNK_TOKENS = 200  # under the model's 256-piece window, leaving room for special tokens
OVERLAP_TOKENS = 40

# Blank lines and list items end a unit; so does a sentence end, except after a list number or a
# title ("Ms. Hawkings" is one name: the specifics check must see it whole).
_BLOCK = re.compile(r"\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
_SENTENCE = re.compile(
    r"(?<=[.!?])(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bMrs\.)(?<!\bMx\.)\s+(?=[A-Z0-9\"'(\[])"
)
_LIST_MARKER = re.compile(r"^\s*\d+[.)]$")

Counter = Callable[[str], int]


def split_units(text: str) -> list[str]:
    units: list[str] = []
    for block in _BLOCK.split(text):
        pending = ""
        for sentence in _SENTENCE.split(block.strip()):
            if _LIST_MARKER.match(sentence):  # "1." belongs to the item it numbers
                pending = f"{sentence} "
                continue
            units.append(pending + sentence)
            pending = ""
        if pending:
            units.append(pending.strip())
    return [unit.strip() for unit in units if unit.strip()]


def _split_long(unit: str, limit: int, count: Counter) -> list[str]:
    """A sentence longer than the window is cut between words."""
    pieces: list[str] = []
    words: list[str] = []
    for word in unit.split():
        if words and count(" ".join([*words, word])) > limit:
            pieces.append(" ".join(words))
            words = []
        words.append(word)
    if words:
        pieces.append(" ".join(words))
    return pieces


def _overlap_tail(units: list[tuple[str, int]], budget: int) -> list[tuple[str, int]]:
    tail: list[tuple[str, int]] = []
    used = 0
    for unit in reversed(units):
        if used + unit[1] > budget:
            break
        tail.insert(0, unit)
        used += unit[1]
    return tail


def chunk_text(
    text: str,
    max_tokens: int = CHUNK_TOKENS,
    overlap_tokens: int = OVERLAP_TOKENS,
    count: Counter = count_tokens,
) -> list[str]:
    """Split `text` into passages of at most `max_tokens` model tokens; consecutive passages
    share up to `overlap_tokens` of whole sentences so an answer cut at an edge stays findable."""
    units: list[tuple[str, int]] = []
    for sentence in split_units(text):
        size = count(sentence)
        parts = _split_long(sentence, max_tokens, count) if size > max_tokens else [sentence]
        units.extend((part, size if len(parts) == 1 else count(part)) for part in parts)
    chunks: list[str] = []
    current: list[tuple[str, int]] = []
    for piece in units:
        if current and sum(n for _, n in current) + piece[1] > max_tokens:
            chunks.append(" ".join(u for u, _ in current))
            current = _overlap_tail(current, overlap_tokens)
            if sum(n for _, n in current) + piece[1] > max_tokens:
                current = []
        current.append(piece)
    if current:
        chunks.append(" ".join(u for u, _ in current))
    return chunks
