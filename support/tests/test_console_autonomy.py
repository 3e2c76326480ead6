"""The console's Autonomy page (/console/autonomy/, #29): the ladder per intent with the evidence
behind each rung, the team's switch per intent and the global kill switch (both audited, the
kill switch stopping a real auto-send); auto-sent replies marked in the thread and corrected
from the conversation page (the intent taken back to review)."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from support.autonomy.evidence import judge, wilson_lower_bound
from support.autonomy.switch import autonomy_on
from support.autosend import auto_send_if_allowed
from support.console.autonomy_screens import reviews_needed
from support.models import (
    AuditAction,
    AuditLog,
    AutonomySwitch,
    Draft,
    DraftStatus,
    IntentAutonomy,
    Message,
    MessageRole,
)
from support.tests.autonomy_fixtures import make_auto, reload
from support.tests.conftest import SUGGESTION, MakeDraft, key_client
from support.vocabulary import AutonomyMode, DemotionReason

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}
PAGE = "/console/autonomy/"


def _row(page: str, intent: str) -> str:
    match = re.search(rf'<tr id="rung-{intent}"[^>]*>(.*?)</tr>', page, re.S)
    assert match, intent
    return match.group(1)


def _cell(row: str, name: str) -> str:
    match = re.search(rf"<td {name}[^>]*>(.*?)</td>", row, re.S)
    assert match, name
    return unescape(re.sub(r"<[^>]+>", "", match.group(1))).strip()


def _reviewed(make_draft: MakeDraft, status: str, edit_distance: int | None = 0) -> Draft:
    """A suggestion a person judged, its verdict stored as support/review.py stores it."""
    fields: dict[str, Any] = {"status": status, "reviewed_at": timezone.now()}
    if status == DraftStatus.SENT:
        fields |= {"edit_distance": edit_distance, "sent_text": "sent"}
    else:
        fields["reject_reason"] = "wrong order"
    answer = str(SUGGESTION["answer"])
    fields["review_verdict"] = judge(status, answer, fields.get("edit_distance"))
    return make_draft(**fields)


def _agent_replies(draft: Draft) -> list[Message]:
    replies = Message.objects.filter(conversation_id=draft.conversation_id, role=MessageRole.AGENT)
    return list(replies.order_by("created_at"))


def test_the_page_lists_every_intent_with_the_evidence_behind_its_rung(
    console: Client, make_draft: MakeDraft, settings: Any
) -> None:
    settings.AUTONOMY_MIN_REVIEWED, settings.AUTONOMY_TARGET = 10, 0.6
    for _ in range(3):
        _reviewed(make_draft, DraftStatus.SENT)
    _reviewed(make_draft, DraftStatus.SENT, edit_distance=30)  # rewritten
    _reviewed(make_draft, DraftStatus.REJECTED)
    IntentAutonomy.objects.create(intent="cancel_order", allowed=False)  # a rung, no reviews

    response = console.get(PAGE)
    assert response.status_code == 200
    page = response.content.decode()
    assert 'href="/console/autonomy/" aria-current="page">Autonomy</a>' in page  # in the nav
    row = _row(page, "track_order")
    assert _cell(row, "data-reviewed") == "5"
    assert _cell(row, "data-sent-unchanged") == "3"
    assert _cell(row, "data-rejected") == "1"
    assert _cell(row, "data-lower-bound").startswith(f"{wilson_lower_bound(3, 5):.3f}")
    assert _cell(row, "data-needed") == str(reviews_needed(3, 5, 10, 0.6))
    assert _cell(row, "data-mode") == "review"
    cancel = _row(page, "cancel_order")
    assert (_cell(cancel, "data-reviewed"), _cell(cancel, "data-mode")) == ("0", "switched off")
    # Off by default: the page says so, and what off means.
    assert "Auto-send is <span data-autonomy-state>off</span>" in page
    assert "nothing is sent without a human" in page


def test_reviews_needed_counts_good_reviews_up_to_the_minimum_and_the_target() -> None:
    assert reviews_needed(0, 0, 5, 0.5) == 5
    needed = reviews_needed(40, 50, 50, 0.9)
    assert needed is not None and needed > 0
    assert wilson_lower_bound(40 + needed, 50 + needed) >= 0.9
    assert wilson_lower_bound(40 + needed - 1, 50 + needed - 1) < 0.9
    assert reviews_needed(0, 500, 50, 0.99) is None  # far off


def test_the_intent_switch_takes_an_auto_intent_back_and_is_audited(
    console: Client, settings: Any
) -> None:
    make_auto("track_order", settings)
    response = console.post(f"{PAGE}switch/", {"intent": "track_order"}, headers=HTMX)
    assert response.status_code == 200
    assert "switched off" in _cell(_row(response.content.decode(), "track_order"), "data-mode")
    row = IntentAutonomy.objects.get(intent="track_order")
    assert (row.allowed, row.mode, row.demoted_reason) == (
        False,
        AutonomyMode.REVIEW,
        DemotionReason.SWITCHED_OFF,
    )
    switched = AuditLog.objects.get(action=AuditAction.AUTONOMY_SWITCHED)
    assert (switched.actor, (switched.after or {}).get("allowed")) == ("user:agnes", False)

    response = console.post(f"{PAGE}switch/", {"intent": "track_order", "allowed": "1"})
    assert response.status_code == 302  # without htmx: back to the page
    assert IntentAutonomy.objects.get(intent="track_order").allowed is True
    assert AuditLog.objects.filter(action=AuditAction.AUTONOMY_SWITCHED).count() == 2


def test_the_switches_need_an_agent_and_a_csrf_token(agent_user: Any, settings: Any) -> None:
    make_auto("track_order", settings)
    anonymous = Client()
    assert anonymous.get(PAGE).status_code == 302
    assert anonymous.post(f"{PAGE}kill-switch/").status_code == 302
    guarded = Client(enforce_csrf_checks=True)
    guarded.force_login(agent_user)
    assert guarded.post(f"{PAGE}kill-switch/").status_code == 403
    assert guarded.post(f"{PAGE}switch/", {"intent": "track_order"}).status_code == 403
    assert autonomy_on() is True
    assert IntentAutonomy.objects.get(intent="track_order").allowed is True


def test_the_kill_switch_stops_a_draft_that_would_be_sent_alone(
    console: Client, make_draft: MakeDraft, settings: Any
) -> None:
    make_auto("track_order", settings, min_confidence=0.5)
    response = console.post(f"{PAGE}kill-switch/", headers=HTMX)  # no `on`: off
    assert response.status_code == 200
    assert "Auto-send is <span data-autonomy-state>off</span>" in response.content.decode()
    audit = AuditLog.objects.get(action=AuditAction.AUTONOMY_SWITCHED)
    assert (audit.actor, audit.after, audit.metadata) == (
        "user:agnes",
        {"on": False},
        {"scope": "global"},
    )
    assert AutonomySwitch.objects.get().changed_by == "user:agnes"

    draft = make_draft(confidence=0.9)
    assert auto_send_if_allowed(draft) is False
    assert reload(draft).status == DraftStatus.SUGGESTED
    assert _agent_replies(draft) == []
    # The intent keeps its rung; the API says nothing goes out alone.
    assert IntentAutonomy.objects.get(intent="track_order").mode == AutonomyMode.AUTO
    items = key_client("read").get("/api/v1/autonomy").json()["items"]
    assert {item["enabled"] for item in items} == {False}

    console.post(f"{PAGE}kill-switch/", {"on": "1"})
    assert auto_send_if_allowed(draft) is True  # the same draft, once switched back on
    assert reload(draft).status == DraftStatus.SENT


def test_the_environment_is_the_master(settings: Any) -> None:
    AutonomySwitch.objects.create(on=True)
    settings.AUTONOMY_ENABLED = False
    assert autonomy_on() is False
    settings.AUTONOMY_ENABLED = True
    assert autonomy_on() is True


def test_an_auto_sent_reply_is_marked_and_corrected_from_the_conversation(
    console: Client, make_draft: MakeDraft, settings: Any
) -> None:
    settings.AUTONOMY_CANARY_SHARE = 1.0  # every canary draft goes out alone
    make_auto("track_order", settings, canary=True)
    draft = make_draft(confidence=0.9)
    assert auto_send_if_allowed(draft) is True
    url = f"/console/conversations/{draft.conversation_id}/"
    page = console.get(url).content.decode()
    assert "<strong>Sent automatically</strong>" in page  # the thread's reply
    assert "data-auto-sent>Sent automatically</span>" in page  # the draft card
    assert "canary</span>" in page
    assert f'action="/console/drafts/{draft.pk}/correct/"' in page
    assert "sent automatically · track_order (canary)" in page  # the activity (audit)

    correction = "Sorry: your order ships tomorrow, not today."
    response = console.post(
        f"/console/drafts/{draft.pk}/correct/", {"text": correction}, headers=HTMX
    )
    assert response.status_code == 200
    fragment = response.content.decode()
    assert "corrected by user:agnes" in fragment
    assert "track_order taken back to review" in fragment
    assert "autonomy: taken back to review: “corrected”" in fragment
    assert [m.body for m in _agent_replies(draft)] == [draft.answer, correction]
    row = IntentAutonomy.objects.get(intent="track_order")
    assert (row.mode, row.demoted_reason, row.demoted_draft_id) == (
        AutonomyMode.REVIEW,
        DemotionReason.CORRECTED,
        draft.pk,
    )
    corrected = AuditLog.objects.get(action=AuditAction.CORRECTED)
    assert (corrected.actor, corrected.draft_id) == ("user:agnes", draft.pk)

    ladder = _row(console.get(PAGE).content.decode(), "track_order")
    demotion = _cell(ladder, "data-demotion")
    assert "An agent corrected an auto-sent reply" in demotion
    assert f'href="{url}#draft-{draft.pk}"' in ladder


def test_only_a_reply_sent_alone_is_corrected(console: Client, make_draft: MakeDraft) -> None:
    draft = _reviewed(make_draft, DraftStatus.SENT)
    response = console.post(f"/console/drafts/{draft.pk}/correct/", {"text": "x"}, headers=HTMX)
    assert response.status_code == 409
    assert _agent_replies(draft) == []
    empty = console.post(f"/console/drafts/{draft.pk}/correct/", {"text": ""}, headers=HTMX)
    assert empty.status_code == 422
