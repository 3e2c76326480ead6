"""`manage.py event_schema [--check]`: writes the vocabularies into the events' JSON Schema
(resolver/events/schema.json): the event types (resolver/events:EventType) and the words support
owns (escalation and close reasons, channels, delivery statuses), which the schema's rules per
event type list; --check only says whether the file is up to date (exit 1 when not: a test runs
it)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from resolver.events import SCHEMA_PATH, EventType
from support.models import Channel, EscalationReason, ReplyDeliveryStatus
from support.vocabulary import CloseReason


def vocabularies() -> dict[str, dict[str, list[Any]]]:
    """Per event type, the properties whose words a vocabulary defines."""
    return {
        EventType.DRAFT_ESCALATED: {"reason": [*EscalationReason.values, None]},
        EventType.DRAFT_CLOSED: {"reason": list(CloseReason.values)},
        EventType.REPLY_SENT: {"channel": list(Channel.values)},
        EventType.REPLY_DELIVERY: {"status": list(ReplyDeliveryStatus.values)},
    }


def generated_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_PATH.read_text())
    schema["properties"]["type"]["enum"] = list(EventType.values)
    words = vocabularies()
    for rule in schema["allOf"]:
        event_type = rule["if"]["properties"]["type"]["const"]
        for name, values in words.pop(event_type, {}).items():
            rule["then"]["properties"][name]["enum"] = values
    if words:
        raise CommandError(f"{SCHEMA_PATH.name} has no rule for {', '.join(sorted(words))}")
    return dict(schema)


def rendered(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


class Command(BaseCommand):
    help = "Regenerate the vocabularies in resolver/events/schema.json (or --check them)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        text = rendered(generated_schema())
        if SCHEMA_PATH.read_text() == text:
            self.stdout.write(f"{SCHEMA_PATH.name} is up to date")
            return
        if options["check"]:
            raise CommandError(f"{SCHEMA_PATH} is out of date: run manage.py event_schema")
        SCHEMA_PATH.write_text(text)
        self.stdout.write(f"wrote {SCHEMA_PATH}")
