"""A learned article matches by its nearest key against its own threshold (knowledge/matching.py):
it goes first when it comes closer than the article the search fused first, and its confidence
counts from its own threshold, not the global one."""

from __future__ import annotations

from django.conf import settings

from agents.scoring import LEARNED_TOPIC_MARGIN, contested, learned_first, retrieval_confidence
from agents.triage.service import Triage
from knowledge.search import SearchHit

# Unsure triage of an intent the learned topic is not (what a new topic looks like to it).
UNSURE = Triage("place_order", "ORDER", "neutral", "normal", 0.3, {})
# Each article's answer, none like another.
ANSWERS = {
    1: "Track your parcel from the link in the dispatch email.",
    2: "Engraving takes two extra working days before dispatch.",
    3: "Fabric swatches are free: order up to five from the product page.",
    4: "Gift cards never expire; the balance shows at checkout.",
    5: "Returns are free within thirty days of delivery.",
}


def _hit(
    kb_id: int, similarity: float, threshold: float | None = None, content: str = ""
) -> SearchHit:
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
        content=content or ANSWERS[kb_id],
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


def test_a_same_answer_sibling_under_its_own_threshold_does_not_block_a_match() -> None:
    """One topic learned as two proposals: the sibling with more keys (a stricter threshold)
    came a little closer without matching, and the matching one was dropped with it."""
    answer = ANSWERS[3]
    stricter = _hit(3, 0.47, threshold=0.505, content=answer)
    matching = _hit(4, 0.45, threshold=0.371, content=answer + " Delivery is free.")
    kb = _hit(1, 0.31)
    assert not stricter.learned_match and matching.learned_match
    assert learned_first([stricter, kb, matching]) == [matching, stricter, kb]
    assert not contested([matching, stricter, kb], matching)
    # Another answer that comes closer still blocks it.
    other = _hit(2, 0.47, threshold=0.6)
    assert learned_first([other, kb, matching]) == [other, kb, matching]


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


def test_a_learned_article_about_as_close_as_another_answer_is_contested() -> None:
    learned = _hit(2, 0.42, threshold=0.38)
    # Another taught topic or a KB article within the margin: a guess between two answers.
    assert contested([learned, _hit(3, 0.42 - LEARNED_TOPIC_MARGIN / 2, threshold=0.4)], learned)
    assert contested([learned, _hit(1, 0.41)], learned)
    # Further than the margin: the learned article answers.
    assert not contested([learned, _hit(1, 0.42 - 2 * LEARNED_TOPIC_MARGIN)], learned)
    # The same answer learned as two proposals is one topic, not a rival.
    twin = _hit(4, 0.42, threshold=0.4, content=learned.content)
    assert not contested([learned, twin], learned)
    # A KB article is never contested here (the search's order decides between KB articles).
    kb = _hit(1, 0.5)
    assert not contested([kb, _hit(5, 0.5)], kb)
