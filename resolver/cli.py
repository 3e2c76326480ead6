"""The batch form shared by analysis commands: --file IN.jsonl of {"id", "text"}, or one TEXT."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


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


class BatchCommand(BaseCommand):
    """Base of the analysis commands (`triage`, `draft`): a positional TEXT or --file IN.jsonl,
    --json for one JSON object per input line on stdout, a human line otherwise."""

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", nargs="?")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--file", type=Path, help='JSONL of {"id", "text"}')

    def batch(self, options: dict[str, Any]) -> list[tuple[Any, str]]:
        """The inputs; bad input (or one empty TEXT) exits with status 2."""
        try:
            items = read_batch(options["file"], options["text"])
        except BatchInputError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if options["file"] is None and not items[0][1].strip():
            raise CommandError("the text is empty", returncode=2)
        return items

    def emit(self, record: dict[str, Any], options: dict[str, Any]) -> None:
        if options["json"]:
            sys.stdout.write(json.dumps(record, default=str) + "\n")
        elif "error" in record:
            self.stdout.write(record["error"])
        else:
            self.stdout.write(self.describe(record))

    def describe(self, record: dict[str, Any]) -> str:
        """The human-readable form of one output object."""
        raise NotImplementedError
