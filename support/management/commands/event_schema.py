"""`manage.py event_schema [--check]`: writes the vocabulary support owns (escalation reasons)
into the events' JSON Schema (resolver/events/schema.json), which is generated in that part;
--check only says whether the file is up to date (exit 1 when not: a test runs it)."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from resolver.events import SCHEMA_PATH
from support.models import EscalationReason


def generated_schema() -> dict[str, Any]:
    schema = json.loads(SCHEMA_PATH.read_text())
    for rule in schema["allOf"]:
        reason = rule["then"].get("properties", {}).get("reason")
        if reason is not None:
            reason["enum"] = [*EscalationReason.values, None]
    return dict(schema)


def rendered(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2) + "\n"


class Command(BaseCommand):
    help = "Regenerate the escalation reasons in resolver/events/schema.json (or --check them)."

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
