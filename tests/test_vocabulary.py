"""One vocabulary: escalation reasons, statuses and guard checks are defined once (the TextChoices
and GUARD_CHECKS in support/models/draft.py) and derived everywhere else: the API schema, the
events' JSON Schema, the graph's decisions. These fail when a copy disagrees or reappears."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from support.models import DraftStatus, EscalationReason
from support.models.draft import GUARD_CHECKS, empty_guard

ROOT = Path(__file__).resolve().parent.parent
APPS = ("resolver", "support", "knowledge", "agents", "evals")


def string_literals(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_escalation_reasons_are_written_out_in_one_module() -> None:
    reasons = set(EscalationReason.values)
    holders = sorted(
        str(path.relative_to(ROOT))
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "tests" not in path.parts and "migrations" not in path.parts
        if string_literals(path) & reasons
    )
    assert holders == ["support/models/draft.py"]


def test_the_events_schema_is_generated_from_the_vocabulary() -> None:
    call_command("event_schema", "--check")  # raises CommandError when out of date


@pytest.mark.django_db
def test_the_api_schema_lists_the_models_vocabulary(client: Client) -> None:
    spec = client.get("/api/v1/openapi.json").json()["components"]["schemas"]
    assert spec["EscalationReason"]["enum"] == EscalationReason.values
    assert spec["DraftStatus"]["enum"] == DraftStatus.values


def test_guard_checks_are_the_guards_keys() -> None:
    from agents.state import GuardResult

    assert [*GuardResult().as_dict()][: len(GUARD_CHECKS)] == list(GUARD_CHECKS)
    assert set(empty_guard()) == {*GUARD_CHECKS, "reasons"}


def test_the_draft_has_one_wire_shape() -> None:
    from support.api.schemas import DraftOut
    from support.drafts import UNSAVED_KEYS, DraftOutcome
    from support.models import Draft

    stored = Draft().as_wire()
    assert list(stored) == list(DraftOut.model_fields)
    outcome = DraftOutcome(
        status="SUGGESTED",
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
    unsaved = outcome.as_draft()
    assert list(unsaved) == [key for key in stored if key not in UNSAVED_KEYS]
    # The same mapping: empty triage fields are null, citations show only their public keys.
    assert unsaved["sentiment"] is None
    assert unsaved["citations"] == [{"kb_id": 1, "title": "Shipping", "snippet": "…"}]
