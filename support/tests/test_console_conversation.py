"""/console/conversations/{id}/: timeline, draft card, citations, guard, facts, who acted."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from resolver.audit_actor import Actor
from support import review
from support.console.live import ConversationLive
from support.inbound import receive_message
from support.models import Draft, DraftStatus, EscalationReason
from support.tests.conftest import MakeDraft
from support.vocabulary import not_drafted_guard

pytestmark = pytest.mark.django_db


def test_the_draft_card(console: Client, make_draft: MakeDraft, small_kb: dict) -> None:
    doc = small_kb["refund"]
    draft = make_draft(
        "refund order A-1 please",
        citations=[{"kb_id": doc.pk, "title": doc.title, "snippet": "Refunds are issued…"}],
        guard={"grounded": True, "tone": True, "policy": False, "reasons": ["promises a refund"]},
        facts={
            "orders": [
                {
                    "number": "A-1",
                    "status": "SHIPPED",
                    "delivery_date": None,
                    "refund_eligible": False,
                }
            ],
            "unknown_orders": ["B-2"],
        },
        triage_scores={"intent": 0.91, "category": 0.95, "sentiment": 0.7, "urgency": 0.6},
        completed_at=timezone.now(),
    )
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    for text in (
        ">SUGGESTED<",
        ">Approve</button>",
        ">Reject</button>",
        ">Escalate</button>",
        ">Reprocess</button>",
        'name="edited"',
        "You can track your order in Order History [1].</textarea>",
        f"<summary>[1] {doc.title}</summary><p>Refunds are issued…</p>",
        f'<a href="/console/kb/{doc.pk}/"',
        'value="0.800"',
        "Policy: fail",
        "<li>promises a refund</li>",
        "<td>A-1</td><td>SHIPPED</td><td>unknown</td><td>no</td>",
        "<td>B-2</td>",
        "intent track_order · 0.91",
        "Created by <strong>customer</strong>",  # the last action on this draft
    ):
        assert text in page, text
    assert "{#" not in page and "{%" not in page
    kb_page = console.get(f"/console/kb/{doc.pk}/").content.decode()
    assert doc.title in kb_page and "original payment method" in kb_page


def test_customer_and_ai_text_is_escaped(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft(
        '<script>alert("m")</script>',
        answer='<img src=x onerror="alert(2)">',
        citations=[{"kb_id": 1, "title": "<b>t</b>", "snippet": "<i>s</i>"}],
        guard={"grounded": False, "tone": True, "policy": True, "reasons": ["<u>r</u>"]},
        completed_at=timezone.now(),
    )
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    for raw in ("<script>alert", "<img src=x", "<b>t</b>", "<i>s</i>", "<u>r</u>"):
        assert raw not in page, raw
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;</textarea>" in page


def test_a_sent_draft_shows_the_text_and_who_sent_it(
    console: Client, make_draft: MakeDraft, agent_user: object
) -> None:
    draft = make_draft()
    review.approve(draft.pk, Actor.for_user(agent_user), "Here you go, edited")
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert ">SENT<" in page
    assert ">Approve</button>" not in page
    assert "Here you go, edited" in page
    assert "Sent by <strong>user:agnes</strong>" in page
    # The timeline has the customer's message and the agent's reply, by name.
    assert page.index("where is my order?") < page.index("<strong>agnes</strong>")


def test_open_drafts_get_cards_and_a_closed_one_is_shown_only_alone(
    console: Client, make_draft: MakeDraft
) -> None:
    first = make_draft("first question")
    _, second = receive_message("second question", conversation=first.conversation, enqueue=False)
    Draft.objects.filter(pk=first.pk).update(status=DraftStatus.REJECTED)
    page = console.get(f"/console/conversations/{first.conversation_id}/").content.decode()
    assert f'id="draft-{second.pk}"' in page
    assert f'id="draft-{first.pk}"' not in page
    assert ">PENDING<" in page and "drafting a reply" in page
    assert f'id="answer-{second.pk}-pending"' in page
    assert "<h3>Guard</h3>" not in page  # no checks ran yet: none shown as failed


def test_an_escalation_that_was_never_drafted_says_so_and_has_nothing_to_approve(
    console: Client, make_draft: MakeDraft
) -> None:
    """Escalated straight from retrieval: no answer, and no guard check ran (not three fails)."""
    draft = make_draft(
        "what is the capital of pakistan",
        status=DraftStatus.ESCALATED,
        escalation_reason=EscalationReason.RETRIEVAL_WEAK,
        answer="",
        citations=[],
        guard=not_drafted_guard(),
        completed_at=timezone.now(),
    )
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    # The live update renders the same partial: it must say the same.
    pushed = "".join(ConversationLive(draft.conversation_id).snapshot())
    for html in (page, pushed):
        assert "Not drafted: no checks ran." in html
        assert 'class="fail"' not in html and ": fail" not in html
        assert "<li>not drafted</li>" not in html  # the marker is not shown as a failure reason
        assert 'data-key="a" data-approve disabled>Approve</button>' in html
        assert 'placeholder="Write the reply to send"></textarea>' in html  # still theirs to write
        assert 'data-key="r">Reject</button>' in html
        assert 'data-key="p">Reprocess</button>' in html


def test_a_run_that_failed_for_good_shows_as_an_escalation_to_answer(
    console: Client, make_draft: MakeDraft
) -> None:
    """It said "The assistant is drafting a reply…" for ever (support/agent_runs.py)."""
    from support.agent_runs import escalate_failed_run

    pending = make_draft("reset my password please", status=DraftStatus.PENDING, answer="")
    draft = escalate_failed_run(pending.message_id, "ConnectionError")
    assert draft is not None
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    pushed = "".join(ConversationLive(draft.conversation_id).snapshot())
    for html in (page, pushed):
        assert "The assistant could not draft" in html
        assert "Drafting failed (ConnectionError)" in html
        assert "drafting a reply" not in html
        assert "Not drafted: no checks ran." in html
        assert 'data-key="p">Reprocess</button>' in html


def test_a_drafted_answer_can_be_approved(console: Client, make_draft: MakeDraft) -> None:
    draft = make_draft(completed_at=timezone.now())
    page = console.get(f"/console/conversations/{draft.conversation_id}/").content.decode()
    assert 'data-key="a" data-approve>Approve</button>' in page
    assert "Grounded: pass" in page and "Not drafted" not in page


def test_next_in_queue_walks_the_queue_and_wraps(console: Client, make_draft: MakeDraft) -> None:
    first = make_draft("first", urgency="HIGH")
    second = make_draft("second")
    third = make_draft("third", urgency="LOW")
    order = [first, second, third]
    for here, there in zip(order, [second, third, first], strict=True):
        page = console.get(f"/console/conversations/{here.conversation_id}/").content.decode()
        assert f'href="/console/conversations/{there.conversation_id}/" data-next' in page
