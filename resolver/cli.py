"""The batch form shared by analysis commands: --file IN.jsonl of {"id", "text"}, or one TEXT."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class BatchInputError(ValueError):
    """Bad command input: the command exits with status 2."""


def _parse_line(number: int, line: str) -> tuple[Any, str]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BatchInputError(f"line {number}: invalid JSON ({exc.msg})") from None
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise BatchInputError(f'line {number}: expected {{"id": ..., "text": "..."}}')
    return record.get("id"), record["text"]


def read_batch(path: Path | None, text: str | None) -> list[tuple[Any, str]]:
    """(id, text) pairs in input order. Exactly one of path/text must be given."""
    if (path is None) == (text is None):
        raise BatchInputError("give either TEXT or --file IN.jsonl")
    if path is None:
        assert text is not None
        return [(None, text)]
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BatchInputError(f"cannot read {path}: {exc}") from None
    return [_parse_line(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
