"""`triage --json [--file F] [TEXT]`: intent, category, sentiment, urgency, confidence."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.triage.service import triage_texts
from resolver.cli import BatchInputError, read_batch

BATCH = 256


class Command(BaseCommand):
    help = "Classify customer messages: intent, category, sentiment, urgency, confidence."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", nargs="?")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--file", type=Path, help='JSONL of {"id", "text"}')

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            items = read_batch(options["file"], options["text"])
        except BatchInputError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if options["file"] is None and not items[0][1].strip():
            raise CommandError("the text is empty", returncode=2)
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            texts = [text for _, text in batch if text.strip()]
            results = iter(triage_texts(texts)) if texts else iter([])
            for item_id, text in batch:
                if not text.strip():
                    self._emit({"id": item_id, "error": "the text is empty"}, options)
                    continue
                self._emit({"id": item_id, **next(results).as_dict()}, options)

    def _emit(self, record: dict[str, Any], options: dict[str, Any]) -> None:
        if options["json"]:
            sys.stdout.write(json.dumps(record) + "\n")
        elif "error" in record:
            self.stdout.write(record["error"])
        else:
            self.stdout.write(
                f"{record['intent']} ({record['category']}) · {record['sentiment']} · "
                f"{record['urgency']} · confidence {record['confidence']:.2f}"
            )
