"""`calibrate_confidence`: fits the map from a run's raw score and P(store question) to the
probability that its answer is right (agents/scoring.py), and writes
agents/artifacts/calibration-v1.json.

Fitted on data the models train on, never on the eval sets: Bitext messages of the train template
families (right when triage finds their intent and the run suggests), the written training
messages (store questions with an intent: the same; every other kind: a suggestion is wrong) and
CLINC150's out-of-scope training queries (a suggestion is wrong). `evaluate` measures the result
(calibration_error) on the held-out sets."""

from __future__ import annotations

import csv
import random
import sys
from pathlib import Path
from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandParser
from sklearn.linear_model import LogisticRegression
from tqdm import tqdm

from agents.graph import build_graph, run_graph_to_end
from agents.management.commands.train_tone import (
    DATASETS,
    bitext_questions,
    out_of_scope,
    written_examples,
)
from agents.prompts import ACKNOWLEDGEMENT_VERSION
from agents.services import default_services
from agents.state_builder import build_state
from knowledge.taxonomy import HUMAN_INTENTS
from support.vocabulary import MessageKind

SAMPLE = 1500
SEED = 20261127


def calibration_cases(datasets: Path) -> list[tuple[str, str | None]]:
    """(text, the intent a right answer has, or None when no answer is right)."""
    cases: list[tuple[str, str | None]] = []
    for example in written_examples():
        right = example.get("intent") if example["kind"] == MessageKind.STORE_QUESTION else None
        cases.append((example["text"], right))
    with (datasets / "bitext" / "intents_train.csv").open() as handle:
        intent_of = {row["text"]: row["intent"] for row in csv.DictReader(handle)}
    for text, kind in bitext_questions(datasets):
        # A request for a person is answered by escalating, not by an answer.
        answered = kind == MessageKind.STORE_QUESTION and intent_of[text] not in HUMAN_INTENTS
        cases.append((text, intent_of[text] if answered else None))
    cases += [(text, None) for text, _ in out_of_scope(datasets)]
    random.Random(SEED).shuffle(cases)
    return cases[:SAMPLE]


class Command(BaseCommand):
    help = "Fit the confidence calibration; writes agents/artifacts/calibration-v1.json."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--datasets", type=Path, default=DATASETS)

    def handle(self, *args: Any, **options: Any) -> None:
        from agents.scoring import Calibration

        graph = build_graph(default_services())
        rows, labels = [], []
        for text, intent in tqdm(calibration_cases(options["datasets"]), file=sys.stderr):
            _, state = run_graph_to_end(graph, build_state(text))
            drafted = state.get("drafted_answer")
            if drafted is not None and drafted.prompt_version == ACKNOWLEDGEMENT_VERSION:
                continue  # acknowledgements keep their own confidence
            raw = drafted.confidence if drafted else state.get("retrieval_confidence", 0.0)
            triage = state["triage_result"]
            right = intent is not None and triage.intent == intent
            rows.append([raw, triage.answerable_probability])
            labels.append(int(right))
        fit = LogisticRegression(C=10.0).fit(np.asarray(rows), np.asarray(labels))
        calibration = Calibration(
            raw_weight=round(float(fit.coef_[0][0]), 4),
            answerable_weight=round(float(fit.coef_[0][1]), 4),
            bias=round(float(fit.intercept_[0]), 4),
        )
        card = {"fitted_on": {"cases": len(rows), "right": int(sum(labels))}}
        self.stdout.write(f"wrote {calibration.save(card)}")
