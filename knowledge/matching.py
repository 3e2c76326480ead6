"""How a message matches a learned article: by its nearest retrieval key, against the article's
own similarity threshold.

A learned article's retrieval keys are its question chunks: the customer questions agents
answered by hand, generalised by the learning loop (the proposal's question and the variants its
sources brought). They are embedded and searched beside the article's text (search.py) but never
shown: a hit's snippet is always article text.

Each learned article's threshold is calibrated on its keys whenever they change (the worker
re-embeds it after an approval, a revision or an erasure): every key held out in turn stands for
an unseen paraphrase, its similarity to the nearest other key saying how far this topic's
wording strays; the other learned topics' keys say how close another taught topic's wording
comes, and a shipped sample of questions no store answers
(fixtures/unrelated_questions.jsonl) how close unrelated text comes. The threshold sits just above
the closest unrelated question and a little under the closest other topic (a message between two
taught topics is settled where it is matched: both are in the evidence, one must be clearly
nearer), so a learned topic in a quiet corner accepts looser paraphrases than one
among neighbours: it may go below the global "nothing relevant" floor when nothing else comes
that close to its keys (its paraphrases' similarity to the nearest key is often 0.40). The KB's
articles are not in it: they compete where a message is matched, by which comes nearest, and a
learned answer needs a margin over any article with another answer (agents/scoring.py)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction

from knowledge.embeddings import embed_documents
from knowledge.models import ChunkKind, DocumentSource, DocumentStatus, KBChunk, KBDocument
from knowledge.overlap import token_f1
from resolver.once import once_per_process

logger = logging.getLogger(__name__)

# The bounds of a calibrated threshold: no higher than a near-verbatim repeat; no lower than
# MiniLM's similarity between sentences that merely share a register (below it two questions
# about anything match). Between them the calibration decides, below the global "nothing
# relevant" floor (settings.RETRIEVAL_MIN_SIMILARITY, 0.45) too.
MIN_MATCH_THRESHOLD = 0.35
MAX_MATCH_THRESHOLD = 0.8
# How far above the closest unrelated question the threshold sits.
UNRELATED_GAP = 0.05
# How far from the closest other taught topic's question: below it. A message that close to both
# topics is settled where it is matched, where the other topic's article is in the evidence too
# (knowledge/search.py: the learned neighbours) and one answer must be LEARNED_TOPIC_MARGIN
# closer than the other (agents/scoring.py: contested); a threshold above the other topic's keys
# as well turned away paraphrases of a topic with a neighbour (a product-care topic's 0.66 for a
# fabric-swatch topic's "sofa fabric"). Chosen on the tuning set (evals/sets/learning_dev.jsonl):
# held-out suggested 21 -> 32 of 56 at the same 1 of 60 look-alike negatives (bench/
# learning_trace.py --dump, simulated; then measured by evaluate).
OTHER_TOPIC_GAP = -0.1
UNRELATED_QUESTIONS = Path(settings.BASE_DIR) / "knowledge/fixtures/unrelated_questions.jsonl"
# A topic whose taught messages are all close together (held out, each is this close to another)
# does not accept a message much further away than its own spread.
HELD_OUT_SPREAD = 0.25
# Two learned articles whose answers overlap this much are one topic (learning/answers.py's
# "same answer"): each other's keys are not another topic's.
SAME_ANSWER = 0.5
EF_SEARCH = 100

NEAREST_OTHER_SQL = """
SELECT c.document_id, 1 - (c.embedding <=> %s::vector) AS similarity
FROM knowledge_kbchunk c JOIN knowledge_kbdocument d ON d.id = c.document_id
WHERE c.kind = %s AND c.embedding IS NOT NULL AND d.status = %s AND d.source = %s
  AND NOT (c.document_id = ANY(%s))
ORDER BY c.embedding <=> %s::vector
LIMIT 1
"""


@dataclass(frozen=True)
class Calibration:
    """What an article's threshold was derived from (kept in its metadata as "match")."""

    threshold: float | None
    keys: int
    held_out: list[float]  # per key: similarity to the nearest other key of the article
    nearest_other: float  # the closest another topic's question comes to any key
    nearest_other_document: int | None
    nearest_unrelated: float = 0.0  # the closest an unrelated question comes to any key

    def as_metadata(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "keys": self.keys,
            "held_out": self.held_out,
            "nearest_other": self.nearest_other,
            "nearest_other_document": self.nearest_other_document,
            "nearest_unrelated": self.nearest_unrelated,
        }


def key_vectors(documents: list[int]) -> np.ndarray:
    """The embedded retrieval keys of articles, one row per key, in the articles' order."""
    rows = (
        KBChunk.objects.filter(
            document_id__in=documents, kind=ChunkKind.QUESTION, embedding__isnull=False
        )
        .order_by("document_id", "ordinal")
        .values_list("document_id", "embedding")
    )
    by_document: dict[int, list[np.ndarray]] = {}
    for document_id, vector in rows:
        by_document.setdefault(document_id, []).append(np.asarray(vector, dtype=np.float32))
    vectors = [vector for pk in documents for vector in by_document.get(pk, [])]
    return np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)


