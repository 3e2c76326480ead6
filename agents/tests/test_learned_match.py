"""A learned article matches by its nearest key against its own threshold (knowledge/matching.py):
it goes first when it comes closer than the article the search fused first, and its confidence
counts from its own threshold, not the global one."""

from __future__ import annotations

from django.conf import settings

from agents.scoring import learned_first, retrieval_confidence
from agents.triage.service import Triage
from knowledge.search import SearchHit

# Unsure triage of an intent the learned topic is not (what a new topic looks like to it).
UNSURE = Triage("place_order", "ORDER", "neutral", "normal", 0.3, {})


def _hit(kb_id: int, similarity: float, threshold: float | None = None) -> SearchHit:
    return SearchHit(
        kb_id=kb_id,
        title=f"article {kb_id}",
        snippet="",
        intent="" if threshold is not None else "track_order",
        category="ORDER",
        score=0.0,
        similarity=similarity,
        learned=threshold is not None,
        match_threshold=threshold,
    )


def test_a_learned_article_over_its_own_threshold_goes_first_and_is_trusted() -> None:
    kb, learned = _hit(1, 0.31), _hit(2, 0.52, threshold=0.48)
    assert learned.learned_match and learned.learned_margin is not None
    assert learned_first([kb, learned]) == [learned, kb]
    # Under the default threshold (0.6), at its own: scored as the default's place would be.
    assert retrieval_confidence(UNSURE, [learned, kb]) >= settings.CONFIDENCE_THRESHOLD


def test_a_learned_article_under_its_own_threshold_stays_where_the_search_put_it() -> None:
    kb, learned = _hit(1, 0.31), _hit(2, 0.52, threshold=0.56)
    assert not learned.learned_match
    assert learned_first([kb, learned]) == [kb, learned]
    assert retrieval_confidence(UNSURE, [learned]) < settings.CONFIDENCE_THRESHOLD


def test_a_learned_article_further_than_the_first_is_not_promoted() -> None:
    kb, learned = _hit(1, 0.7), _hit(2, 0.52, threshold=0.48)
    assert learned_first([kb, learned]) == [kb, learned]


def test_an_uncalibrated_learned_article_keeps_the_default_threshold() -> None:
    uncalibrated = SearchHit(
        kb_id=3,
        title="t",
        snippet="",
        intent="",
        category="",
        score=0.0,
        similarity=0.58,
        learned=True,
    )
    assert not uncalibrated.learned_match
    assert SearchHit.model_validate({**uncalibrated.model_dump(), "similarity": 0.6}).learned_match
