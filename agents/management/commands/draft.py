"""`draft --json [--file F] [TEXT]`: the same graph as the worker, synchronously, no queue.
Writes nothing unless --persist (then a conversation, message and draft per input, as if the
message had arrived through the API, but drafted in this process)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandParser

from agents.graph import build_graph, run_graph
from agents.runner import run_for_draft
from agents.services import default_services
from agents.state_builder import build_state
from knowledge.models import KBDocument
from resolver.cli import BatchCommand
from support.agent_runs import unsaved_draft


class Command(BatchCommand):
    help = "Draft replies to customer messages (triage, retrieve, draft, guard, decide)."

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--persist", action="store_true", help="store conversation rows")
        parser.add_argument(
            "--customer", default=None, help="customer ref whose orders may be described"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        items = self.batch(options)
        if hint := KBDocument.objects.empty_hint():
            self.stderr.write(hint)
        graph = build_graph(default_services())
        for item_id, text in items:
            if not text.strip():
                self.emit({"id": item_id, "error": "the text is empty"}, options)
                continue
            self.emit({"id": item_id, **self._draft(graph, text, options)}, options)

    def _draft(self, graph: Any, text: str, options: dict[str, Any]) -> dict[str, Any]:
        if not options["persist"]:
            outcome = run_graph(graph, build_state(text, customer_ref=options["customer"]))
            return unsaved_draft(outcome)
        from support.inbound import receive_message
        from support.models import Channel
        from support.vocabulary import Verification

        ref = options["customer"] or ""
        # The operator names the customer: trusted as an API key's customer_ref is.
        verified_by = Verification.API_KEY if ref else Verification.NONE
        _, draft = receive_message(
            text, customer_ref=ref, channel=Channel.API, enqueue=False, verified_by=verified_by
        )
        run_for_draft(draft, graph=graph)
        draft.refresh_from_db()
        # "id" is the input line's; the stored draft's id is "draft_id".
        wire = draft.as_wire()
        return {"draft_id": wire.pop("id"), **wire}

    def describe(self, record: dict[str, Any]) -> str:
        reason = f" ({record['escalation_reason']})" if record["escalation_reason"] else ""
        return (
            f"{record['status']}{reason} · {record['intent']} · confidence "
            f"{record['confidence']:.2f}\n{record['answer']}\n"
        )
