"""The draft queue and human actions: approve, reject, escalate, with audit and 409s."""

from __future__ import annotations

import base64
import json
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from support.announce import broadcast
from support.models import (
    AuditLog,
    Conversation,
    ConversationStatus,
    DraftStatus,
    Message,
    MessageRole,
)
from support.observers import queue_observation
from support.tests.conftest import API, MakeDraft, key_client, post_json


def test_queue_filters_by_status_and_pages_with_a_cursor(
    api: Client, make_draft: MakeDraft
) -> None:
    suggested = [make_draft(f"question {i}") for i in range(5)]
    make_draft("an escalated one", status=DraftStatus.ESCALATED, escalation_reason="high_risk")
    seen: list[str] = []
    sizes: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"status": "SUGGESTED", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.get(f"{API}/drafts", params).json()
        seen += [item["id"] for item in page["items"]]
        sizes.append(len(page["items"]))
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sizes == [2, 2, 1]
    assert seen == [str(d.pk) for d in sorted(suggested, key=lambda d: d.created_at, reverse=True)]


def test_draft_object_has_the_contract_shape(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft(status=DraftStatus.ESCALATED, escalation_reason="low_confidence")
    item = api.get(f"{API}/drafts").json()["items"][0]
    contract = {
        "id", "message_id", "conversation_id", "status", "escalation_reason", "intent",
        "category", "sentiment", "urgency", "answer", "citations", "suggested_action",
        "confidence", "guard", "model", "prompt_version", "tokens", "cost", "latency_ms",
        "created_at", "context", "actions",
        "language",  # issue #31's contract: the customer message's language
    }  # fmt: skip
    additions = {"reviewed_at", "sent_text", "reject_reason", "reject_category", "trace_id"}
    additions |= {"answer_digest"}  # names the answer an approval with `edited` was made on
    assert set(item) == contract | additions
    # Additions (2026-12-05): what the run saw beyond the message; "missing" is ours.
    assert item["context"] == {"earlier_conversations": [], "documents": [], "missing": []}
    assert item["actions"] == []  # Additions (2026-12-05): none proposed with this one
    assert item["language"] is None  # not triaged yet (make_draft writes no triage)
    assert (item["id"], item["status"], item["escalation_reason"]) == (
        str(draft.pk),
        "ESCALATED",
        "low_confidence",
    )
    assert item["citations"] == [
        {"kb_id": 1, "title": "Track your order", "snippet": "Open Order History."}
    ]
    assert item["suggested_action"] is None


# ["2024-01-01T00:00:00", "00000000-…"]: a time without a time zone.
def _cursor(created_at: str) -> str:
    """A cursor as the API writes one (support/api/cursor.py), for any created_at text."""
    raw = json.dumps([created_at, "00000000-0000-0000-0000-000000000000"]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


NAIVE_TIME_CURSOR = (
    "WyIyMDI0LTAxLTAxVDAwOjAwOjAwIiwgIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJd"
)


def test_drafts_filter_by_an_intent_of_the_taxonomy(
    api: Client, make_draft: MakeDraft, small_kb: object
) -> None:
    """GET /intents lists the taxonomy (the KB's published articles' intents); GET /drafts takes
    one of them, and refuses an intent the taxonomy does not know (422, not an empty page)."""
    intents = api.get(f"{API}/intents").json()["items"]
    assert {"intent": "get_refund", "category": "REFUND"} in intents
    assert [item["intent"] for item in intents] == sorted(item["intent"] for item in intents)
    refund = make_draft("refund my blender", intent="get_refund")
    make_draft("where is my parcel", intent="track_order")
    page = api.get(f"{API}/drafts", {"intent": "get_refund"}).json()
    assert [item["id"] for item in page["items"]] == [str(refund.pk)]
    unknown = api.get(f"{API}/drafts", {"intent": "ship_to_mars"})
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "unknown_intent" and "ship_to_mars" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"limit": 101}, 422),
        ({"limit": 0}, 422),
        ({"status": "DONE"}, 422),
        ({"cursor": "%%"}, 400),
        ({"cursor": "WyIyMDI0LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgNV0"}, 400),  # id not a string
        ({"cursor": NAIVE_TIME_CURSOR}, 400),
        ({"cursor": "WzEsIDIsIDNd"}, 400),  # three values
        # An offset Python reads and PostgreSQL refuses, and a moment before year 1 in UTC.
        ({"cursor": _cursor("2026-01-01T00:00:00+23:59")}, 200),
        ({"cursor": _cursor("0001-01-01T00:00:00+05:00")}, 400),
    ],
)
def test_bad_queue_parameters(api: Client, params: dict[str, Any], status: int) -> None:
    assert api.get(f"{API}/drafts", params).status_code == status


