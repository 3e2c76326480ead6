"""The autonomy ladder on real rows (support/autonomy/ladder.py): an intent is promoted only
after the evidence (AUTONOMY_MIN_REVIEWED reviews whose good rate's Wilson lower bound reaches
AUTONOMY_TARGET), starts in its canary, and is taken back at once, audited with the reason, by a
rejection, a customer's 👎 on an automated reply, an agent's correction of one, the team's
switch, or evidence below the target."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from knowledge.models import TriageExample
from resolver.audit_actor import Actor
from resolver.periodic import LOCK_PREFIX as PERIODIC_LOCK
from resolver.redis_client import get_redis
from support import review
from support.actors import sweep_autonomy, update_autonomy
from support.autonomy import ladder
from support.autonomy.evidence import evidence_for, wilson_lower_bound
from support.autosend import auto_send_if_allowed
from support.inbound import rate_reply
from support.models import (
    AuditAction,
    AuditLog,
    Draft,
    DraftStatus,
    IntentAutonomy,
    Message,
    MessageRole,
)
from support.observers import UPDATE_AUTONOMY_ACTOR, queue_observation
from support.tests.autonomy_fixtures import make_auto, reload
from support.tests.conftest import API, MakeDraft, key_client, post_json
from support.vocabulary import AutonomyMode, DemotionReason, EscalationReason

pytestmark = pytest.mark.django_db
INTENT = "track_order"


@pytest.fixture
def small_ladder(settings: Any) -> Any:
    settings.AUTONOMY_MIN_REVIEWED = 50
    settings.AUTONOMY_TARGET = 0.9
    settings.AUTONOMY_CANARY_SHARE = 0.2
    settings.AUTONOMY_CUSTOMERS = "anyone"  # these tests' senders are not verified
    return settings


def _reviews(
    make_draft: MakeDraft, user: User, good: int, rejected: int = 0, confidence: float = 0.8
) -> list[Draft]:
    """`good` drafts approved as they are and `rejected` rejected, by a person."""
    actor = Actor.for_user(user)
    drafts = []
    for n in range(good + rejected):
        draft = make_draft(
            f"where is order NW-{n}?", customer_ref=f"cust-{n}", confidence=confidence
        )
        if n < good:
            review.approve(draft.pk, actor)
        else:
            review.reject(draft.pk, actor, "wrong")
        drafts.append(draft)
    return drafts


def _sweep() -> None:
    """The periodic sweep, now (its once-per-interval lock from an earlier test released)."""
    get_redis().delete(f"{PERIODIC_LOCK}sweep_autonomy")
    sweep_autonomy.fn()


def _rung(intent: str = INTENT) -> IntentAutonomy:
    return IntentAutonomy.objects.get(intent=intent)


def _after(row: AuditLog) -> dict[str, Any]:
    return row.after or {}


def _before(row: AuditLog) -> dict[str, Any]:
    return row.before or {}


def _demotions() -> list[AuditLog]:
    return list(AuditLog.objects.filter(action=AuditAction.AUTONOMY_DEMOTED).order_by("id"))


def test_promoted_only_after_enough_reviews(
    make_draft: MakeDraft, agent_user: User, small_ladder: Any
) -> None:
    _reviews(make_draft, agent_user, good=49)
    update_autonomy.fn(INTENT)
    assert _rung().mode == AutonomyMode.REVIEW  # 49 reviews: not yet, however good

    _reviews(make_draft, agent_user, good=1)
    update_autonomy.fn(INTENT)
    rung = _rung()
    assert (rung.mode, rung.canary, rung.min_confidence) == (AutonomyMode.AUTO, True, 0.8)
    assert rung.since is not None
    promoted = AuditLog.objects.get(action=AuditAction.AUTONOMY_PROMOTED)
    assert (promoted.actor, _after(promoted)["mode"]) == ("system:autonomy", "auto")
    update_autonomy.fn(INTENT)  # idempotent: a redelivery changes nothing
    assert AuditLog.objects.filter(action=AuditAction.AUTONOMY_PROMOTED).count() == 1


def test_not_promoted_when_the_lower_bound_falls_short(
    make_draft: MakeDraft, agent_user: User, small_ladder: Any
) -> None:
    # 47 of 50 good is 94 %, but its lower bound is under the 90 % target.
    assert wilson_lower_bound(47, 50) < 0.9 <= 47 / 50
    _reviews(make_draft, agent_user, good=47, rejected=3)
    ladder.update_for_intent(INTENT)
    assert _rung().mode == AutonomyMode.REVIEW
    [rung] = [r for r in ladder.rungs() if r.intent == INTENT]
    assert (rung.evidence.reviewed, rung.evidence.sent_unchanged, rung.evidence.rejected) == (
        50,
        47,
        3,
    )


def _escalated_and_written(make_draft: MakeDraft, user: User, n: int) -> Draft:
    """A draft its run escalated, whose reply a person wrote and sent."""
    draft = make_draft(
        f"where is NW-{n}? and something else", customer_ref=f"esc-{n}", answer="", confidence=0.3
    )
    Draft.objects.filter(pk=draft.pk).update(
        status=DraftStatus.ESCALATED, escalation_reason=EscalationReason.LOW_CONFIDENCE
    )
    text = "Hello, I checked it myself: your parcel left our warehouse this morning."
    return review.approve(draft.pk, Actor.for_user(user), edited=text)


def test_an_escalated_draft_whose_reply_a_human_wrote_is_no_evidence(
    make_draft: MakeDraft, agent_user: User, small_ladder: Any
) -> None:
    written = _escalated_and_written(make_draft, agent_user, 0)
    # Recognisable after the send: SENT by a person, its run's escalation reason kept.
    written = reload(written)
    assert (written.status, written.automated) == (DraftStatus.SENT, False)
    assert written.escalation_reason == EscalationReason.LOW_CONFIDENCE
    assert evidence_for(INTENT).reviewed == 0
    for n in range(1, 10):
        _escalated_and_written(make_draft, agent_user, n)
    _reviews(make_draft, agent_user, good=50)
    ladder.update_for_intent(INTENT)
    assert (_rung().mode, evidence_for(INTENT).reviewed) == (AutonomyMode.AUTO, 50)
    # Nor does rejecting one take an auto intent back: it was no suggestion.
    escalated = make_draft("and this?", customer_ref="esc-x")
    Draft.objects.filter(pk=escalated.pk).update(
        status=DraftStatus.ESCALATED, escalation_reason=EscalationReason.LOW_CONFIDENCE
    )
    review.reject(escalated.pk, Actor.for_user(agent_user), "not ours")
    ladder.update_for_intent(INTENT)
    assert _rung().mode == AutonomyMode.AUTO and _demotions() == []


def test_promoted_at_the_threshold_where_the_evidence_earns_it(
    make_draft: MakeDraft, agent_user: User, small_ladder: Any
) -> None:
    """Low-confidence suggestions rejected, high ones sent as they were: the whole evidence
    never earns auto, the drafts at or above 0.9 do; the rung says so, and a low-confidence
    draft still waits for a human."""
    small_ladder.AUTONOMY_CANARY_SHARE = 1.0
    _reviews(make_draft, agent_user, good=0, rejected=20, confidence=0.5)
    _reviews(make_draft, agent_user, good=50, confidence=0.9)
    ladder.update_for_intent(INTENT)
    rung = _rung()
    assert (rung.mode, rung.min_confidence) == (AutonomyMode.AUTO, 0.9)
    [shown] = [r for r in ladder.rungs() if r.intent == INTENT]
    assert shown.threshold == 0.9
    assert (shown.evidence_at_threshold.reviewed, shown.evidence_at_threshold.rejected) == (50, 0)
    assert (shown.evidence.reviewed, shown.evidence.rejected) == (70, 20)
    body = key_client("read").get(f"{API}/autonomy").json()
    [wire] = [i for i in body["items"] if i["intent"] == INTENT]
    assert (wire["reviewed"], wire["threshold"], wire["all_reviewed"]["reviewed"]) == (50, 0.9, 70)

    small_ladder.AUTONOMY_ENABLED = True
    low = make_draft("where is NW-low?", customer_ref="low", confidence=0.6)
    high = make_draft("where is NW-high?", customer_ref="high", confidence=0.95)
    assert auto_send_if_allowed(low) is False and reload(low).status == DraftStatus.SUGGESTED
    assert auto_send_if_allowed(high) is True and reload(high).automated
    # Rejecting the low one is evidence, not a take-back; rejecting one at the threshold is.
    review.reject(low.pk, Actor.for_user(agent_user), "wrong")
    ladder.update_for_intent(INTENT)
    assert (_rung().mode, _demotions()) == (AutonomyMode.AUTO, [])
    boundary = make_draft("where is NW-b?", customer_ref="b", confidence=0.9)
    review.reject(boundary.pk, Actor.for_user(agent_user), "wrong")
    assert (_rung().mode, _rung().demoted_reason) == (AutonomyMode.REVIEW, "rejected")


def test_a_switched_off_intent_is_never_promoted(
    make_draft: MakeDraft, agent_user: User, small_ladder: Any
) -> None:
    ladder.set_allowed(INTENT, False, Actor.for_user(agent_user))
    _reviews(make_draft, agent_user, good=50)
    ladder.update_for_intent(INTENT)
    assert (_rung().mode, _rung().allowed) == (AutonomyMode.REVIEW, False)
    ladder.set_allowed(INTENT, True, Actor.for_user(agent_user))  # on: it earns it at once
    assert _rung().mode == AutonomyMode.AUTO
    switched = AuditLog.objects.filter(action=AuditAction.AUTONOMY_SWITCHED).order_by("id")
    assert [_after(row)["allowed"] for row in switched] == [False, True]
    assert switched[0].actor == f"user:{agent_user.get_username()}"


def test_the_canary_ends_once_the_reviews_since_the_promotion_earn_auto(
    make_draft: MakeDraft, agent_user: User, small_ladder: Any
) -> None:
    _reviews(make_draft, agent_user, good=50)
    ladder.update_for_intent(INTENT)
    assert _rung().canary is True
    _reviews(make_draft, agent_user, good=49)
    _sweep()
    assert _rung().canary is True
    _reviews(make_draft, agent_user, good=1)
    ladder.update_for_intent(INTENT)
    assert (_rung().mode, _rung().canary) == (AutonomyMode.AUTO, False)


def test_a_rejection_demotes_at_once_audited_and_evidence_starts_afresh(
    make_draft: MakeDraft, agent_user: User, small_ladder: Any
) -> None:
    _reviews(make_draft, agent_user, good=50)
    ladder.update_for_intent(INTENT)
    held = make_draft("where is NW-999?")  # one the canary left for review

    review.reject(held.pk, Actor.for_user(agent_user), "wrong order")

    rung = _rung()
    assert (rung.mode, rung.demoted_reason, rung.demoted_draft_id) == (
        "review",
        "rejected",
        held.pk,
    )
    [audit] = _demotions()
    assert (audit.draft_id, audit.conversation_id) == (held.pk, held.conversation_id)
    assert (_before(audit)["mode"], _after(audit)["mode"], _after(audit)["reason"]) == (
        "auto",
        "review",
        "rejected",
    )
    # The 50 reviews before the demotion no longer count: nothing earns it back yet.
    ladder.update_for_intent(INTENT)
    assert _rung().mode == AutonomyMode.REVIEW
    [shown] = [r for r in ladder.rungs() if r.intent == INTENT]
    assert (shown.evidence.reviewed, shown.demoted_reason) == (0, DemotionReason.REJECTED)


def test_a_thumbs_down_on_an_automated_reply_demotes(
    make_draft: MakeDraft, agent_user: User, settings: Any
) -> None:
    make_auto(INTENT, settings)
    liked, disliked = make_draft("where is NW-1?"), make_draft("where is NW-2?", customer_ref="b")
    assert auto_send_if_allowed(liked) and auto_send_if_allowed(disliked)

    rate_reply(liked.conversation_id, 1)
    assert _rung().mode == AutonomyMode.AUTO  # a 👍 takes nothing back
    rate_reply(disliked.conversation_id, -1, "that is not my order")

    rung = _rung()
    assert (rung.mode, rung.demoted_reason, rung.demoted_draft_id) == (
        "review",
        "thumbs_down",
        disliked.pk,
    )
    [audit] = _demotions()
    assert (audit.actor, _after(audit)["reason"]) == ("customer", "thumbs_down")


def test_a_thumbs_down_on_a_human_approved_reply_is_evidence_not_a_take_back(
    make_draft: MakeDraft, agent_user: User, settings: Any
) -> None:
    make_auto(INTENT, settings)
    draft = make_draft()
    review.approve(draft.pk, Actor.for_user(agent_user))
    rate_reply(draft.conversation_id, -1)
    assert _rung().mode == AutonomyMode.AUTO
    assert evidence_for(INTENT).thumbs_down == 1


def test_a_correction_is_sent_audited_and_demotes(
    make_draft: MakeDraft, agent_user: User, settings: Any
) -> None:
    make_auto(INTENT, settings)
    draft = make_draft()
    assert auto_send_if_allowed(draft)
    text = "Sorry, a correction: your order ships tomorrow, not today."

    reply = review.correct(draft.pk, Actor.for_user(agent_user), text)

    assert (reply.role, reply.body, reply.automated) == (MessageRole.AGENT, text, False)
    assert reply.metadata["corrects_draft"] == str(draft.pk)
    assert Message.objects.filter(conversation_id=draft.conversation_id, role="AGENT").count() == 2
    corrected = AuditLog.objects.get(action=AuditAction.CORRECTED)
    assert (corrected.draft_id, _after(corrected)["message_id"]) == (draft.pk, str(reply.pk))
    rung = _rung()
    assert (rung.mode, rung.demoted_reason) == ("review", "corrected")
    assert _demotions()[0].actor == f"user:{agent_user.get_username()}"


@pytest.mark.parametrize("signal", ["corrected", "thumbs_down"])
def test_a_relabelled_auto_reply_takes_back_the_intent_that_sent_it(
    make_draft: MakeDraft, agent_user: User, settings: Any, signal: str
) -> None:
    """The agent fixes the wrong reply's label first (it was really a cancellation), then
    corrects it, or the customer gives it a 👎: the intent that sent it alone goes back to
    review, not the label it has now."""
    for intent in ("cancel_order", "change_order"):  # intents the taxonomy knows
        TriageExample.objects.create(text=f"please {intent}", intent=intent, category="ORDER")
    make_auto(INTENT, settings)
    draft = make_draft()
    assert auto_send_if_allowed(draft)
    agent = Actor.for_user(agent_user)
    review.relabel(draft.pk, agent, "cancel_order")
    review.relabel(draft.pk, agent, "change_order")  # a second thought keeps the first label

    if signal == "corrected":
        review.correct(draft.pk, agent, "Sorry, I misread: I have passed on your cancellation.")
    else:
        rate_reply(draft.conversation_id, -1, "I asked to cancel")

    rung = _rung()
    assert (rung.mode, rung.demoted_reason, rung.demoted_draft_id) == ("review", signal, draft.pk)


def test_only_an_automated_reply_is_corrected(
    make_draft: MakeDraft, agent_user: User, settings: Any
) -> None:
    make_auto(INTENT, settings)
    draft = make_draft()
    review.approve(draft.pk, Actor.for_user(agent_user))
    with pytest.raises(review.Conflict, match="sent automatically"):
        review.correct(draft.pk, Actor.for_user(agent_user), "a correction")
    with pytest.raises(review.ReviewError, match="empty"):
        review.correct(draft.pk, Actor.for_user(agent_user), "  ")
    assert _rung().mode == AutonomyMode.AUTO


def test_switching_off_demotes_and_evidence_below_target_demotes(
    make_draft: MakeDraft, agent_user: User, settings: Any
) -> None:
    make_auto(INTENT, settings)
    make_auto("get_refund", settings)
    ladder.set_allowed(INTENT, False, Actor.for_user(agent_user))
    assert (_rung().mode, _rung().demoted_reason, _rung().allowed) == (
        "review",
        "switched_off",
        False,
    )
    # get_refund sits on auto without the reviews to back it: the sweep takes it back.
    _sweep()
    assert (_rung("get_refund").mode, _rung("get_refund").demoted_reason) == (
        "review",
        "below_target",
    )
    assert [_after(row)["reason"] for row in _demotions()] == ["switched_off", "below_target"]


def test_the_api_corrects_and_the_rung_shows_the_reason(
    make_draft: MakeDraft, settings: Any
) -> None:
    make_auto(INTENT, settings)
    draft = make_draft()
    assert auto_send_if_allowed(draft)
    assert (
        post_json(key_client("read"), f"/drafts/{draft.pk}/correct", {"text": "x"}).status_code
        == 403
    )
    response = post_json(key_client("act"), f"/drafts/{draft.pk}/correct", {"text": "Fixed."})
    assert response.status_code == 200, response.content
    assert response.json()["body"] == "Fixed."
    again = post_json(key_client("act"), f"/drafts/{draft.pk}/correct", {"text": ""})
    assert again.status_code == 422
    body = key_client("read").get(f"{API}/autonomy").json()
    [rung] = [i for i in body["items"] if i["intent"] == INTENT]
    assert (rung["mode"], rung["demoted_reason"]) == ("review", "corrected")
    assert reload(draft).status == "SENT"


def test_admin_shows_the_rungs_and_switches_through_the_ladder(
    admin_client: Any, admin_user: User, settings: Any
) -> None:
    row = make_auto(INTENT, settings)
    page = admin_client.get("/admin/support/intentautonomy/")
    assert page.status_code == 200 and INTENT in page.content.decode()
    assert admin_client.get("/admin/support/intentautonomy/add/").status_code == 403
    response = admin_client.post(
        "/admin/support/intentautonomy/",
        {"action": "switch_off", "_selected_action": [row.pk]},
    )
    assert response.status_code == 302
    assert (_rung().allowed, _rung().mode, _rung().demoted_reason) == (
        False,
        "review",
        "switched_off",
    )
    assert _demotions()[0].actor == f"user:{admin_user.get_username()}"


@pytest.mark.parametrize("where", ["console", "admin"])
def test_a_rejection_from_the_console_or_admin_demotes_an_auto_intent(
    make_draft: MakeDraft, agent_user: User, admin_user: User, settings: Any, where: str
) -> None:
    """The take-back is review.reject's, so every door that rejects takes the intent back."""
    make_auto(INTENT, settings, min_confidence=0.5)
    draft = make_draft()  # confidence 0.8: at or above the rung's threshold
    client = Client()
    if where == "console":
        client.force_login(agent_user)
        response = client.post(
            f"/console/drafts/{draft.pk}/reject/",
            {"reason": "wrong order", "category": ""},
            headers={"HX-Request": "true"},
        )
        who = agent_user
    else:
        client.force_login(admin_user)
        response = client.post(
            "/admin/support/draft/",
            {"action": "reject", "_selected_action": [str(draft.pk)]},
            follow=True,
        )
        who = admin_user
    assert response.status_code == 200
    assert reload(draft).status == DraftStatus.REJECTED
    rung = _rung()
    assert (rung.mode, rung.demoted_reason, rung.demoted_draft_id) == (
        "review",
        "rejected",
        draft.pk,
    )
    assert _demotions()[0].actor == f"user:{who.get_username()}"


def test_any_rating_of_a_drafted_reply_queues_its_intent_reweighed(
    make_draft: MakeDraft, agent_user: User, django_capture_on_commit_callbacks: Any
) -> None:
    """A 👎 on a reply a person sent turns its draft's evidence bad: the rung is re-weighed
    after commit, not at the next sweep. A rating of a reply no draft sent queues nothing."""
    draft = make_draft()
    review.approve(draft.pk, Actor.for_user(agent_user))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rate_reply(draft.conversation_id, -1)
    queued = [c.args for c in callbacks if getattr(c, "func", None) is queue_observation]
    assert (UPDATE_AUTONOMY_ACTOR, INTENT) in queued
    written = make_draft("where is NW-9?", customer_ref="other")
    review.write_to_customer(written.conversation_id, Actor.for_user(agent_user), "On its way.")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        rate_reply(written.conversation_id, -1)
    queued = [c.args for c in callbacks if getattr(c, "func", None) is queue_observation]
    assert not any(args[0] == UPDATE_AUTONOMY_ACTOR for args in queued)
