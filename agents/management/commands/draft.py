"""`draft --json [--file F] [TEXT]`: the same graph as the worker, synchronously, no queue.
Writes nothing unless --persist (then a conversation, message and draft per input, as if the
message had arrived through the API, but drafted in this process)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from agents.graph import build_graph, initial_state, run_graph
from agents.persistence import save_outcome
from agents.runner import run_for_draft
from agents.services import default_services
from resolver.cli import BatchInputError, read_batch


class Command(BaseCommand):
    help = "Draft replies to customer messages (triage, retrieve, draft, guard, decide)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("text", nargs="?")
        parser.add_argument("--json", action="store_true")
        parser.add_argument("--file", type=Path, help='JSONL of {"id", "text"}')
        parser.add_argument("--persist", action="store_true", help="store conversation rows")
        parser.add_argument(
            "--customer", default=None, help="customer ref whose orders may be described"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            items = read_batch(options["file"], options["text"])
        except BatchInputError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if options["file"] is None and not items[0][1].strip():
            raise CommandError("the text is empty", returncode=2)
        persist = save_outcome if options["persist"] else None
        services = default_services(persist=persist) if persist else default_services()
        graph = build_graph(services)
        for item_id, text in items:
            if not text.strip():
                self._emit({"id": item_id, "error": "the text is empty"}, options)
                continue
            self._emit({"id": item_id, **self._draft(graph, text, options)}, options)

    def _draft(self, graph: Any, text: str, options: dict[str, Any]) -> dict[str, Any]:
        if not options["persist"]:
            outcome = run_graph(graph, initial_state(text, customer_ref=options["customer"]))
            return outcome.as_draft()
        from support.ingest import receive_message
        from support.models import Channel, Draft

        message, draft = receive_message(
            text, customer_ref=options["customer"] or "", channel=Channel.API, enqueue=False
        )
        outcome = run_for_draft(draft, graph=graph)
        draft = Draft.objects.get(pk=draft.pk)
        return {
            "draft_id": str(draft.pk),
            "message_id": str(message.pk),
            "conversation_id": str(message.conversation_id),
            **outcome.as_draft(),
            "created_at": draft.created_at.isoformat(),
        }

    def _emit(self, record: dict[str, Any], options: dict[str, Any]) -> None:
        if options["json"]:
            sys.stdout.write(json.dumps(record, default=str) + "\n")
        elif "error" in record:
            self.stdout.write(record["error"])
        else:
            reason = f" ({record['escalation_reason']})" if record["escalation_reason"] else ""
            self.stdout.write(
                f"{record['status']}{reason} · {record['intent']} · confidence "
                f"{record['confidence']:.2f}\n{record['answer']}\n"
            )
