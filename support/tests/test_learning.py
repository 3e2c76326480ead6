"""Observing human answers: an escalated draft answered by an agent, a rewritten draft, an agent's
own message where no usable draft was; gathered into answer proposals without personal data, one
per question and answer, never for what the KB already answers."""

from __future__ import annotations

from typing import Any

import pytest

from knowledge.models import KBDocument, Proposal
from resolver.audit_actor import Actor
from support import learning, observers, review
from support.inbound import receive_message
from support.models import Draft, DraftStatus

pytestmark = pytest.mark.django_db
GIFT_ANSWER = "Yes! Pick Gift wrap at checkout; it is free and hides the price on the slip."


def _escalated(question: str, customer_ref: str = "cust-1") -> Draft:
    _, draft = receive_message(question, customer_ref=customer_ref, enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(
        status=DraftStatus.ESCALATED, escalation_reason="retrieval_weak", intent="place_order"
    )
    draft.refresh_from_db()
    return draft


def _answer(draft: Draft, agent_user: Any, text: str) -> Proposal | None:
    review.approve(draft.pk, Actor.for_user(agent_user), text)
    return learning.observe_draft(draft.pk)


def test_answers_to_the_same_question_gather_into_one_proposal(
    small_kb: Any, agent_user: Any
) -> None:
    first = _answer(
        _escalated("Hi, I'm Jo (jo@example.com). Do you offer gift wrapping?"),
        agent_user,
        GIFT_ANSWER,
    )
    assert first is not None
    assert first.question == "Hi, I'm Jo ([e-mail]). Do you offer gift wrapping?"
    assert "jo@example.com" not in str(first.sources)
    second = _answer(_escalated("can you gift wrap my order 55512?"), agent_user, GIFT_ANSWER)
    assert second is not None and second.pk == first.pk
    second.refresh_from_db()
    assert second.source_count == 2
    assert second.variants == ["can you gift wrap my order [number]?"]
    other = _answer(
        _escalated("do you ship to Iceland?"), agent_user, "Yes, Iceland takes 5 to 8 days."
    )
    assert other is not None and other.pk != first.pk
    assert Proposal.objects.count() == 2


@pytest.mark.parametrize("reply", ["\u200b\u200b\u200b", "👍🙂📦", " ... !"])
def test_a_reply_without_words_teaches_nothing(small_kb: Any, agent_user: Any, reply: str) -> None:
    """Zero-width spaces or emoji became an answer proposal for a person to dismiss."""
    assert _answer(_escalated("Do you offer gift wrapping?"), agent_user, reply) is None
    assert not Proposal.objects.exists()


def test_an_unedited_suggestion_teaches_nothing(small_kb: Any, agent_user: Any) -> None:
    _, draft = receive_message("how do I reset my password?", enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(
        status=DraftStatus.SUGGESTED, answer="Use Forgot password."
    )
    review.approve(draft.pk, Actor.for_user(agent_user))
    assert learning.observe_draft(draft.pk) is None
    assert not Proposal.objects.exists()


def test_what_the_kb_already_answers_is_not_proposed(small_kb: Any, agent_user: Any) -> None:
    password = KBDocument.objects.get(external_id="password")
    proposal = _answer(_escalated("how do I change my password?"), agent_user, password.content)
    assert proposal is None


def test_an_agents_own_message_answers_an_unanswered_question(
    small_kb: Any, agent_user: Any
) -> None:
    draft = _escalated("Do you offer gift wrapping?")
    reply = review.write_to_customer(draft.conversation_id, Actor.for_user(agent_user), GIFT_ANSWER)
    proposal = learning.observe_reply(reply.pk)
    assert proposal is not None
    assert (proposal.answer, proposal.sources[0]["draft_id"]) == (GIFT_ANSWER, str(draft.pk))
    # After a usable (suggested) draft, an agent's follow-up is not an answer to learn.
    _, usable = receive_message("where is my parcel?", enqueue=False)
    Draft.objects.filter(pk=usable.pk).update(status=DraftStatus.SUGGESTED, answer="Track it.")
    follow_up = review.write_to_customer(usable.conversation_id, Actor.for_user(agent_user), "x y")
    assert learning.observe_reply(follow_up.pk) is None


def test_approval_queues_the_observation_after_commit(
    agent_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    draft = _escalated("Do you offer gift wrapping?")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        review.approve(draft.pk, Actor.for_user(agent_user), GIFT_ANSWER)
    # The learning loop's look is queued for after commit; nothing is learned in the request.
    queued = [c for c in callbacks if getattr(c, "func", None) is observers.queue_observation]
    # Beside it, the autonomy ladder re-weighs the draft's intent (#29).
    learning_looks = [c.args for c in queued if c.args[0] != observers.UPDATE_AUTONOMY_ACTOR]
    assert learning_looks == [(observers.OBSERVE_DRAFT_ACTOR, str(draft.pk))]
    assert not Proposal.objects.exists()
    assert Draft.objects.get(pk=draft.pk).status == DraftStatus.SENT
