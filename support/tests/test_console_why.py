"""The console says why triage read a message so (issue #28): the tone chips show their
probability and the cues that decided it on hover (title) and to a screen reader, in the draft
card and the queue row, page and live push alike; an escalated complaint names the question it
also asks."""

from __future__ import annotations

from typing import Any

import pytest
from django.http import QueryDict
from django.test import Client
from django.utils import timezone

from support.console.filters import QueueFilter
from support.console.live import ConversationLive, QueueLive
from support.models import DraftStatus, EscalationReason
from support.tests.conftest import MakeDraft
from support.vocabulary import not_drafted_guard

pytestmark = pytest.mark.django_db

COMPLAINT = "Great job losing my parcel again 🙄 How do I get a refund?"
# triage_scores as support.outcome.DraftOutcome.draft_fields stores them.
SCORES: dict[str, Any] = {
    "intent": 0.7,
    "sentiment": 0.86,
    "urgency": 0.64,
    "urgency_high": 0.31,
    "praise": 0.88,
    "cues": {
        "kind": ["eye-roll emoji 🙄"],
        "sentiment": ["“losing my parcel”", "eye-roll emoji 🙄"],
        "urgency": ["“again”"],
    },
    "signals": {
        "complaint": True,
        "praise": False,
        "acknowledge": 0.02,
        "question": "How do I get a refund?",
        "vetoes": ["eye-roll emoji 🙄", "asks something to answer"],
    },
}


def _escalated(make_draft: MakeDraft, body: str = COMPLAINT, **scores: Any) -> Any:
    return make_draft(
        body,
        status=DraftStatus.ESCALATED,
        escalation_reason=EscalationReason.CUSTOMER_COMPLAINT,
        answer="",
        citations=[],
        guard=not_drafted_guard(),
        intent="get_refund",
        category="REFUND",
        sentiment="NEGATIVE",
        urgency="NORMAL",
        triage_scores={**SCORES, **scores},
        completed_at=timezone.now(),
    )


def test_the_card_says_why_on_hover_and_to_a_screen_reader(
    console: Client, make_draft: MakeDraft
) -> None:
    draft = _escalated(make_draft)
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    pushed = "".join(ConversationLive(draft.conversation_id).snapshot())
    sentiment = "P(negative) 0.86 · “losing my parcel”; eye-roll emoji 🙄"
    urgency = "P(normal) 0.64 · P(high) 0.31 · “again”"
    thanked = "P(thank) 0.02 · P(praise) 0.88 · eye-roll emoji 🙄; asks something to answer"
    for html in (page, pushed):
        assert f'title="{sentiment}" tabindex="0">negative · 0.86' in html
        assert f'title="{urgency}"' in html
        assert f'title="{thanked}" tabindex="0" data-acknowledgement>not thanked' in html
        for why in (sentiment, urgency, thanked):
            assert f'<span class="sr-only" data-why>, why: {why}</span>' in html
        assert "<strong>Customer also asks:</strong> How do I get a refund?</p>" in html


def test_the_queue_row_says_why(make_draft: MakeDraft) -> None:
    _escalated(make_draft)
    rows = "".join(QueueLive(QueueFilter.from_query(QueryDict())).snapshot())
    assert 'title="P(negative) 0.86 · “losing my parcel”; eye-roll emoji 🙄">negative' in rows
    assert 'title="P(normal) 0.64 · P(high) 0.31 · “again”">normal' in rows
    assert ">not thanked<span" in rows


def test_without_cues_or_praise_the_chips_say_so(console: Client, make_draft: MakeDraft) -> None:
    """A draft stored before the tone model gave cues: the probability alone, and no
    acknowledgement chip for a message nobody read as praise."""
    draft = _escalated(
        make_draft,
        "You lost my parcel. Where is it?",
        cues={},
        praise=0.03,
        urgency_high=None,
        signals={"praise": False, "acknowledge": 0.03, "question": "Where is it?"},
    )
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert 'title="P(negative) 0.86 · no single cue decided it"' in page
    assert 'title="P(normal) 0.64 · no single cue decided it"' in page
    assert "data-acknowledgement" not in page
    assert "Customer also asks:</strong> Where is it?" in page


def test_a_question_alone_is_not_named_again(console: Client, make_draft: MakeDraft) -> None:
    question = "How do I get a refund?"
    draft = _escalated(make_draft, question)
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert "Customer also asks" not in page
