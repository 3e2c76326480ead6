"""`kb_search --json [--limit N] [--file F] [TEXT]`: hybrid search from the command line."""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import CommandError, CommandParser

from knowledge.models import KBDocument
from knowledge.search import EmptyQueryError, SearchHit
from resolver.cli import BatchCommand, BatchInputError, read_batch


class Command(BatchCommand):
    help = "Search the knowledge base (hybrid: vectors + full text), best first."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--limit", type=int, default=5)

    def handle(self, *args: Any, **options: Any) -> None:
        if not 1 <= options["limit"] <= 100:
            raise CommandError("--limit must be between 1 and 100", returncode=2)
        try:
            items = read_batch(options["file"], options["text"])
        except BatchInputError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if hint := KBDocument.objects.empty_hint():
            self.stderr.write(hint)
        for item_id, text in items:
            try:
                hits = KBDocument.objects.hybrid_search(text, options["limit"])
            except EmptyQueryError as exc:
                if options["file"] is None:
                    raise CommandError(str(exc), returncode=2) from None
                self._write({"id": item_id, "results": [], "error": str(exc)}, options, [])
                continue
            self._write({"id": item_id, "results": [h.as_result() for h in hits]}, options, hits)

    def _write(
        self, record: dict[str, Any], options: dict[str, Any], hits: list[SearchHit]
    ) -> None:
        if options["json"]:
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
            sys.stdout.flush()
            return
        for rank, hit in enumerate(hits, start=1):
            self.stdout.write(
                f"{rank}. [{hit.kb_id}] {hit.title} ({hit.score:.4f})\n   {hit.snippet}"
            )
        if not hits:
            self.stdout.write(record.get("error", "no results"))
