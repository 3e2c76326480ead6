"""Confidence from evidence the run can check: how sure triage is, how close the best article
is, and whether the two agree. Providers start from this; the decide node compares the result
with CONFIDENCE_THRESHOLD."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from agents.triage.classifier import ARTIFACTS
from agents.triage.service import Triage
from knowledge.matching import SAME_ANSWER
from knowledge.overlap import token_f1
from knowledge.search import DEFAULT_MATCH_THRESHOLD, SearchHit
from resolver.once import once_per_process

# Cosine similarities of MiniLM between a question and its article's questions/answers:
# below LOW nothing relevant was found, above HIGH the match is as good as they get.
SIMILARITY_LOW = 0.30
SIMILARITY_HIGH = 0.80
# A learned article at its own threshold scores as one at this similarity would.
STRONG_SIMILARITY = DEFAULT_MATCH_THRESHOLD
# The nearest learned article answers only if it is this much closer than any article giving
# another answer (another taught topic, or the KB's): two topics about as close to a message is
# a guess between them, and a wrong learned answer reads as right (a person chooses instead).
# Chosen on the tuning set (evals/sets/learning_dev.jsonl: its look-alike negatives).
LEARNED_TOPIC_MARGIN = 0.03


def best_article(evidence: Sequence[SearchHit]) -> SearchHit | None:
    return next((item for item in evidence if item.customer_facing), None)


def learned_first(evidence: Sequence[SearchHit]) -> list[SearchHit]:
    """A message matches a learned article by its nearest key: the learned article that matches
    by its own threshold and comes closer than the first article goes first, wherever the fusion
    of the search's legs ranked it (many chunks and shared words lift the KB's long articles)."""
    top = best_article(evidence)
    matching = [hit for hit in evidence if hit.customer_facing and hit.learned_match]
    if top is None or not matching:
        return list(evidence)
    nearest = max(matching, key=lambda hit: hit.similarity)
    if nearest is top or (nearest.similarity <= top.similarity and not _same_answer(top, nearest)):
        return list(evidence)
    # A closer article with the same answer (one topic learned as two proposals, the other
    # under its own threshold) gives way: the answer is the same, and this one matches.
    return [nearest, *(hit for hit in evidence if hit is not nearest)]


def _same_answer(one: SearchHit, other: SearchHit) -> bool:
    return one.learned and other.learned and token_f1(one.content, other.content) >= SAME_ANSWER


def contested(evidence: Sequence[SearchHit], hit: SearchHit) -> bool:
    """A learned article another article with another answer comes about as close to (within
    LEARNED_TOPIC_MARGIN): the message is between two topics."""
    if not hit.learned:
        return False
    return any(
        other is not hit
        and other.customer_facing
        and hit.similarity - other.similarity < LEARNED_TOPIC_MARGIN
        and token_f1(other.content, hit.content) < SAME_ANSWER
        for other in evidence
    )


def _scaled(similarity: float) -> float:
    span = SIMILARITY_HIGH - SIMILARITY_LOW
    return min(1.0, max(0.0, (similarity - SIMILARITY_LOW) / span))


def retrieval_confidence(triage: Triage, evidence: Sequence[SearchHit]) -> float:
    top = best_article(evidence)
    if top is None:
        return 0.0
    agreement = 1.0 if top.intent == triage.intent else 0.4
    score = 0.4 * triage.confidence + 0.4 * _scaled(top.similarity) + 0.2 * agreement
    margin = top.learned_margin
    if margin is not None and margin >= 0:
        # An article learned from agents, as close as its own threshold asks, stands on its own:
        # its topic is one the intents do not know, so triage's confidence says nothing about
        # it. Its similarity counts from its own threshold (the default's place on the scale).
        score = max(score, _scaled(STRONG_SIMILARITY + margin))
    return round(min(1.0, max(0.0, score)), 4)


# The confidence a draft shows is a probability that its answer is right: the raw score above
# and the tone model's P(store question), mapped by a logistic fit (`manage.py
# calibrate_confidence`, agents/artifacts/CALIBRATION.json). Without the file: the raw score.
CALIBRATION = "calibration-v1"


@dataclass(frozen=True)
class Calibration:
    raw_weight: float
    answerable_weight: float
    bias: float

    def __call__(self, raw: float, answerable: float) -> float:
        z = self.raw_weight * raw + self.answerable_weight * answerable + self.bias
        return round(1.0 / (1.0 + math.exp(-z)), 4)

    def save(self, card: Mapping[str, object]) -> Path:
        path = ARTIFACTS / f"{CALIBRATION}.json"
        path.write_text(json.dumps({**asdict(self), **card}, indent=2) + "\n")
        return path


@once_per_process
def load_calibration() -> Calibration | None:
    path = ARTIFACTS / f"{CALIBRATION}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return Calibration(data["raw_weight"], data["answerable_weight"], data["bias"])


def calibrated(raw: float, triage: Triage) -> float:
    calibration = load_calibration()
    return calibration(raw, triage.answerable_probability) if calibration else raw
