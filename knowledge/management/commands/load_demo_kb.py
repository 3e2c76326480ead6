"""Load the shipped demo KB once: on an empty knowledge base (or always with --force)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from knowledge.ingest import ingest
from knowledge.management.commands.build_demo_kb import DEMO_KB, DEMO_KB_LANGUAGES
from knowledge.models import KBDocument


class Command(BaseCommand):
    help = "Load the demo knowledge base if the knowledge base is empty."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--force", action="store_true", help="upsert even if not empty")

    def handle(self, *args: Any, **options: Any) -> None:
        if KBDocument.objects.exists() and not options["force"]:
            self.stdout.write("knowledge base not empty: demo KB not loaded")
            return
        report = ingest("jsonl", DEMO_KB)
        self.stdout.write(f"demo KB: {report.summary()}")
        # A few of its answers written in Spanish, French, German and Portuguese (#31).
        report = ingest("jsonl", DEMO_KB_LANGUAGES)
        self.stdout.write(f"demo KB, other languages: {report.summary()}")
