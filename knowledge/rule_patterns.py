"""How a learned guard rule's pattern is compiled and searched, wherever it is (the guard in the
worker, the approval's check and preview): with the `regex` module, in re's own syntax (V0),
because its searches take a time limit and re's cannot. A pattern that backtracks without end
("(a|a)+$" on a long run of a's) must not hang the worker drafting every message."""

from __future__ import annotations

from typing import Any

import regex

# How long one search may take on one text (a draft's sentence, a recent draft's answer).
SEARCH_SECONDS = 0.05
# What compiling a pattern may raise: not a pattern, or a repeat count too large to hold.
PATTERN_ERRORS: tuple[type[Exception], ...] = (regex.error, OverflowError, RecursionError)


def compile_rule(pattern: str) -> Any:
    """The compiled pattern (case-insensitive); raises one of PATTERN_ERRORS."""
    return regex.compile(pattern, regex.IGNORECASE | regex.V0)


def search(compiled: Any, text: str) -> bool:
    """Whether the pattern matches somewhere in `text`; TimeoutError past SEARCH_SECONDS."""
    return compiled.search(text, timeout=SEARCH_SECONDS) is not None
