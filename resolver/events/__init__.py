"""Events of CONTRACTS.md, checked against resolver/events/schema.json when made and when read.
The contract between the apps: support publishes and announces them, the agent worker consumes
them; it lives here so that every app may use it without importing another."""

from __future__ import annotations

import json
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from django.db import models
from django.utils import timezone
from jsonschema import Draft202012Validator, FormatChecker

from resolver.tracing import new_trace_id

SCHEMA_PATH = Path(__file__).resolve().parent / "schema.json"
# What make_event publishes. Consumers accept every version the schema lists (1 and 2): events
# queued before an upgrade are still processed.
SCHEMA_VERSION = 2


class EventType(models.TextChoices):
    """Every event's `type`, defined once: the schema's list is generated from it (`manage.py
    event_schema`), webhook endpoints subscribe to some of them, publishers name them here."""

    MESSAGE_CREATED = "message.created", "A customer message was stored (the worker drafts it)"
    DRAFT_READY = "draft.ready", "A draft is suggested"
    DRAFT_ESCALATED = "draft.escalated", "A draft is escalated to a person"
    DRAFT_SENT = "draft.sent", "A draft was sent to the customer"
    DRAFT_REJECTED = "draft.rejected", "A human rejected a draft"
    # A draft nobody will answer any more, closed by the system, not by a verdict on its answer:
    # a reprocess superseded it, its conversation was resolved, its customer's data was erased.
    DRAFT_CLOSED = "draft.closed", "A draft was closed unanswered (with the reason)"
    # What an API integration delivers to its customer: the reply's text, once per reply.
    REPLY_SENT = "reply.sent", "A reply to an API-channel customer (with its text)"
    REPLY_DELIVERY = "reply.delivery", "A reply's delivery status changed (console only)"
    MESSAGE_SENT = "message.sent", "An agent wrote to the customer (console only)"
    CONVERSATION_RESOLVED = "conversation.resolved", "A conversation was resolved (console only)"
    TASK_CHANGED = "task.changed", "A follow-up task was created or changed (console only)"


# What webhook endpoints may subscribe to: what happens to drafts, and the replies an API
# integration delivers. message.created carries the customer's message to the worker; the
# console-only events tell open screens to refresh.
WEBHOOK_EVENT_TYPES = (
    EventType.DRAFT_READY,
    EventType.DRAFT_ESCALATED,
    EventType.DRAFT_SENT,
    EventType.DRAFT_REJECTED,
    EventType.DRAFT_CLOSED,
    EventType.REPLY_SENT,
)


class InvalidEvent(ValueError):
    """An event that does not match the schema; never published, never processed."""


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=FormatChecker())


def validate_event(data: Any) -> dict[str, Any]:
    """Returns the event if valid; raises InvalidEvent listing every problem otherwise."""
    errors = sorted(validator().iter_errors(data), key=lambda e: list(e.absolute_path))
    if errors:
        problems = "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in errors
        )
        raise InvalidEvent(problems)
    return dict(data)


def make_event(
    event_type: str, *, trace_id: str | None = None, event_id: str | None = None, **payload: Any
) -> dict[str, Any]:
    """A new event with the common fields filled in (event_id is the dedupe key: a new one
    unless the publisher derives it, so that the event can only ever be made once), validated."""
    event = {
        "schema_version": SCHEMA_VERSION,
        "type": event_type,
        "event_id": event_id or str(uuid.uuid4()),
        "occurred_at": timezone.now().isoformat(),
        # The active trace's (resolver/tracing.py), so an event names the request behind it.
        "trace_id": trace_id or new_trace_id(),
        **{
            key: str(value) if isinstance(value, uuid.UUID) else value
            for key, value in payload.items()
        },
    }
    return validate_event(event)
