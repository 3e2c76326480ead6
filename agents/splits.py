"""Dev splits by template family. Bitext messages are template siblings (typos, synonyms, casing of
one template), so a row-level split leaks; a family is a group of messages of one intent that are
all pairwise similar (complete linkage on character n-grams), and whole families go to one side."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

FAMILY_DISTANCE = 0.5  # every pair in a family has char-n-gram cosine similarity >= 0.5
DEV_PERCENT = 20


def normalise(text: str) -> str:
    text = re.sub(r"\{\{[^}]+\}\}", " slot ", text.lower())
    text = re.sub(r"\d+", "0", text)
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


def families(texts: Sequence[str]) -> list[int]:
    """A family label per text (texts of one intent)."""
    if len(texts) < 2:
        return [0] * len(texts)
    matrix = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True)
    vectors = matrix.fit_transform([normalise(t) for t in texts])
    distances = np.clip(1.0 - (vectors @ vectors.T).toarray(), 0.0, None)
    clustering = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="complete",
        distance_threshold=FAMILY_DISTANCE,
    )
    return [int(label) for label in clustering.fit(distances).labels_]


def family_keys(intent: str, texts: Sequence[str]) -> list[str]:
    """A stable key per text: the family's smallest normalised member, so the key does not
    depend on label numbering or row order."""
    labels = families(texts)
    smallest: dict[int, str] = {}
    for label, text in zip(labels, texts, strict=True):
        norm = normalise(text)
        smallest[label] = min(smallest.get(label, norm), norm)
    return [f"{intent}::{smallest[label]}" for label in labels]


def dev_mask(items: Sequence[tuple[str, str]]) -> list[bool]:
    """For (intent, text) pairs in any order: True where the text's family is in the dev split.
    Families are found within each intent."""
    by_intent: dict[str, list[int]] = {}
    for index, (intent, _) in enumerate(items):
        by_intent.setdefault(intent, []).append(index)
    mask = [False] * len(items)
    for intent, indexes in by_intent.items():
        keys = family_keys(intent, [items[i][1] for i in indexes])
        for index, key in zip(indexes, keys, strict=True):
            mask[index] = is_dev(key)
    return mask


def is_dev(key: str, dev_percent: int = DEV_PERCENT) -> bool:
    digest = hashlib.sha256(key.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < dev_percent


def family_split(
    rows: list[dict[str, str]],
) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """(train, dev) rows with "intent" and "text", split by template family, so dev measures
    templates the model never saw."""
    mask = dev_mask([(row["intent"], row["text"]) for row in rows])
    train_rows = [row for row, dev in zip(rows, mask, strict=True) if not dev]
    dev_rows = [row for row, dev in zip(rows, mask, strict=True) if dev]
    return train_rows, dev_rows
