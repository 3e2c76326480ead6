"""`triage --json [--file F] [TEXT]`: intent, category, sentiment, urgency, confidence, kind,
cues and language."""

from __future__ import annotations

from typing import Any

from agents.triage.language import detect_language
from agents.triage.service import triage_texts
from resolver.cli import BatchCommand

BATCH = 256


class Command(BatchCommand):
    help = "Classify customer messages: intent, category, sentiment, urgency, confidence."

    def handle(self, *args: Any, **options: Any) -> None:
        items = self.batch(options)
        for start in range(0, len(items), BATCH):
            batch = items[start : start + BATCH]
            texts = [text for _, text in batch if text.strip()]
            results = iter(triage_texts(texts)) if texts else iter([])
            for item_id, text in batch:
                if not text.strip():
                    self.emit({"id": item_id, "error": "the text is empty"}, options)
                    continue
                triaged = next(results).as_dict()
                # The graph's triage node detects it (in the conversation); here, the text alone.
                triaged["language"] = detect_language(text).language
                self.emit({"id": item_id, **triaged}, options)

    def describe(self, record: dict[str, Any]) -> str:
        return (
            f"{record['intent']} ({record['category']}) · {record['sentiment']} · "
            f"{record['urgency']} · confidence {record['confidence']:.2f}"
        )
