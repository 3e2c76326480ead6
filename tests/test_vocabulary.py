"""One vocabulary: statuses, escalation reasons, sentiment, urgency, message kinds, event types and
scopes are defined once (support/vocabulary.py, resolver/events, resolver/models/apikey.py) and
derived everywhere else: the API schema, the events' JSON Schema, the graph's decisions, the
console. These fail when a copy disagrees or reappears."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import models
from django.test import Client

from resolver.events import EventType
from resolver.models import Scope
from support.models import ConversationStatus, OrderStatus
from support.vocabulary import (
    GUARD_CHECKS,
    ActionName,
    CloseReason,
    DraftStatus,
    EscalationReason,
    MessageKind,
    Sentiment,
    Urgency,
    empty_guard,
)
from tests.test_architecture import import_graph

ROOT = Path(__file__).resolve().parent.parent
APPS = ("resolver", "support", "knowledge", "agents", "evals")

# Each vocabulary and the one module that spells its words out.
VOCABULARIES: dict[type[models.TextChoices], str] = {
    DraftStatus: "support/vocabulary.py",
    EscalationReason: "support/vocabulary.py",
    Sentiment: "support/vocabulary.py",
    Urgency: "support/vocabulary.py",
    MessageKind: "support/vocabulary.py",
    CloseReason: "support/vocabulary.py",
    EventType: "resolver/events/__init__.py",
    Scope: "resolver/models/apikey.py",
    ConversationStatus: "support/models/conversation.py",
    OrderStatus: "support/models/customer.py",
    ActionName: "support/vocabulary.py",
}
# Words of a vocabulary that are also plain English or another list's name, with why.
NOT_COPIES = {
    ("other", None): "the generic 'other' (a metric label, a chart segment, a category default)",
    ("privacy", "agents/message_signals.py"): "the name of a risk pattern, not the scope",
    ("erased", None): "the key of an erasure's counts (the API's answer, the audit row)",
}


def _modules() -> Iterator[Path]:
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "tests" not in path.parts and "migrations" not in path.parts:
                yield path


def _is_choices_class(node: ast.ClassDef) -> bool:
    return any(
        isinstance(base, ast.Attribute | ast.Name)
        and (base.attr if isinstance(base, ast.Attribute) else base.id).endswith("Choices")
        for base in node.bases
    )


def _spelled_out(path: Path) -> set[str]:
    """The module's string literals, less those defining a TextChoices (another vocabulary that
    shares a word, e.g. ConversationStatus.ESCALATED) and its `__all__`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        defines = isinstance(node, ast.ClassDef) and _is_choices_class(node)
        exports = isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node.targets
        )
        if defines or exports:
            skipped |= {id(inner) for inner in ast.walk(node)}
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        if id(node) not in skipped
    }


def _copies() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in _modules():
        where = str(path.relative_to(ROOT))
        literals = _spelled_out(path)
        for vocabulary, home in VOCABULARIES.items():
            if where == home:
                continue
            for word in sorted(literals & set(vocabulary.values)):
                if (word, None) in NOT_COPIES or (word, where) in NOT_COPIES:
                    continue
                found.setdefault(where, []).append(f"{vocabulary.__name__}: {word!r}")
    return found


def test_every_word_is_spelled_out_in_one_module() -> None:
    assert _copies() == {}


def _quoted_in_templates() -> dict[str, list[str]]:
    """Templates cannot name the vocabulary: a quoted word of it there ({% if d.status ==
    "SENT" %}) is a copy; they test a model's property instead (Draft.is_sent)."""
    words = {word for vocabulary in VOCABULARIES for word in vocabulary.values}
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "templates").rglob("*.html")):
        quoted = set(re.findall(r"""["']([A-Za-z_.]+)["']""", path.read_text()))
        if copies := sorted(quoted & words - {word for word, _ in NOT_COPIES}):
            found[str(path.relative_to(ROOT))] = copies
    return found


def test_templates_test_properties_not_words() -> None:
    assert _quoted_in_templates() == {}


