"""Intent classifier: character and word n-gram TF-IDF into logistic regression.

Trained by `manage.py train_triage` on the Bitext intents; the artifact is a joblib file plus a
JSON card (version, training data, dev metrics) in agents/artifacts/. Categories are not learned
separately: every intent belongs to one category, so P(category) sums P(intent) over its intents.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from django.conf import settings
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.extmath import softmax

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


@dataclass(frozen=True)
class _Vectorizer:
    """One fitted TfidfVectorizer's arithmetic: its analyzer, vocabulary and idf weights, and
    where its columns start in the union."""

    analyze: Callable[[str], list[str]]
    vocabulary: dict[str, int]
    idf: np.ndarray  # float32, the vectorizer's dtype
    sublinear: bool
    offset: int

    def columns(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The text's non-zero columns (union numbering) and their l2-normalised tf-idf."""
        counts: dict[int, int] = {}
        for term in self.analyze(text):
            column = self.vocabulary.get(term)
            if column is not None:
                counts[column] = counts.get(column, 0) + 1
        index = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        data = np.fromiter(counts.values(), dtype=self.idf.dtype, count=len(counts))
        if self.sublinear:
            np.log(data, data)
            data += 1.0
        data *= self.idf[index]
        # As sklearn's l2 normalisation: the norm summed in double, each value stored back.
        norm = float(np.sqrt(np.dot(data.astype(np.float64), data.astype(np.float64))))
        if norm > 0.0:
            data = (data.astype(np.float64) / norm).astype(data.dtype)
        return index + self.offset, data


@dataclass(frozen=True)
class _Scorer:
    """`pipeline.predict_proba` for the pipeline `build_pipeline` makes (TF-IDF feature union
    into a multinomial logistic regression), computed directly on the few columns a message
    has. sklearn's own call spends ~2 ms of a draft on input validation and sparse matrices
    around ~0.1 ms of arithmetic (#30); this is the same arithmetic, in the same dtype
    (agents/tests/test_triage.py holds the two equal on the eval sets)."""

    vectorizers: tuple[_Vectorizer, ...]
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray

    @classmethod
    def of(cls, pipeline: Pipeline) -> _Scorer | None:
        """None for a pipeline of another shape (an older artifact): it keeps sklearn's path."""
        union, model = pipeline.named_steps.get("features"), pipeline.named_steps.get("model")
        if not isinstance(union, FeatureUnion) or not isinstance(model, LogisticRegression):
            return None
        if union.transformer_weights or len(model.classes_) <= 2:
            return None
        vectorizers, offset = [], 0
        for _, vectorizer in union.transformer_list:
            if not isinstance(vectorizer, TfidfVectorizer) or vectorizer.binary:
                return None
            if vectorizer.norm != "l2" or not vectorizer.use_idf:
                return None
            vectorizers.append(
                _Vectorizer(
                    vectorizer.build_analyzer(),
                    vectorizer.vocabulary_,
                    vectorizer.idf_,
                    vectorizer.sublinear_tf,
                    offset,
                )
            )
            offset += len(vectorizer.vocabulary_)
        if offset != model.coef_.shape[1]:
            return None
        return cls(tuple(vectorizers), model.coef_, model.intercept_)

    def probabilities(self, texts: list[str]) -> np.ndarray:
        scores = np.empty((len(texts), self.coef.shape[0]), dtype=self.coef.dtype)
        for row, text in enumerate(texts):
            parts = [vectorizer.columns(text) for vectorizer in self.vectorizers]
            index = np.concatenate([part[0] for part in parts])
            data = np.concatenate([part[1] for part in parts])
            scores[row] = self.coef[:, index] @ data + self.intercept
        return softmax(scores, copy=False)


@dataclass
class IntentClassifier:
    pipeline: Pipeline
    categories: dict[str, str]  # intent -> category
    version: str
    scorer: _Scorer | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        self.scorer = _Scorer.of(self.pipeline)

    def predict(self, texts: list[str]) -> list[dict[str, Any]]:
        """Per text: intent, category, and their probabilities."""
        cut = [t[:MAX_CHARS] for t in texts]
        if self.scorer is not None:
            probabilities = self.scorer.probabilities(cut)
        else:
            probabilities = self.pipeline.predict_proba(cut)
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
