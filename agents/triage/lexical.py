"""The words and character n-grams of a message, for the tone model's heads that read the wording.

The sentence embedding (MiniLM, mean-pooled) reads what a message is about and misses much of
how it is said: "smh", "ugh", "finally", "again??", a trailing "lol", "great job... not". A
logistic regression on TF-IDF word (1 to 2) and character (2 to 5, within words) n-grams trained
on the same labelled messages reads those, and its out-of-fold probabilities become features of
the tone model's heads that read the wording (tone_model.WORDING_HEADS). Chosen on the tuning
sets (README, "Tone model v3"): on the real-tweet tuning half sentiment macro-F1 0.75 to 0.81 and
HIGH precision at recall 0.5 0.70 to 0.80; on tone_dev false thank-yous 6 to 1.

The n-grams are hashed and only their hashes are kept (those seen in at least WORD_MIN_DF or
CHAR_MIN_DF training messages): the artifact stores no word or phrase of the tweets it was
fitted on (CC BY-NC-SA).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, HashingVectorizer

# Wide enough that two n-grams seen in training rarely share a column (~50k kept of 2^20).
N_FEATURES = 2**20
# An n-gram seen in fewer training messages is noise to the heads (measured: hashing without
# this floor lost 0.02 of sentiment macro-F1 and 0.05 of HIGH precision on the tuning half).
WORD_MIN_DF = 2
CHAR_MIN_DF = 3
# How a message's n-grams become columns; stored with the kept columns and checked on load.
HASHING = f"n_features={N_FEATURES};word=1-2;char_wb=2-5;sklearn-murmurhash3"


def _word_hasher() -> HashingVectorizer:
    return HashingVectorizer(
        ngram_range=(1, 2), n_features=N_FEATURES, alternate_sign=False, norm=None
    )


def _char_hasher() -> HashingVectorizer:
    return HashingVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        n_features=N_FEATURES,
        alternate_sign=False,
        norm=None,
    )


class HashedNgrams:
    """TF-IDF (sublinear tf, l2-normalised rows) over hashed word and character n-grams,
    restricted to the hashes frequent enough in the training messages."""

    def __init__(self) -> None:
        self.columns: dict[str, np.ndarray] = {}  # hasher → kept hash columns, sorted
        self.idf: dict[str, np.ndarray] = {}
        self._positions: dict[str, np.ndarray] = {}  # hash column → kept column, -1 if none

    def __getstate__(self) -> dict[str, Any]:
        # The artifact keeps the kept columns; the 2^20-wide lookup (8 MB) is rebuilt on load.
        return {"columns": self.columns, "idf": self.idf, "hashing": HASHING}

    def __setstate__(self, state: dict[str, Any]) -> None:
        if state.get("hashing") != HASHING:
            # Other hashing puts the same n-gram in another column: the models would misread.
            raise ValueError(f"n-grams hashed as {state.get('hashing')}, not {HASHING}; retrain")
        self.columns, self.idf, self._positions = state["columns"], state["idf"], {}

    @property
    def width(self) -> int:
        """The number of columns `transform` returns."""
        return sum(len(kept) for kept in self.columns.values())

    def _position(self, name: str) -> np.ndarray:
        if name not in self._positions:
            position = np.full(N_FEATURES, -1, dtype=np.int32)
            position[self.columns[name]] = np.arange(len(self.columns[name]), dtype=np.int32)
            self._positions[name] = position
        return self._positions[name]

    def _counts(self, texts: Sequence[str]) -> dict[str, sp.csr_matrix]:
        return {
            "word": _word_hasher().transform(texts).tocsr(),
            "char": _char_hasher().transform(texts).tocsr(),
        }

    def fit(self, texts: Sequence[str]) -> HashedNgrams:
        floors = {"word": WORD_MIN_DF, "char": CHAR_MIN_DF}
        for name, counts in self._counts(texts).items():
            document_frequency = np.bincount(counts.indices, minlength=N_FEATURES)
            kept = np.flatnonzero(document_frequency >= floors[name]).astype(np.int32)
            self.columns[name] = kept
            # sklearn's smooth idf: ln((1 + n) / (1 + df)) + 1
            df = document_frequency[kept].astype(np.float64)
            self.idf[name] = (np.log((1 + len(texts)) / (1 + df)) + 1).astype(np.float32)
        return self

    def transform(self, texts: Sequence[str]) -> sp.csr_matrix:
        """Words and characters side by side, each part normalised on its own (the character
        part has many more n-grams and would drown the words). Built from index arrays in one
        step: a message is transformed on every draft, and scipy's matrix operations cost
        ten times the hashing for one row."""
        rows, columns, values = [], [], []
        offset = 0
        for name, counts in self._counts(texts).items():
            row = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
            column = self._position(name)[counts.indices]
            kept = column >= 0
            row, column = row[kept], column[kept]
            value = (np.log(counts.data[kept]) + 1) * self.idf[name][column]  # sublinear tf-idf
            norms = np.sqrt(np.bincount(row, weights=value * value, minlength=len(texts)))
            rows.append(row)
            columns.append(column + offset)
            values.append(value / norms[row])
            offset += len(self.columns[name])
        return sp.csr_matrix(
            (
                np.concatenate(values).astype(np.float32),
                (np.concatenate(rows), np.concatenate(columns)),
            ),
            shape=(len(texts), offset),
        )

    def word_columns(self, text: str) -> list[tuple[str, int]]:
        """The message's single words that the model kept, each with its column (the word part
        comes first in `transform`'s columns), in the order they appear; not stop words ("my",
        "no"), which weigh in the model but tell a reader nothing."""
        analyzer = _word_hasher().build_analyzer()
        words = list(
            dict.fromkeys(w for w in analyzer(text) if " " not in w and w not in ENGLISH_STOP_WORDS)
        )
        if not words:
            return []
        hashed = _word_hasher().transform(words).tocsr()
        position = self._position("word")
        found = []
        for row, word in enumerate(words):
            columns = hashed.indices[hashed.indptr[row] : hashed.indptr[row + 1]]
            if len(columns) and position[columns[0]] >= 0:
                found.append((word, int(position[columns[0]])))
        return found
