"""The other proposal kinds of the learning loop, on the real database and embeddings: revisions
of an article (kb_edit) from "incorrect"/"outdated" rejections and repeated rewrites, triage
examples from re-labels, guard rules from policy rejections; and customers' ratings moving a
proposal's rank."""

from __future__ import annotations

import re
from typing import Any

import pytest

from knowledge.models import (
    GuardRule,
    KBDocument,
    Proposal,
    ProposalKind,
    ProposalStatus,
    TriageExample,
)
from resolver.audit_actor import Actor
from support import learning, observers, review
from support.inbound import rate_reply, receive_message
from support.learning import decisions
from support.learning.guard_rules import would_stop
from support.learning.revisions import revised_text, word_diff
from support.models import AuditAction, AuditLog, Draft, DraftStatus, Message, MessageRole

pytestmark = pytest.mark.django_db

REFUND_TEXT = (
    "Refunds are issued to the original payment method within 5-7 business days after the "
    "returned item reaches our warehouse."
)


def _suggested(question: str, article: KBDocument, answer: str, ref: str = "cust-1") -> Draft:
    _, draft = receive_message(question, customer_ref=ref, enqueue=False)
    Draft.objects.filter(pk=draft.pk).update(
        status=DraftStatus.SUGGESTED,
        intent=article.intent,
        category=article.category,
        answer=answer,
        citations=[{"kb_id": article.pk, "title": article.title, "snippet": answer[:80]}],
    )
    draft.refresh_from_db()
    return draft


def _actor(user: Any) -> Actor:
    return Actor.for_user(user)


def test_revised_text_replaces_what_the_draft_quoted() -> None:
    article = "Intro line. Refunds take 5-7 days. Contact us anytime."
    assert (
        revised_text(article, "Refunds take 5-7 days. [1]", "Refunds take 3 days.")
        == "Intro line. Refunds take 3 days. Contact us anytime."
    )
    # Nothing quoted verbatim: the correction is appended for the reviewer to place.
    assert revised_text("A. B.", "Something else.", "C.") == "A. B.\n\nC."
    ops = [(s.op, s.text) for s in word_diff("a b c", "a x c")]
    assert ops == [("equal", "a"), ("delete", "b"), ("insert", "x"), ("equal", "c")]


