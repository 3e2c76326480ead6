"""Confidence from evidence the run can check: how sure triage is, how close the best article
is, and whether the two agree. Providers start from this; the decide node compares the result
with CONFIDENCE_THRESHOLD."""

from __future__ import annotations

from collections.abc import Sequence

from agents.state import Evidence
from agents.triage.service import Triage

# Cosine similarities of MiniLM between a question and its article's questions/answers:
# below LOW nothing relevant was found, above HIGH the match is as good as they get.
SIMILARITY_LOW = 0.30
SIMILARITY_HIGH = 0.80


def best_article(evidence: Sequence[Evidence]) -> Evidence | None:
    return next((item for item in evidence if item.customer_facing), None)


def _scaled(similarity: float) -> float:
    span = SIMILARITY_HIGH - SIMILARITY_LOW
    return min(1.0, max(0.0, (similarity - SIMILARITY_LOW) / span))


def retrieval_confidence(triage: Triage, evidence: Sequence[Evidence]) -> float:
    top = best_article(evidence)
    if top is None:
        return 0.0
    agreement = 1.0 if top.intent == triage.intent else 0.4
    score = 0.4 * triage.confidence + 0.4 * _scaled(top.similarity) + 0.2 * agreement
    return round(min(1.0, max(0.0, score)), 4)
