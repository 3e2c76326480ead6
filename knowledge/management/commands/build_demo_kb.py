"""Regenerate the shipped demo KB (knowledge/fixtures/demo_kb.jsonl) from the shared datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from knowledge.ingest.readers import read_abcd, read_bitext

DATASETS = Path(settings.BASE_DIR).parent / "shared" / "datasets"
DEMO_KB = Path(settings.BASE_DIR) / "knowledge" / "fixtures" / "demo_kb.jsonl"
# Written by hand, not built: four of the demo KB's answers in es, fr, de and pt (#31).
DEMO_KB_LANGUAGES = Path(settings.BASE_DIR) / "knowledge" / "fixtures" / "demo_kb_languages.jsonl"


class Command(BaseCommand):
    help = "Build the compact demo KB shipped in the repository (Bitext articles + ABCD policies)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bitext", type=Path, default=DATASETS / "bitext" / "responses.csv")
        parser.add_argument("--abcd", type=Path, default=DATASETS / "abcd" / "guidelines.json")
        parser.add_argument("--questions", type=int, default=30, help="questions kept per article")
        parser.add_argument("--out", type=Path, default=DEMO_KB)

    def handle(self, *args: Any, **options: Any) -> None:
        articles, _ = read_bitext(options["bitext"])
        policies, _ = read_abcd(options["abcd"])
        with options["out"].open("w", encoding="utf-8") as handle:
            for spec in [*articles, *policies]:
                record = {
                    "source": spec.source,
                    "external_id": spec.external_id,
                    "title": spec.title,
                    "content": spec.content,
                    "intent": spec.intent,
                    "category": spec.category,
                    "questions": list(spec.questions[: options["questions"]]),
                    "metadata": spec.metadata,
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.stdout.write(f"wrote {len(articles) + len(policies)} documents to {options['out']}")
