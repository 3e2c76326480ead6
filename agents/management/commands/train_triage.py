"""Train the intent classifier on Bitext intents, report dev metrics, write a versioned artifact."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from sklearn.metrics import accuracy_score, f1_score

from agents.splits import family_split
from agents.triage.classifier import train

DEFAULT_DATA = (
    Path(settings.BASE_DIR).parent / "shared" / "datasets" / "bitext" / "intents_train.csv"
)


# A human-labelled example weighs as much as this many template rows: a handful of corrections
# must move a model trained on thousands of templates.
LEARNED_REPEAT = 5


def learned_rows() -> list[dict[str, str]]:
    """The triage examples agents taught (approved re-labels, knowledge.TriageExample)."""
    from knowledge.models import TriageExample

    return [
        {"text": e.text, "intent": e.intent, "category": e.category}
        for e in TriageExample.objects.order_by("id")
    ]


def training_rows(
    templates: list[dict[str, str]], learned: list[dict[str, str]]
) -> tuple[list[dict[str, str]], list[dict[str, str]], dict[str, str]]:
    """(train, dev, intent -> category): the templates split by family, the taught examples
    added to train only (the dev split measures unseen templates, as before), repeated
    LEARNED_REPEAT times."""
    train_rows, dev_rows = family_split(templates)
    categories = {r["intent"]: r["category"] or "other" for r in learned}
    categories.update({r["intent"]: r["category"] for r in templates})
    return [*train_rows, *learned * LEARNED_REPEAT], dev_rows, categories


def read_rows(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return [r for r in csv.DictReader(handle) if r.get("text") and r.get("intent")]
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc}") from None


class Command(BaseCommand):
    help = "Train the triage intent classifier; writes agents/artifacts/NAME.joblib and NAME.json."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
        parser.add_argument("--name", default=settings.TRIAGE_MODEL, help="artifact name")
        parser.add_argument(
            "--dev-only", action="store_true", help="evaluate on the dev split, write nothing"
        )
        parser.add_argument(
            "--all-rows", action="store_true", help="ship a model trained on the dev families too"
        )
        parser.add_argument(
            "--no-learned",
            action="store_true",
            help="leave out the triage examples agents taught (knowledge.TriageExample)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        templates = read_rows(options["data"])
        learned = [] if options["no_learned"] else learned_rows()
        train_rows, dev_rows, categories = training_rows(templates, learned)
        rows = [*templates, *learned * LEARNED_REPEAT]
        started = time.perf_counter()
        model = train(
            [r["text"] for r in train_rows],
            [r["intent"] for r in train_rows],
            categories,
            options["name"],
        )
        predicted = [p["intent"] for p in model.predict([r["text"] for r in dev_rows])]
        gold = [r["intent"] for r in dev_rows]
        metrics = {
            "dev_accuracy": round(accuracy_score(gold, predicted), 4),
            "dev_macro_f1": round(f1_score(gold, predicted, average="macro"), 4),
            "train_rows": len(train_rows),
            "learned_examples": len(learned),
            "dev_rows": len(dev_rows),
            "train_seconds": round(time.perf_counter() - started, 1),
        }
        self.stderr.write(f"dev (unseen template families): {metrics}")
        if options["dev_only"]:
            return
        # The shipped model is the one measured: it never saw the dev families, so that
        # `evaluate --set template_dev` measures templates it has not seen. --all-rows trades
        # that for 20% more training data.
        final = model
        if options["all_rows"]:
            final = train(
                [r["text"] for r in rows], [r["intent"] for r in rows], categories, options["name"]
            )
        card = {
            "name": options["name"],
            "data": str(options["data"].name),
            "trained_on": "all rows" if options["all_rows"] else "train families only",
            **metrics,
        }
        path = final.save(options["name"], card)
        self.stdout.write(f"wrote {path}")