def test_the_copy_check_finds_a_copy(tmp_path: Path) -> None:
    """The check above can fail: a module retyping a status, or a reason, is found."""
    module = tmp_path / "copy.py"
    module.write_text(
        'class Kind(TextChoices):\n    ESCALATED = "ESCALATED"\n'
        'STATUS = "SUGGESTED"\nREASON = {"reason": "retrieval_weak"}\n'
    )
    assert _spelled_out(module) & set(DraftStatus.values) == {"SUGGESTED"}
    assert "retrieval_weak" in _spelled_out(module)


def test_the_events_schema_is_generated_from_the_vocabulary() -> None:
    call_command("event_schema", "--check")  # raises CommandError when out of date


@pytest.mark.django_db
def test_the_api_schema_lists_the_models_vocabulary(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert schemas["EscalationReason"]["enum"] == EscalationReason.values
    assert schemas["DraftStatus"]["enum"] == DraftStatus.values
    for scope in Scope.values:
        assert scope in spec["info"]["description"]


def test_webhook_endpoints_subscribe_to_the_event_types() -> None:
    from support.announce import EVENT_TYPES
    from support.models.webhook import WEBHOOK_EVENTS

    assert set(WEBHOOK_EVENTS) <= set(EventType.values)
    # A draft's status, a draft the system closed, a reply an API integration delivers.
    announced = {*EVENT_TYPES.values(), EventType.DRAFT_CLOSED, EventType.REPLY_SENT}
    assert set(WEBHOOK_EVENTS) == {event.value for event in announced}


def test_guard_checks_are_the_guards_keys() -> None:
    from agents.state import GuardResult

    assert [*GuardResult().as_dict()][: len(GUARD_CHECKS)] == list(GUARD_CHECKS)
    assert set(empty_guard()) == {*GUARD_CHECKS, "reasons"}


def test_the_tone_model_reads_the_message_kinds() -> None:
    from agents.triage.tone_model import load_tone_model

    tone = load_tone_model().predict(["where is my parcel?"])[0]
    assert set(tone.kind_scores) == set(MessageKind.values)


def test_the_graph_imports_no_delivery_code() -> None:
    """The graph returns a DraftOutcome (support/outcome.py, the vocabulary only): nothing the
    graph or its nodes import, lazily or not, reaches the console, the sockets, the
    announcements or the review actions."""
    graph = import_graph(runtime_only=True)
    reached: set[str] = set()
    todo = ["agents.graph", *(m for m in graph if m.startswith("agents.nodes."))]
    while todo:
        module = todo.pop()
        if module not in reached:
            reached.add(module)
            todo.extend(graph.get(module, ()))
    delivery = ("support.announce", "support.consumers", "support.console", "support.review")
    assert sorted(m for m in reached if m.startswith(delivery)) == []
    assert "support.outcome" in reached and "support.agent_runs" not in reached


def test_the_draft_has_one_wire_shape() -> None:
    from support.agent_runs import UNSAVED_KEYS, unsaved_draft
    from support.api.schemas import DraftOut
    from support.models import Draft
    from support.outcome import DraftOutcome

    stored = Draft().as_wire()
    assert list(stored) == list(DraftOut.model_fields)
    outcome = DraftOutcome(
        status=DraftStatus.SUGGESTED,
        escalation_reason=None,
        triage={"intent": "track_order", "category": "ORDER"},
        answer="It ships today.",
        citations=[{"kb_id": 1, "title": "Shipping", "snippet": "…", "score": 0.9}],
        suggested_action=None,
        confidence=0.8,
        guard=empty_guard(),
        facts={},
        model="extractive",
        prompt_version="v1",
        tokens=0,
        cost=0.0,
        latency_ms=12,
    )
    unsaved = unsaved_draft(outcome)
    assert list(unsaved) == [key for key in stored if key not in UNSAVED_KEYS]
    # The same mapping: empty triage fields are null, citations show only their public keys.
    assert unsaved["sentiment"] is None
    # CONTRACTS.md: the CLI may leave out the ids it did not persist, nothing else.
    assert datetime.fromisoformat(unsaved["created_at"]).tzinfo is not None
    assert unsaved["citations"] == [{"kb_id": 1, "title": "Shipping", "snippet": "…"}]
