"""POST /messages: persist first, enqueue after commit, idempotency, input errors."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client, override_settings

from resolver.models import IdempotencyRecord
from support.models import AuditLog, Conversation, Draft, DraftStatus, Message
from support.tests.conftest import API, key_client, post_json


def test_ingest_persists_then_enqueues_after_commit(
    api: Client, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = post_json(api, "/messages", {"body": "Where is my order?", "customer_ref": "c9"})
    assert response.status_code == 202
    data = response.json()
    message = Message.objects.get(pk=data["id"])
    draft = Draft.objects.get(message=message)
    assert data == {
        "id": str(message.pk),
        "conversation_id": str(message.conversation_id),
        "status": "PENDING",
        "draft_id": str(draft.pk),
        "trace_id": message.trace_id,
    }
    assert len(message.trace_id) == 32 and draft.trace_id == message.trace_id
    assert (message.body, message.role, message.conversation.customer_ref) == (
        "Where is my order?",
        "CUSTOMER",
        "c9",
    )
    assert draft.status == DraftStatus.PENDING
    assert list(AuditLog.objects.filter(draft=draft).values_list("action", flat=True)) == [
        "created"
    ]
    assert len(callbacks) == 1  # the enqueue, registered for after commit only


def test_message_joins_an_existing_conversation(api: Client) -> None:
    first = post_json(api, "/messages", {"body": "hello", "customer_ref": "c1"}).json()
    second = post_json(
        api, "/messages", {"body": "still there?", "conversation_id": first["conversation_id"]}
    ).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert Message.objects.filter(conversation_id=first["conversation_id"]).count() == 2


def test_unknown_conversation_is_404(api: Client) -> None:
    body = {"body": "hi", "conversation_id": "00000000-0000-0000-0000-000000000000"}
    response = post_json(api, "/messages", body)
    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert Message.objects.count() == 0


def test_conversation_of_another_customer_is_409(api: Client) -> None:
    first = post_json(api, "/messages", {"body": "hello", "customer_ref": "c1"}).json()
    body = {"body": "hi", "conversation_id": first["conversation_id"], "customer_ref": "c2"}
    response = post_json(api, "/messages", body)
    assert (response.status_code, response.json()["code"]) == (409, "conflict")
    assert Message.objects.count() == 1


def test_same_idempotency_key_and_body_returns_the_same_ids(api: Client) -> None:
    body = {"body": "Where is my order?"}
    first = post_json(api, "/messages", body, HTTP_IDEMPOTENCY_KEY="retry-1")
    again = post_json(api, "/messages", body, HTTP_IDEMPOTENCY_KEY="retry-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json() == first.json()
    assert Message.objects.count() == 1


def test_a_replay_of_an_answer_stored_before_trace_ids_is_served(api: Client) -> None:
    """Answers stored by a version without trace ids (an install upgraded within the keys'
    retention) are replayed as stored: it was a 500 ("trace_id: Field required")."""
    body = {"body": "Where is my order?"}
    first = post_json(api, "/messages", body, HTTP_IDEMPOTENCY_KEY="before-upgrade").json()
    record = IdempotencyRecord.objects.get(key="before-upgrade")
    record.response = {key: value for key, value in first.items() if key != "trace_id"}
    record.save()
    again = post_json(api, "/messages", body, HTTP_IDEMPOTENCY_KEY="before-upgrade")
    assert again.status_code == 202, again.content
    assert (again.json()["id"], again.json()["draft_id"]) == (first["id"], first["draft_id"])
    assert Message.objects.count() == 1


def test_same_idempotency_key_with_another_body_is_409(api: Client) -> None:
    post_json(api, "/messages", {"body": "one"}, HTTP_IDEMPOTENCY_KEY="k")
    response = post_json(api, "/messages", {"body": "two"}, HTTP_IDEMPOTENCY_KEY="k")
    assert (response.status_code, response.json()["code"]) == (409, "idempotency_reuse")
    assert Message.objects.count() == 1


def test_idempotency_keys_are_per_caller(api: Client) -> None:
    other = key_client("ingest", name="other")
    a = post_json(api, "/messages", {"body": "one"}, HTTP_IDEMPOTENCY_KEY="k").json()
    b = post_json(other, "/messages", {"body": "one"}, HTTP_IDEMPOTENCY_KEY="k").json()
    assert a["id"] != b["id"]
    assert IdempotencyRecord.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_make_one_message() -> None:
    client = key_client("ingest")
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def send() -> None:
        try:
            barrier.wait()
            response = post_json(client, "/messages", {"body": "hi"}, HTTP_IDEMPOTENCY_KEY="race")
            results.append((response.status_code, response.json()["id"]))
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _ in results] == [202] * 4
    assert len({message_id for _, message_id in results}) == 1
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "malformed_json"),
        (b"\xff\xfe", 400, "malformed_json"),
        (b"[]", 422, "validation_error"),
        (b'{"body": ""}', 422, "validation_error"),
        (b'{"body": "   \\n "}', 422, "validation_error"),
        (b'{"body": "a\\u0000b"}', 422, "validation_error"),
        (b'{"body": "\\ud800"}', 422, "validation_error"),
        (b'{"body": 42}', 422, "validation_error"),
        (b'{"body": "hi", "customer_ref": "' + b"x" * 201 + b'"}', 422, "validation_error"),
        (b'{"body": "hi", "conversation_id": "nope"}', 422, "validation_error"),
    ],
)
def test_bad_input_is_a_4xx_with_a_reason(api: Client, body: bytes, status: int, code: str) -> None:
    response = api.post(f"{API}/messages", body, content_type="application/json")
    assert response.status_code == status
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert Message.objects.count() == 0


def test_message_over_the_limit_is_413(api: Client) -> None:
    response = post_json(api, "/messages", {"body": "é" * 16385})  # 32,770 bytes
    assert response.status_code == 413
    assert response.json() == {
        "detail": "the message body is 32770 bytes; the limit is 32768",
        "code": "payload_too_large",
    }


@override_settings(API_MESSAGE_MAX_BYTES=10)
def test_message_limit_is_configurable(api: Client) -> None:
    assert post_json(api, "/messages", {"body": "0123456789"}).status_code == 202
    assert post_json(api, "/messages", {"body": "0123456789!"}).status_code == 413


def test_request_over_the_upload_limit_is_413_before_parsing(api: Client) -> None:
    huge = json.dumps({"body": "x" * (300 * 1024)})
    response = api.post(f"{API}/messages", huge, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")


def test_html_body_is_stored_verbatim_and_returned_as_json(api: Client) -> None:
    body = "<script>alert(1)</script> where is my order"
    conversation_id = post_json(api, "/messages", {"body": body}).json()["conversation_id"]
    thread = api.get(f"{API}/conversations/{conversation_id}")
    assert thread["Content-Type"] == "application/json; charset=utf-8"
    assert thread.json()["messages"][0]["body"] == body
    assert Conversation.objects.count() == 1
