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
