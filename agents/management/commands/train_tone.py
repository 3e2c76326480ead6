"""`train_tone [--name tone-v1]`: trains the message kind, sentiment and urgency model
(agents/triage/tone_model.py) and writes agents/artifacts/NAME.joblib with a JSON card.

Training data (never the evaluation tweets): agents/training/support_messages.jsonl (support
messages written for training, every head), Bitext store questions of the train template
families (kind only: store_question, or dissatisfied for the complaint intent) and CLINC150's
out-of-scope training queries (kind only: other). It is measured by `evaluate` on the real-tweet
sets, which train nothing."""

from __future__ import annotations

import csv
import json
import random
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from agents.splits import family_split
from agents.triage.tone_model import HEADS, train
from knowledge.taxonomy import COMPLAINT_INTENT
from support.vocabulary import MessageKind

DATASETS = Path(settings.BASE_DIR).parent / "shared" / "datasets"
WRITTEN = Path(settings.BASE_DIR) / "agents" / "training" / "support_messages.jsonl"
BITEXT_PER_INTENT = 40
SEED = 20261127


def written_examples(path: Path = WRITTEN) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def bitext_questions(datasets: Path) -> list[tuple[str, str]]:
    with (datasets / "bitext" / "intents_train.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    train_rows, _ = family_split(rows)
    by_intent: dict[str, list[str]] = {}
    for row in train_rows:
        by_intent.setdefault(row["intent"], []).append(row["text"])
    rng = random.Random(SEED)
    pairs: list[tuple[str, str]] = []
    for intent, texts in sorted(by_intent.items()):
        kind = (
            MessageKind.DISSATISFIED if intent == COMPLAINT_INTENT else MessageKind.STORE_QUESTION
        )
        pairs += [(text, kind) for text in rng.sample(texts, min(BITEXT_PER_INTENT, len(texts)))]
    return pairs


def out_of_scope(datasets: Path) -> list[tuple[str, str]]:
    data = json.loads((datasets / "clinc150" / "oos_train_val.json").read_text())
    return [(text, MessageKind.OTHER) for text, _ in data["oos_train"]]


def examples(datasets: Path) -> dict[str, tuple[list[str], list[str]]]:
    written = written_examples()
    kind_pairs = [(e["text"], e["kind"]) for e in written]
    kind_pairs += bitext_questions(datasets) + out_of_scope(datasets)
    return {
        "kind": ([t for t, _ in kind_pairs], [k for _, k in kind_pairs]),
        "sentiment": ([e["text"] for e in written], [e["sentiment"] for e in written]),
        "urgency": ([e["text"] for e in written], [e["urgency"] for e in written]),
    }


class Command(BaseCommand):
    help = "Train the message kind / sentiment / urgency model; writes agents/artifacts/NAME.*"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=settings.TONE_MODEL, help="artifact name")
        parser.add_argument("--datasets", type=Path, default=DATASETS)

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        data = examples(options["datasets"])
        model = train(data, options["name"])
        card = {
            "name": options["name"],
            "training_examples": {head: len(data[head][0]) for head in HEADS},
            "train_seconds": round(time.perf_counter() - started, 1),
            "measured_by": "manage.py evaluate --set real_tweets_dev (sentiment_macro_f1, "
            "urgency_high_precision, by_tag)",
        }
        self.stdout.write(f"wrote {model.save(options['name'], card)}")
