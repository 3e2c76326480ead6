"""Curated articles from the Bitext corpus: cluster each intent's near-identical answers, keep one
canonical answer per cluster, and attach the customer questions that led to the cluster."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import TfidfVectorizer

from knowledge.ingest.specs import DocumentSpec
from knowledge.models import DocumentSource

ROWS_PER_ARTICLE = 60  # about one article per 60 answers
MAX_ARTICLES_PER_INTENT = 6
_SLOT = re.compile(r"\{\{[^}]+\}\}")
# Anonymisation artefacts make a poor canonical answer: raw ids and "...Anonymized" slots.
_RAW_VALUE = re.compile(r"\d{5,}|Anonymized")


@dataclass(frozen=True)
class BitextRow:
    instruction: str
    intent: str
    category: str
    response: str


def humanize(intent: str) -> str:
    return intent.replace("_", " ").capitalize()


def _cluster(matrix: np.ndarray) -> np.ndarray:
    k = max(1, min(MAX_ARTICLES_PER_INTENT, len(matrix) // ROWS_PER_ARTICLE))
    if k == 1:
        return np.zeros(len(matrix), dtype=int)
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit(matrix).labels_


def _tfidf(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    normalised = [_SLOT.sub(" ", text.lower()) for text in texts]
    vectorizer = TfidfVectorizer(
        min_df=2 if len(texts) >= 4 else 1,
        sublinear_tf=True,
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z]{2,}\b",
    )
    try:
        matrix = vectorizer.fit_transform(normalised).toarray()
    except ValueError:  # nothing but stop words or numbers: every answer is as good as another
        return np.zeros((len(texts), 1)), np.array(["overview"])
    return matrix, np.array(vectorizer.get_feature_names_out())


def _canonical(responses: list[str], matrix: np.ndarray) -> int:
    """The medoid (closest to the cluster centre), preferring answers without raw values."""
    scores = matrix @ matrix.mean(axis=0)
    penalties = np.array([0.5 if _RAW_VALUE.search(text) else 0.0 for text in responses])
    return int(np.argmax(scores - penalties))


def _gist(matrix: np.ndarray, members: np.ndarray, terms: np.ndarray) -> str:
    """The three terms most typical of this cluster compared with the whole intent."""
    lift = matrix[members].mean(axis=0) - matrix.mean(axis=0)
    return ", ".join(terms[np.argsort(-lift)[:3]])


def _unique_questions(rows: list[BitextRow]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for row in rows:
        seen.setdefault(" ".join(row.instruction.lower().split()), row.instruction)
    return tuple(seen.values())


def _intent_articles(intent: str, rows: list[BitextRow]) -> list[DocumentSpec]:
    responses = [row.response for row in rows]
    matrix, terms = _tfidf(responses)
    labels = _cluster(matrix)
    clusters = sorted(set(labels.tolist()), key=lambda c: (-int((labels == c).sum()), c))
    articles = []
    for index, cluster in enumerate(clusters):
        members = np.flatnonzero(labels == cluster)
        member_rows = [rows[i] for i in members]
        best = members[_canonical([responses[i] for i in members], matrix[members])]
        gist = _gist(matrix, members, terms) if len(clusters) > 1 else "overview"
        articles.append(
            DocumentSpec(
                source=DocumentSource.BITEXT,
                external_id=f"{intent}/{index}",
                title=f"{humanize(intent)}: {gist}",
                content=responses[best],
                intent=intent,
                category=rows[0].category,
                questions=_unique_questions(member_rows),
                metadata={"cluster_size": len(members)},
            )
        )
    return articles


def build_articles(
    rows: list[BitextRow], keep_question: Callable[[str], bool] | None = None
) -> list[DocumentSpec]:
    """One or more articles per intent. `keep_question` drops questions from the index (the
    benchmark uses it to hold out its dev families) without changing the articles."""
    by_intent: dict[str, list[BitextRow]] = {}
    for row in rows:
        by_intent.setdefault(row.intent, []).append(row)
    articles: list[DocumentSpec] = []
    for intent in sorted(by_intent):
        for article in _intent_articles(intent, by_intent[intent]):
            if keep_question is not None:
                kept = tuple(q for q in article.questions if keep_question(q))
                article = DocumentSpec(**{**article.__dict__, "questions": kept})
            articles.append(article)
    return articles
