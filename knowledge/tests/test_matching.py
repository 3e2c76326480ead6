"""A learned article's retrieval keys and its own threshold, on the real database and model: the
taught questions become keys when the approved article is embedded, the threshold is calibrated
on them and stored, a paraphrase near a taught question (far from the article's text) matches
while another topic's message does not, and an erasure removes a customer's keys."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.conf import settings

from knowledge.actors import reindex_document
from knowledge.embeddings import embed_query
from knowledge.matching import (
    MAX_MATCH_THRESHOLD,
    MIN_MATCH_THRESHOLD,
    OTHER_TOPIC_GAP,
    UNRELATED_GAP,
    held_out_similarities,
    nearest_unrelated,
    threshold_from,
)
from knowledge.models import ChunkKind, KBChunk, KBDocument, Proposal, ProposalKind
from knowledge.personal_data import HOLDERS
from knowledge.search import DEFAULT_MATCH_THRESHOLD
from knowledge.specifics import generalise
from resolver.audit_actor import Actor
from resolver.personal_data import Subject
from support import learning
from support.inbound import receive_message

pytestmark = pytest.mark.django_db

RENTAL = (
    "You can rent cameras and lenses for 3 to 30 days. Choose Rent on the product page, pick "
    "your dates, and we hold a deposit that is released when the item comes back undamaged."
)
TAUGHT = [
    "Can I rent a camera instead of buying it?",
    "do you do equipment rental",
    "is it possible to hire a lens for a week?",
    "Hi, I'm Jo (jo@example.com): how does renting gear work with you",
]
# Unseen wording: nearer a taught question than the article's text.
PARAPHRASE = "can i pay to use a drone just for a trip"
OTHER_TOPIC = "how do I change my password?"
UNKNOWN_TOPIC = "do you sell tickets for the football match on saturday?"


def _conversation(text: str) -> str:
    """The conversation a customer asked `text` in."""
    _, draft = receive_message(text, customer_ref="cust-learn", enqueue=False)
    return str(draft.conversation_id)


def _learned(agent_user: Any, taught: list[str] = TAUGHT) -> KBDocument:
    """An answer proposal with the taught questions as its sources' questions, approved and
    embedded (what the worker does after the approval commits)."""
    questions = [generalise(q) for q in taught]
    proposal = Proposal.objects.create(
        kind=ProposalKind.ANSWER,
        title=questions[0],
        question=questions[0],
        variants=questions[1:],
        answer=RENTAL,
        sources=[{"conversation_id": _conversation(q), "draft_id": None} for q in taught],
    )
    approved = learning.approve(proposal.pk, Actor.for_user(agent_user))
    assert approved.document_id is not None
    reindex_document(approved.document_id)
    return KBDocument.objects.get(pk=approved.document_id)


def _keys(document: KBDocument) -> list[str]:
    chunks = KBChunk.objects.filter(document=document, kind=ChunkKind.QUESTION)
    return list(chunks.order_by("ordinal").values_list("text", flat=True))


def _cosine(a: str, b: str) -> float:
    return float(np.dot(embed_query(a), embed_query(b)))


def test_approval_makes_the_taught_questions_keys_and_stores_a_threshold(
    small_kb: Any, agent_user: Any
) -> None:
    document = _learned(agent_user)
    keys = _keys(document)
    assert keys == [generalise(q) for q in TAUGHT]
    assert all("jo@example.com" not in key for key in keys)  # generalised, like proposals
    assert document.match_threshold is not None
    assert MIN_MATCH_THRESHOLD <= document.match_threshold <= MAX_MATCH_THRESHOLD
    match = document.metadata["match"]
    assert match["keys"] == len(TAUGHT) and len(match["held_out"]) == len(TAUGHT)
    assert match["threshold"] == document.match_threshold
    # The only learned topic: no other taught topic's key to sit above; the shipped unrelated
    # questions come this close, and the threshold sits above them.
    assert match["nearest_other_document"] is None and match["nearest_other"] == 0.0
    assert 0.0 < match["nearest_unrelated"] < document.match_threshold
    assert document.match_threshold >= match["nearest_unrelated"] + UNRELATED_GAP - 1e-6


def test_a_paraphrase_near_a_taught_question_matches_by_the_articles_own_threshold(
    small_kb: Any, agent_user: Any
) -> None:
    document = _learned(agent_user)
    threshold = document.match_threshold
    assert threshold is not None
    nearest_key = max(_cosine(PARAPHRASE, key) for key in _keys(document))
    # Far from the article's text, near a taught question, and under the default threshold:
    # only the article's own threshold lets it through.
    assert _cosine(PARAPHRASE, RENTAL) < threshold <= nearest_key < DEFAULT_MATCH_THRESHOLD
    hits = KBDocument.objects.hybrid_search(PARAPHRASE, 5)
    found = next(hit for hit in hits if hit.kb_id == document.pk)
    assert found.learned_match
    assert found.similarity == pytest.approx(nearest_key, abs=1e-3)
    assert all(hit.similarity < found.similarity for hit in hits if hit is not found)
    assert found.snippet in RENTAL  # a key is never what a hit shows


def test_another_topics_message_does_not_match(small_kb: Any, agent_user: Any) -> None:
    document = _learned(agent_user)
    for message in (OTHER_TOPIC, UNKNOWN_TOPIC):
        hits = KBDocument.objects.hybrid_search(message, 5)
        learned = [hit for hit in hits if hit.kb_id == document.pk]
        assert not learned or not learned[0].learned_match, message
    assert KBDocument.objects.hybrid_search(OTHER_TOPIC, 1)[0].kb_id == small_kb["password"].pk


def test_a_second_topic_moves_the_first_ones_threshold(small_kb: Any, agent_user: Any) -> None:
    first = _learned(agent_user)
    before = first.match_threshold
    assert before is not None
    # A neighbouring topic (same words, another answer) is learned: the first one's closest
    # other topic is now that one, and its threshold is derived again.
    proposal = Proposal.objects.create(
        kind=ProposalKind.ANSWER,
        title="Can I buy a used camera?",
        question="Can I buy a used camera?",
        variants=["do you sell second-hand lenses"],
        answer="Refurbished cameras carry a one-year warranty and ship within two days.",
        sources=[{"conversation_id": _conversation("Can I buy a used camera?"), "draft_id": None}],
    )
    second = learning.approve(proposal.pk, Actor.for_user(agent_user)).document_id
    assert second is not None
    reindex_document(second)
    first.refresh_from_db()
    assert first.metadata["match"]["nearest_other_document"] == second
    assert first.match_threshold is not None and first.match_threshold > before


def test_erasure_removes_a_customers_keys(small_kb: Any, agent_user: Any) -> None:
    document = _learned(agent_user)
    erased = TAUGHT[3]
    proposal = Proposal.objects.get(document=document)
    theirs = proposal.sources[3]["conversation_id"]  # where the erased question was asked
    subject = Subject(ref="jo", conversation_ids=frozenset({theirs}), texts=frozenset({erased}))
    holder = next(h for h in HOLDERS if h.model is Proposal)
    holder.erase(holder.rows(subject), subject)

    document.refresh_from_db()
    keys = _keys(document)
    assert generalise(erased) not in keys and keys == [generalise(q) for q in TAUGHT[:3]]
    assert document.metadata["match"]["keys"] == 3
    assert not KBChunk.objects.filter(text__contains="how does renting gear").exists()
    proposal.refresh_from_db()
    assert generalise(erased) not in [proposal.question, *proposal.variants]


def test_unrelated_questions_come_as_close_as_their_own_wording(db: None) -> None:
    # One of the shipped unrelated questions, and a store question none of them is near.
    overdraft = embed_query("how much is an overdraft fee for bank")[None, :]
    assert nearest_unrelated(overdraft) == pytest.approx(1.0, abs=1e-3)
    assert nearest_unrelated(embed_query(TAUGHT[0])[None, :]) < 0.45
    assert nearest_unrelated(np.zeros((0, 384), dtype=np.float32)) == 0.0


def test_a_quiet_topics_threshold_goes_below_the_global_floor() -> None:
    # Nothing unrelated nor another taught topic comes near its keys: looser paraphrases pass,
    # under settings.RETRIEVAL_MIN_SIMILARITY (0.45), down to the floor.
    assert threshold_from([0.6, 0.62], 0.2, 0.32) == pytest.approx(0.37)
    assert threshold_from([0.6, 0.62], 0.1, 0.1) == MIN_MATCH_THRESHOLD < 0.45
    # An unrelated question close to a key lifts it above that question.
    assert threshold_from([0.8, 0.8], 0.1, 0.5) == pytest.approx(0.55)


def test_the_threshold_sits_a_little_under_the_closest_other_topic() -> None:
    # Under, not above: a message that close to both topics is settled where it is matched,
    # by the margin between the two answers (agents/scoring.py: contested).
    assert OTHER_TOPIC_GAP < 0
    keys = np.eye(3, dtype=np.float32)[:, :3]
    keys[1] = np.array([0.8, 0.6, 0.0], dtype=np.float32)
    held_out = held_out_similarities(keys)
    assert held_out == pytest.approx([0.8, 0.8, 0.0])
    assert threshold_from(held_out, 0.65) == pytest.approx(0.65 + OTHER_TOPIC_GAP)
    assert threshold_from(held_out, 0.1) == MIN_MATCH_THRESHOLD  # never below the floor
    assert threshold_from(held_out, 0.95) == MAX_MATCH_THRESHOLD
    # One key: nothing held out, its spread unknown: no lower than the global floor, and still
    # above what is unrelated and not far under another topic.
    assert threshold_from([], 0.1) == settings.RETRIEVAL_MIN_SIMILARITY
    assert threshold_from([], 0.1, 0.5) == pytest.approx(0.55)
    assert threshold_from([], 0.7) == pytest.approx(0.7 + OTHER_TOPIC_GAP)
    # One key of a topic learned as two proposals: held out against its sibling's keys.
    assert held_out_similarities(keys[1:2]) == []
    assert held_out_similarities(keys[1:2], keys[[1, 0]]) == pytest.approx([0.8])


def test_learned_neighbours_follow_the_page_the_fusion_left_them_out_of(
    small_kb: Any, agent_user: Any
) -> None:
    document = _learned(agent_user)
    page = KBDocument.objects.hybrid_search(OTHER_TOPIC, 1)
    assert [hit.kb_id for hit in page] == [small_kb["password"].pk]
    # Asked for, the nearest learned article comes after the page, with its own similarity
    # (its nearest chunk's), so the graph can weigh it by its keys.
    hits = KBDocument.objects.hybrid_search(OTHER_TOPIC, 1, learned=3)
    assert [hit.kb_id for hit in hits] == [small_kb["password"].pk, document.pk]
    nearest = max(_cosine(OTHER_TOPIC, key) for key in _keys(document))
    assert hits[1].learned and hits[1].similarity >= nearest - 1e-3
    assert not hits[1].learned_match  # another topic's message: it does not match
