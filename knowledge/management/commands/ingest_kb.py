"""`ingest_kb SOURCE PATH`: idempotent upsert of a knowledge source, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from knowledge.ingest import READERS, SourceError, ingest


class Command(BaseCommand):
    help = "Ingest knowledge: bitext (responses.csv), abcd (guidelines.json), markdown, jsonl."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("source", help=f"one of: {', '.join(READERS)}")
        parser.add_argument("path", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        bars: list[tqdm] = []

        def progress_factory(total: int) -> Any:
            bar = tqdm(total=total, unit="doc", file=sys.stderr, disable=None)
            bars.append(bar)
            return bar.update

        try:
            report = ingest(options["source"], options["path"], progress_factory)
        except SourceError as exc:
            raise CommandError(str(exc)) from None
        finally:
            for bar in bars:
                bar.close()
        for problem in report.problems:
            self.stderr.write(f"skipped {problem}")
        self.stdout.write(report.summary())