def test_approve_as_is_sends_the_answer(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    response = post_json(api, f"/drafts/{draft.pk}/approve")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["sent_text"]) == ("SENT", draft.answer)
    reply = Message.objects.get(conversation=draft.conversation, role=MessageRole.AGENT)
    assert reply.body == draft.answer
    draft.refresh_from_db()
    assert (draft.status, draft.edit_distance) == (DraftStatus.SENT, 0)
    actions = AuditLog.objects.filter(draft=draft).order_by("id").values_list("action", "actor")
    assert list(actions) == [
        ("created", "customer"),
        ("approved", "key:test"),
        ("sent", "key:test"),
    ]


def test_approve_with_edits_records_the_edit(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    edited = "You can track your order in Order History; it shipped today."
    response = post_json(api, f"/drafts/{draft.pk}/approve", {"edited": edited})
    assert response.json()["sent_text"] == edited
    draft.refresh_from_db()
    assert draft.edit_distance == 4  # "History [1]." → "History; it shipped today."
    edit = AuditLog.objects.get(draft=draft, action="edited")
    assert (edit.before, edit.after) == ({"answer": draft.answer}, {"answer": edited})
    assert Message.objects.get(role=MessageRole.AGENT).body == edited


def test_approve_twice_is_409_and_sends_once(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    assert post_json(api, f"/drafts/{draft.pk}/approve").status_code == 200
    again = post_json(api, f"/drafts/{draft.pk}/approve")
    assert again.json() == {"detail": "the draft is already SENT", "code": "conflict"}
    assert again.status_code == 409
    assert post_json(api, f"/drafts/{draft.pk}/reject").status_code == 409
    assert Message.objects.filter(role=MessageRole.AGENT).count() == 1


def test_approving_a_draft_without_an_answer_needs_edited_text(
    api: Client, make_draft: MakeDraft
) -> None:
    draft = make_draft(answer="", status=DraftStatus.ESCALATED, escalation_reason="high_risk")
    for body in ({}, {"edited": "  \n "}):
        refused = post_json(api, f"/drafts/{draft.pk}/approve", body)
        assert (refused.status_code, refused.json()) == (
            422,
            {
                "detail": "there is no answer to send: pass the reply as 'edited'",
                "code": "invalid_action",
            },
        )
    assert not Message.objects.filter(role=MessageRole.AGENT).exists()
    response = post_json(api, f"/drafts/{draft.pk}/approve", {"edited": "A human answer."})
    assert (response.status_code, response.json()["status"]) == (200, "SENT")


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_one_wins(make_draft: MakeDraft) -> None:
    draft = make_draft()
    clients = [key_client("act", name=f"agent{i}") for i in range(4)]
    statuses: list[int] = []
    barrier = threading.Barrier(len(clients))

    def approve(client: Client) -> None:
        try:
            barrier.wait()
            statuses.append(post_json(client, f"/drafts/{draft.pk}/approve").status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 409, 409, 409]
    assert Message.objects.filter(role=MessageRole.AGENT).count() == 1
    assert AuditLog.objects.filter(draft=draft, action="sent").count() == 1


def test_reject_keeps_the_reason(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    response = post_json(api, f"/drafts/{draft.pk}/reject", {"reason": "wrong article"})
    assert (response.json()["status"], response.json()["reject_reason"]) == (
        "REJECTED",
        "wrong article",
    )
    audit = AuditLog.objects.get(draft=draft, action="rejected")
    assert audit.after == {
        "status": "REJECTED",
        "escalation_reason": None,
        "reason": "wrong article",
    }
    assert not Message.objects.filter(role=MessageRole.AGENT).exists()


def test_reject_with_a_category(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    url = f"/drafts/{draft.pk}/reject"
    bad = post_json(api, url, {"reason": "old", "category": "boring"})
    assert (bad.status_code, bad.json()["code"]) == (422, "validation_error")
    body = post_json(api, url, {"reason": "price changed", "category": "outdated"}).json()
    assert (body["reject_reason"], body["reject_category"]) == ("price changed", "outdated")
    audit = AuditLog.objects.get(draft=draft, action="rejected")
    assert audit.after == {
        "status": "REJECTED",
        "escalation_reason": None,
        "reason": "price changed",
        "category": "outdated",
    }


def test_reject_without_a_body(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    response = api.post(f"{API}/drafts/{draft.pk}/reject", b"", content_type="application/json")
    assert (response.status_code, response.json()["status"]) == (200, "REJECTED")


def test_escalate_flags_the_conversation(api: Client, make_draft: MakeDraft) -> None:
    draft = make_draft()
    response = post_json(api, f"/drafts/{draft.pk}/escalate")
    assert response.json()["status"] == "ESCALATED"
    conversation = Conversation.objects.get(pk=draft.conversation_id)
    assert conversation.status == ConversationStatus.ESCALATED
    audit = AuditLog.objects.get(draft=draft, action="escalated")
    assert audit.before is not None and audit.after is not None
    assert (audit.actor, audit.before["status"], audit.after["status"]) == (
        "key:test",
        "SUGGESTED",
        "ESCALATED",
    )
    assert post_json(api, f"/drafts/{draft.pk}/escalate").status_code == 409


def test_unknown_draft_is_404(api: Client) -> None:
    response = post_json(api, "/drafts/00000000-0000-0000-0000-000000000001/approve")
    assert (response.status_code, response.json()) == (
        404,
        {"detail": "not found", "code": "not_found"},
    )


@pytest.mark.parametrize(
    ("action", "event_type", "status", "pushes"),
    [
        # Approving hands the reply to the outbound seam, by the conversation's channel: an API
        # conversation with no `reply.sent` subscriber has nothing to deliver (a widget's is
        # pushed: test_outbound_channels.py); the learning loop looks at what the agent sent,
        # and the intent's autonomy rung is re-weighed (update_autonomy).
        ("approve", "draft.sent", "SENT", [broadcast, queue_observation, queue_observation]),
        ("reject", "draft.rejected", "REJECTED", [broadcast, queue_observation, queue_observation]),
        ("escalate", "draft.escalated", "ESCALATED", [broadcast]),
    ],
)
def test_actions_announce_after_commit(
    api: Client,
    make_draft: MakeDraft,
    django_capture_on_commit_callbacks: Any,
    action: str,
    event_type: str,
    status: str,
    pushes: list[Any],
) -> None:
    draft = make_draft()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post_json(api, f"/drafts/{draft.pk}/{action}").status_code == 200
    assert [callback.func for callback in callbacks] == pushes  # no webhook endpoints
    observed = [c.args[0] for c in callbacks if c.func is queue_observation]
    assert observed[1:] == (["update_autonomy"] if observed else [])
    event = next(c for c in callbacks if c.func is broadcast).args[0]
    assert (event["type"], event["draft_id"], event["status"]) == (
        event_type,
        str(draft.pk),
        status,
    )


@pytest.mark.parametrize("body", [b'"Please use this corrected text"', b'["x"]', b"42", b"null"])
def test_a_body_that_is_no_json_object_is_refused_and_sends_nothing(
    api: Client, make_draft: MakeDraft, body: bytes
) -> None:
    """ninja's schemas read a string's attributes: a bare string approved the draft unedited."""
    draft = make_draft()
    response = api.post(f"{API}/drafts/{draft.pk}/approve", body, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert "must be a JSON object" in response.json()["detail"]
    draft.refresh_from_db()
    assert draft.status == DraftStatus.SUGGESTED
    assert not Message.objects.filter(role=MessageRole.AGENT).exists()


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("get", "/nonexistent", 404),
        ("get", "/widget/articles/a%2Fb", 404),
        ("delete", "/messages", 405),
        ("put", "/drafts", 405),
    ],
)
def test_unrouted_requests_answer_in_the_error_shape(
    api: Client, method: str, path: str, status: int
) -> None:
    response = getattr(api, method)(f"{API}{path}")
    assert response.status_code == status
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"detail", "code"}
    if status == 405:
        assert response["Allow"]
    assert response["X-Frame-Options"] == "DENY"  # the inner layers' headers are kept