def test_an_outdated_rejection_and_the_agents_reply_propose_a_revision(
    small_kb: Any, agent_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    refund = small_kb["refund"]
    draft = _suggested("how long do refunds take? I'm Jo, jo@example.com", refund, REFUND_TEXT)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        review.reject(draft.pk, _actor(agent_user), "we changed this to 3 days", "outdated")
    queued = [c.args for c in callbacks if getattr(c, "func", None) is observers.queue_observation]
    # Beside it, the autonomy ladder re-weighs the draft's intent (#29).
    queued = [args for args in queued if args[0] != observers.UPDATE_AUTONOMY_ACTOR]
    assert queued == [(observers.OBSERVE_DRAFT_ACTOR, str(draft.pk))]

    proposal = learning.observe_draft(draft.pk)
    assert proposal is not None and proposal.kind == ProposalKind.KB_EDIT
    assert proposal.document_id == refund.pk and proposal.answer == refund.content
    assert proposal.notes == ["Outdated: we changed this to 3 days"]
    assert "jo@example.com" not in proposal.question

    reply = review.write_to_customer(
        draft.conversation_id,
        _actor(agent_user),
        "Refunds now reach your card within 3 business days of the return arriving.",
    )
    revised = learning.observe_reply(reply.pk)
    assert revised is not None and revised.pk == proposal.pk
    assert "within 3 business days" in revised.answer and "5-7" not in revised.answer
    assert Proposal.objects.filter(kind=ProposalKind.ANSWER).count() == 0  # not a new topic

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        learning.approve(revised.pk, _actor(agent_user))
    refund.refresh_from_db()
    assert "within 3 business days" in refund.content
    assert refund.metadata["revisions"] == [{"proposal": revised.pk, "previous": REFUND_TEXT}]
    assert len(callbacks) == 1  # the re-embedding, queued after commit
    audit = AuditLog.objects.get(action=AuditAction.PROPOSAL_APPROVED)
    assert audit.after is not None and audit.after["document_id"] == refund.pk


def test_a_revision_that_changes_nothing_is_refused(small_kb: Any, agent_user: Any) -> None:
    refund = small_kb["refund"]
    draft = _suggested("refund time?", refund, REFUND_TEXT)
    review.reject(draft.pk, _actor(agent_user), "wrong", "incorrect")
    proposal = learning.observe_draft(draft.pk)
    assert proposal is not None
    with pytest.raises(review.ReviewError, match="does not change"):
        learning.approve(proposal.pk, _actor(agent_user))
    approved = learning.approve(proposal.pk, _actor(agent_user), "Refunds take 3 days.")
    assert approved.status == ProposalStatus.APPROVED


def test_repeated_rewrites_of_drafts_about_an_article_propose_its_revision(
    small_kb: Any, agent_user: Any
) -> None:
    password = small_kb["password"]
    rewrite = (
        "Please use the Reset link in the app under Settings, then Security; the e-mail we send "
        "is valid for one hour only, so use it straight away."
    )
    first = _suggested("how do I reset my password?", password, password.content, "a")
    review.approve(first.pk, _actor(agent_user), rewrite)
    assert learning.observe_draft(first.pk) is None  # one rewrite may be the agent's style
    second = _suggested("I forgot my password, how can I change it?", password, password.content)
    review.approve(second.pk, _actor(agent_user), rewrite)
    proposal = learning.observe_draft(second.pk)
    assert proposal is not None and proposal.kind == ProposalKind.KB_EDIT
    assert proposal.source_count == 2 and proposal.document_id == password.pk
    assert "valid for one hour" in proposal.answer
    assert not Proposal.objects.filter(kind=ProposalKind.ANSWER).exists()


def test_a_decided_revision_is_not_proposed_again_from_the_rewrites_it_decided(
    small_kb: Any, agent_user: Any
) -> None:
    """After an admin dismisses the revision two rewrites proposed, one more rewrite is not a
    revision again (with the old two as its sources); a second new one is."""
    password = small_kb["password"]
    rewrite = "Use the Reset link under Settings, then Security; the e-mail is valid for one hour."
    questions = [
        "how do I reset my password?",
        "I forgot my password, how can I change it?",
        "my password does not work, how do I reset it",
        "can you help me reset my password please",
    ]
    drafts = [_suggested(q, password, password.content, f"c-{n}") for n, q in enumerate(questions)]
    for draft in drafts[:2]:
        review.approve(draft.pk, _actor(agent_user), rewrite)
    first = learning.observe_draft(drafts[1].pk)
    assert first is not None and first.kind == ProposalKind.KB_EDIT
    decisions.dismiss(first.pk, _actor(agent_user), "the article is right")

    review.approve(drafts[2].pk, _actor(agent_user), rewrite)
    assert learning.observe_draft(drafts[2].pk) is None
    review.approve(drafts[3].pk, _actor(agent_user), rewrite)
    again = learning.observe_draft(drafts[3].pk)
    assert again is not None and again.pk != first.pk and again.source_count == 2


def test_every_relabelled_message_becomes_an_example_not_only_the_first_twenty_one(
    small_kb: Any, agent_user: Any
) -> None:
    refund = small_kb["refund"]
    things = [
        "lamp",
        "sofa",
        "kettle",
        "rug",
        "mirror",
        "chair",
        "desk",
        "shelf",
        "clock",
        "vase",
        "towel",
        "pillow",
        "blanket",
    ]
    places = ["garage", "porch"]
    bodies = [f"my {thing} is stuck at the {place}" for thing in things for place in places]
    assert len(bodies) == 26
    proposal = None
    for n, body in enumerate(bodies):
        draft = _suggested(body, refund, REFUND_TEXT, f"r-{n}")
        review.relabel(draft.pk, _actor(agent_user), "delivery_period")
        proposal = learning.observe_relabel(draft.pk)
    assert proposal is not None and proposal.source_count == 26 and len(proposal.variants) == 20

    decisions.approve(proposal.pk, _actor(agent_user))

    assert TriageExample.objects.filter(intent="delivery_period").count() == 26


def test_a_rewrite_about_another_question_is_a_new_answer(small_kb: Any, agent_user: Any) -> None:
    password = small_kb["password"]
    draft = _suggested("do you offer gift wrapping?", password, password.content)
    review.approve(draft.pk, _actor(agent_user), "Yes, choose Gift wrap at checkout; it is free.")
    proposal = learning.observe_draft(draft.pk)
    assert proposal is not None and proposal.kind == ProposalKind.ANSWER


def test_relabels_become_triage_examples_after_approval(
    small_kb: Any, agent_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    refund = small_kb["refund"]
    first = _suggested("my parcel is lost, I want my money, order 12345", refund, REFUND_TEXT)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        review.relabel(first.pk, _actor(agent_user), "delivery_period")
    queued = [c.args for c in callbacks if getattr(c, "func", None) is observers.queue_observation]
    assert queued == [(observers.OBSERVE_RELABEL_ACTOR, str(first.pk))]
    first.refresh_from_db()
    assert (first.intent, first.category) == ("delivery_period", "DELIVERY")
    audit = AuditLog.objects.get(action=AuditAction.RELABELLED)
    assert audit.before == {"intent": "get_refund", "category": "REFUND"}

    proposal = learning.observe_relabel(first.pk)
    assert proposal is not None and proposal.kind == ProposalKind.TRIAGE_EXAMPLE
    assert proposal.answer == "delivery_period"
    assert proposal.question == "my parcel is lost, I want my money, order [number]"
    second = _suggested("where is my parcel, it's been weeks", refund, REFUND_TEXT)
    review.relabel(second.pk, _actor(agent_user), "delivery_period")
    assert learning.observe_relabel(second.pk) == proposal
    proposal.refresh_from_db()
    assert proposal.source_count == 2

    learning.approve(proposal.pk, _actor(agent_user))
    rows = sorted(TriageExample.objects.values_list("text", "intent", "category"))
    assert rows == [
        ("my parcel is lost, I want my money, order [number]", "delivery_period", "DELIVERY"),
        ("where is my parcel, it's been weeks", "delivery_period", "DELIVERY"),
    ]


def test_a_relabel_must_name_a_known_intent(small_kb: Any, agent_user: Any) -> None:
    draft = _suggested("refund?", small_kb["refund"], REFUND_TEXT)
    with pytest.raises(review.ReviewError, match="unknown intent"):
        review.relabel(draft.pk, _actor(agent_user), "made_up")
    with pytest.raises(review.ReviewError, match="unknown category"):
        review.relabel(draft.pk, _actor(agent_user), "get_refund", "NOPE")
    # The same label again changes nothing and teaches nothing.
    review.relabel(draft.pk, _actor(agent_user), "get_refund")
    assert not AuditLog.objects.filter(action=AuditAction.RELABELLED).exists()


WAIVER = "As a goodwill gesture we will waive the restocking fee on your return."


def test_policy_rejections_propose_an_off_rule_with_the_drafts_it_stops(
    small_kb: Any, agent_user: Any
) -> None:
    refund = small_kb["refund"]
    # What agents send must stay allowed: the phrase chosen is one no sent draft has.
    sent = _suggested("return policy?", refund, "We will refund your return once it arrives.")
    review.approve(sent.pk, _actor(agent_user), "We will refund your return once it arrives.")
    first = _suggested("can I return this?", refund, WAIVER)
    review.reject(first.pk, _actor(agent_user), "we never waive fees", "policy")
    proposal = learning.observe_draft(first.pk)
    assert proposal is not None and proposal.kind == ProposalKind.GUARD_RULE
    assert proposal.notes == ["we never waive fees"]
    assert proposal.answer == r"\bgesture\W+we\W+will\W+waive\W+the\W+restocking\b"

    # A second rejection: the pattern becomes the phrase both drafts share.
    second = _suggested("return fee?", refund, "Good news: I will waive the restocking fee!")
    review.reject(second.pk, _actor(agent_user), "", "policy")
    again = learning.observe_draft(second.pk)
    assert again is not None and again.pk == proposal.pk and again.source_count == 2
    pattern = again.answer
    assert pattern == r"\bwaive\W+the\W+restocking\W+fee\b"
    assert again.title == "Stop drafts that say “waive the restocking fee”"
    stops = would_stop(pattern)
    assert {d.pk for d in stops.rejected} == {first.pk, second.pk} and stops.sent == []

    approved = learning.approve(proposal.pk, _actor(agent_user))
    rule = GuardRule.objects.get(proposal=approved)
    assert rule.pattern == pattern and rule.enabled is False

    from support.learning.guard_rules import set_enabled

    set_enabled(rule.pk, _actor(agent_user), True)
    audit = AuditLog.objects.get(action=AuditAction.GUARD_RULE_ENABLED)
    assert audit.after == {"rule_id": rule.pk, "enabled": True, "pattern": pattern}


@pytest.mark.parametrize("pattern", ["(unclosed", "x*", "", "x{4294967295}", "(a|a)+$"])
def test_an_unusable_rule_is_refused(agent_user: Any, pattern: str) -> None:
    proposal = Proposal.objects.create(
        kind=ProposalKind.GUARD_RULE, title="t", question="q", answer="placeholder"
    )
    Proposal.objects.filter(pk=proposal.pk).update(answer=pattern)
    with pytest.raises(review.ReviewError):
        learning.approve(proposal.pk, _actor(agent_user))
    assert not GuardRule.objects.exists()


def test_customer_ratings_move_a_proposals_rank(
    small_kb: Any, agent_user: Any, django_capture_on_commit_callbacks: Any
) -> None:
    low = Proposal.objects.create(
        kind=ProposalKind.ANSWER, title="low", question="q1", answer="a1", source_count=2, impact=2
    )
    _, draft = receive_message("do you gift wrap?", customer_ref="c9", enqueue=False)
    Message.objects.create(
        conversation_id=draft.conversation_id, role=MessageRole.AGENT, body="Yes, for free."
    )
    high = Proposal.objects.create(
        kind=ProposalKind.ANSWER,
        title="rated",
        question="q2",
        answer="a2",
        source_count=2,
        impact=2,
        sources=[{"conversation_id": str(draft.conversation_id), "draft_id": str(draft.pk)}],
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rate_reply(draft.conversation_id, 1)
    queued = [c.args for c in callbacks if getattr(c, "func", None) is observers.queue_observation]
    # Beside it, the autonomy ladder re-weighs the draft's intent (#29).
    queued = [args for args in queued if args[0] != observers.UPDATE_AUTONOMY_ACTOR]
    assert queued == [(observers.REWEIGH_ACTOR, str(draft.conversation_id))]
    assert learning.reweigh(draft.conversation_id) == 1
    assert list(Proposal.objects.open().by_impact()) == [Proposal.objects.get(pk=high.pk), low]
    rate_reply(draft.conversation_id, -1)  # the customer changed their mind
    learning.reweigh(draft.conversation_id)
    high.refresh_from_db()
    assert high.impact == 1.5


def test_a_guard_rule_never_carries_a_customers_data(small_kb: Any, agent_user: Any) -> None:
    draft = _suggested(
        "refund?",
        small_kb["refund"],
        "Dear Jo, we will waive the fee for jo@example.com on order 48213 today.",
    )
    review.reject(draft.pk, _actor(agent_user), "no waivers for jo@example.com", "policy")
    proposal = learning.observe_draft(draft.pk)
    assert proposal is not None
    shown = " ".join([proposal.answer, proposal.title, proposal.question, *proposal.notes])
    for private in ("jo@example", "example", "48213", "Jo,"):
        assert private not in shown, private
    assert re.search(proposal.answer, draft.answer, re.IGNORECASE)  # it still stops the draft


def test_a_pending_draft_cannot_be_relabelled(small_kb: Any, agent_user: Any) -> None:
    _, draft = receive_message("where is my parcel", enqueue=False)
    with pytest.raises(review.Conflict, match="still being prepared"):
        review.relabel(draft.pk, _actor(agent_user), "delivery_period")


def test_a_long_message_is_a_triage_example_too(small_kb: Any, agent_user: Any) -> None:
    """A B-tree entry holds ~2.7 kB; the uniqueness is on a hash of the text."""
    long_text = "我的包裹在哪里" * 285  # 1995 characters, ~6 kB in UTF-8
    proposal = Proposal.objects.create(
        kind=ProposalKind.TRIAGE_EXAMPLE,
        title="t",
        question=long_text,
        answer="delivery_period",
        category="DELIVERY",
    )
    learning.approve(proposal.pk, _actor(agent_user))
    assert TriageExample.objects.get().text == long_text
