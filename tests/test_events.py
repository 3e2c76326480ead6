"""Events match CONTRACTS.md and the JSON Schema in the repository."""

from __future__ import annotations

import uuid

import pytest

from resolver.events import InvalidEvent, make_event, validate_event

IDS = {"draft_id": str(uuid.uuid4()), "message_id": str(uuid.uuid4()), "conversation_id": "c1"}


def test_message_created_has_common_fields_and_ids_only() -> None:
    event = make_event("message.created", message_id=uuid.uuid4(), conversation_id="c1")
    assert set(event) == {
        "schema_version",
        "type",
        "event_id",
        "occurred_at",
        "trace_id",
        "message_id",
        "conversation_id",
    }
    assert event["schema_version"] == 2
    assert uuid.UUID(event["event_id"])
    assert (
        make_event("message.created", message_id="m", conversation_id="c")["event_id"]
        != event["event_id"]
    )


def test_version_2_message_created_refuses_a_body() -> None:
    """Customer text stays in PostgreSQL: not in Redis, failure logs or dead letters."""
    with pytest.raises(InvalidEvent, match="should not be valid"):
        make_event("message.created", message_id="m", conversation_id="c", body="my card 4111…")


def test_version_1_events_already_queued_are_still_accepted() -> None:
    queued = {
        **make_event("message.created", message_id="m", conversation_id="c"),
        "schema_version": 1,
        "body": "hi",
    }
    assert validate_event(queued) == queued
    with pytest.raises(InvalidEvent, match="'body' is a required property"):
        validate_event({key: value for key, value in queued.items() if key != "body"})


@pytest.mark.parametrize(
    ("event_type", "status", "extra"),
    [
        ("draft.ready", "SUGGESTED", {}),
        ("draft.escalated", "ESCALATED", {"reason": "retrieval_weak"}),
        ("draft.sent", "SENT", {}),
        ("draft.rejected", "REJECTED", {}),
    ],
)
def test_draft_events(event_type: str, status: str, extra: dict[str, str]) -> None:
    event = make_event(event_type, status=status, **IDS, **extra)
    assert validate_event(event) == event


@pytest.mark.parametrize(
    ("event_type", "fields", "problem"),
    [
        ("draft.ready", {**IDS, "status": "SENT"}, "status: 'SUGGESTED' was expected"),
        ("draft.escalated", {**IDS, "status": "ESCALATED"}, "'reason' is a required property"),
        (
            "draft.escalated",
            {**IDS, "status": "ESCALATED", "reason": "bored"},
            "reason: 'bored' is not one of",
        ),
        ("message.created", {"message_id": "m"}, "'conversation_id' is a required"),
        ("draft.deleted", {**IDS, "status": "SENT"}, "type: 'draft.deleted' is not one of"),
    ],
)
def test_invalid_events_are_refused(event_type: str, fields: dict[str, str], problem: str) -> None:
    with pytest.raises(InvalidEvent, match=problem.replace("(", r"\(")):
        make_event(event_type, **fields)


def test_consumed_event_is_checked_too() -> None:
    event = make_event("draft.sent", status="SENT", **IDS)
    with pytest.raises(InvalidEvent, match="schema_version"):
        validate_event({**event, "schema_version": 3})
    with pytest.raises(InvalidEvent, match="occurred_at"):
        validate_event({**event, "occurred_at": "yesterday"})