def held_out_similarities(keys: np.ndarray, topic: np.ndarray | None = None) -> list[float]:
    """Leave-one-out: each key's similarity to the nearest other key of its topic (vectors are
    unit). `topic` holds the article's keys first, then its same-answer siblings' keys (one
    topic learned as two proposals): a one-key article is held out against those."""
    topic = keys if topic is None else topic
    if len(keys) == 0 or len(topic) < 2:
        return []
    similarity = keys @ topic.T
    np.fill_diagonal(similarity[:, : len(keys)], -1.0)
    return [round(float(value), 4) for value in similarity.max(axis=1)]


def same_topic(document: KBDocument) -> list[int]:
    """The learned articles giving the same answer (one topic learned as two proposals)."""
    others = KBDocument.objects.learned().exclude(pk=document.pk)
    return [
        other.pk
        for other in others.only("pk", "content")
        if token_f1(other.content, document.content) >= SAME_ANSWER
    ]


def nearest_other(keys: np.ndarray, excluded: list[int]) -> tuple[float, int | None]:
    """The closest another published learned article's key comes to any of the keys."""
    best, best_document = 0.0, None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL hnsw.ef_search = {EF_SEARCH}")
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        for key in keys:
            vector = str(key.tolist())
            params = [
                vector,
                ChunkKind.QUESTION.value,
                DocumentStatus.PUBLISHED.value,
                DocumentSource.LEARNED.value,
            ]
            cursor.execute(NEAREST_OTHER_SQL, [*params, excluded, vector])
            row = cursor.fetchone()
            if row is not None and float(row[1]) > best:
                best, best_document = float(row[1]), int(row[0])
    return round(best, 4), best_document


@once_per_process
def unrelated_vectors() -> np.ndarray:
    """The shipped unrelated questions, embedded once per process (200 short sentences)."""
    lines = UNRELATED_QUESTIONS.read_text().splitlines()
    return embed_documents([json.loads(line)["text"] for line in lines if line.strip()])


def nearest_unrelated(keys: np.ndarray) -> float:
    """The closest a question no store answers comes to any of the keys."""
    if len(keys) == 0:
        return 0.0
    return round(float((unrelated_vectors() @ keys.T).max()), 4)


def threshold_from(held_out: list[float], other: float, unrelated: float = 0.0) -> float:
    """Just above the closest unrelated question, not far below the closest other topic's, no
    further below the held-out keys than their spread, within the bounds. With nothing held out
    (a topic taught by one key) its spread is unknown: no lower than the global "nothing
    relevant" floor, where a KB article's answer stops too. (It was the uncalibrated default,
    0.6, which turned away the paraphrases of a one-key topic that nothing else comes near:
    a one-key topic of the tuning set, evals/sets/learning_dev.jsonl, matched 0 of its 8.)"""
    spread = min(held_out) - HELD_OUT_SPREAD if held_out else settings.RETRIEVAL_MIN_SIMILARITY
    threshold = max(other + OTHER_TOPIC_GAP, unrelated + UNRELATED_GAP, spread)
    return round(min(MAX_MATCH_THRESHOLD, max(MIN_MATCH_THRESHOLD, threshold)), 4)


def calibrate(document: KBDocument) -> Calibration:
    """Derives and stores a learned article's threshold from its current keys."""
    siblings = same_topic(document)
    keys = key_vectors([document.pk])
    held_out = held_out_similarities(keys, key_vectors([document.pk, *siblings]))
    other, other_document = nearest_other(keys, [document.pk, *siblings])
    unrelated = nearest_unrelated(keys)
    calibration = Calibration(
        # No keys left (an erasure took them all): the default applies to its text.
        threshold_from(held_out, other, unrelated) if len(keys) else None,
        len(keys),
        held_out,
        other,
        other_document,
        unrelated,
    )
    with transaction.atomic():
        # Under the row lock, on the metadata as it is now: an erasure may be rewriting its
        # questions meanwhile, and a stale copy must not bring them back.
        locked = KBDocument.objects.select_for_update().filter(pk=document.pk).first()
        if locked is None:
            return calibration
        locked.match_threshold = calibration.threshold
        locked.metadata = {**locked.metadata, "match": calibration.as_metadata()}
        locked.save(update_fields=["match_threshold", "metadata"])
    document.match_threshold, document.metadata = locked.match_threshold, locked.metadata
    return calibration


def calibrate_learned() -> int:
    """Re-derives every published learned article's threshold: one article's keys changing
    moves the closest other topic of its neighbours too. A few key look-ups per article."""
    learned = KBDocument.objects.filter(
        source=DocumentSource.LEARNED, status=DocumentStatus.PUBLISHED
    ).order_by("pk")
    count = 0
    for document in learned:
        calibration = calibrate(document)
        logger.info("learned article %s: threshold %s", document.pk, calibration.threshold)
        count += 1
    return count
