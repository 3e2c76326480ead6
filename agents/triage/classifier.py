"""Intent classifier: character and word n-gram TF-IDF into logistic regression.

Trained by `manage.py train_triage` on the Bitext intents; the artifact is a joblib file plus a
JSON card (version, training data, dev metrics) in agents/artifacts/. Categories are not learned
separately: every intent belongs to one category, so P(category) sums P(intent) over its intents.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from django.conf import settings
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from resolver.once import once_per_process

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
MAX_CHARS = 2000  # longer messages are cut: the opening states the request


def build_pipeline() -> Pipeline:
    features = FeatureUnion(
        [
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=(2, 5),
                    min_df=3,
                    max_features=60_000,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
            (
                "words",
                TfidfVectorizer(
                    ngram_range=(1, 2),
                    min_df=2,
                    max_features=20_000,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
        ]
    )
    return Pipeline([("features", features), ("model", LogisticRegression(C=10, max_iter=2000))])


@dataclass
class IntentClassifier:
    pipeline: Pipeline
    categories: dict[str, str]  # intent -> category
    version: str

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """Per text: intent, category, and their probabilities."""
        probabilities = self.pipeline.predict_proba([t[:MAX_CHARS] for t in texts])
        intents = list(self.pipeline.classes_)
        return [self._decode(row, intents) for row in probabilities]

    def _decode(self, row: np.ndarray, intents: list[str]) -> dict[str, Any]:
        best = int(np.argmax(row))
        by_category: dict[str, float] = {}
        for intent, probability in zip(intents, row, strict=True):
            category = self.categories[intent]
            by_category[category] = by_category.get(category, 0.0) + float(probability)
        category = max(by_category, key=lambda c: by_category[c])
        return {
            "intent": intents[best],
            "intent_probability": float(row[best]),
            "category": category,
            "category_probability": by_category[category],
        }

    def save(self, name: str, card: dict[str, Any]) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.joblib"
        joblib.dump({"pipeline": self.pipeline, "categories": self.categories}, path, compress=3)
        (ARTIFACTS / f"{name}.json").write_text(json.dumps(card, indent=2) + "\n")
        return path


def artifact_path() -> Path:
    return ARTIFACTS / f"{settings.TRIAGE_MODEL}.joblib"


@once_per_process
def load_classifier() -> IntentClassifier:
    """The configured artifact, loaded once per process."""
    data = joblib.load(artifact_path())
    return IntentClassifier(data["pipeline"], data["categories"], settings.TRIAGE_MODEL)


def train(
    texts: list[str], intents: list[str], categories: dict[str, str], version: str
) -> IntentClassifier:
    pipeline = build_pipeline()
    pipeline.fit([t[:MAX_CHARS] for t in texts], intents)
    return IntentClassifier(pipeline, categories, version)
