"""No regular expression of the product re-reads a long input from every position (#30: a
message, an e-mail or a webhook is untrusted text, up to tens of kilobytes). Six did: the address
pattern of agents/missing.py took 29 s on 20 kB of "ab1-ab1-…", language detection's 3 s on one
32 kB token. Every compiled pattern the product's modules hold (at module level, in their
collections and classes) is run over inputs built to make an unanchored `\\S+@` or `[\\w-]*\\d`
backtrack; a linear pattern takes milliseconds on them, a quadratic one seconds."""

from __future__ import annotations

import importlib
import pkgutil
import re
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

PACKAGES = ("agents", "support", "knowledge", "resolver", "evals")
LENGTH = 10_000
# Linear patterns take up to ~25 ms on these inputs here; the quadratic ones took 0.2-7 s.
BUDGET_SECONDS = 0.15
UNITS = (
    "a", "a ", "a.", "a@", "1", "A", "ab1-", "!", '"a', "#a", "a\n", "1 a ", "a1 ", "a-", "a'",
    "a, ", "[a", "a+", "a:", "🙂a", "great job ", "a...", "1 st ", "1,",
)  # fmt: skip
# Numbers in a list ("0,1,2,3,…"): `\b\d[\d,]*…usd` re-read the run from each number (the
# amount pattern of knowledge/specifics.py, 9 s on 20 kB of "1,1,…").
COUNTING = [sep.join(str(n) for n in range(LENGTH))[:LENGTH] for sep in (",", ", ", ".", "-")]


def _modules() -> Iterator[ModuleType]:
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, f"{name}."):
            if any(part in info.name for part in (".tests", ".migrations", ".management")):
                continue
            yield importlib.import_module(info.name)


def _patterns_in(
    value: Any, module: ModuleType, seen: set[int] | None = None
) -> Iterator[re.Pattern[str]]:
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, re.Pattern):
        yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _patterns_in(item, module, seen)
    elif isinstance(value, dict):
        for item in [*value.keys(), *value.values()]:
            yield from _patterns_in(item, module, seen)
    elif isinstance(value, type) and value.__module__ == module.__name__:
        for item in vars(value).values():
            yield from _patterns_in(item, module, seen)


def product_patterns() -> dict[str, re.Pattern[str]]:
    found: dict[str, re.Pattern[str]] = {}
    for module in _modules():
        for name, value in vars(module).items():
            for pattern in _patterns_in(value, module):
                if isinstance(pattern.pattern, str):
                    found.setdefault(f"{module.__name__}.{name}: {pattern.pattern[:80]}", pattern)
    return found


# A word a pattern anchors on, then a long run: side-by-side runs after an anchor ("order" and
# 4,000 spaces: `\s*…\s*…\s*`) backtrack within one match, cubic in the run (157 s).
PREFIXED = [
    prefix + run * (LENGTH // len(run)) + "!"
    for prefix in ("order", "invoice no", "total", "€", "refund", "ship to")
    for run in (" ", " 111", "\t\n")
]


def test_no_pattern_rereads_a_long_input() -> None:
    patterns = product_patterns()
    assert len(patterns) > 100  # the scan sees the product's patterns
    slow = []
    for text in [unit * (LENGTH // len(unit)) for unit in UNITS] + PREFIXED + COUNTING:
        unit = text[:12]
        for where, pattern in patterns.items():
            started = time.perf_counter()
            pattern.sub(" ", text)
            took = time.perf_counter() - started
            if took > BUDGET_SECONDS:
                slow.append(f"{took:.2f} s on {unit!r}…: {where}")
    assert slow == []
