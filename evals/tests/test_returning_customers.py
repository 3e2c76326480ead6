"""The returning-customer cases: `evaluate` writes each case's rows in the real database, drafts
its message from them as the worker does, rolls them back, and measures memory from the outcome
(what the draft used, whose it was, whether an unverified sender got any); the shadow replay
drafts a stored message from its rows (its memory as of then)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone

from evals.models import EvalCase, EvalRun
from evals.replay import replay_case
from evals.runner import _state
from evals.sets import SetError, load_set
from evals.tests.test_evaluate import evaluate, write_set
from resolver.audit_actor import Actor
from support import review
from support.inbound import receive_message
from support.memory import earlier_conversations
from support.models import Conversation, Customer, Draft, DraftStatus, Message, MessageRole, Order

NEWS = "any news on my replacement?"
HEADER = {"header": {"description": "returning", "kind": "returning_customers"}}


def _case(case_id: str, message: dict[str, Any], used: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": case_id,
        "customers": [
            {"ref": "ada@example.test", "orders": [{"number": "NW-501", "status": "SHIPPED"}]},
            {"ref": "eve@example.test", "orders": [{"number": "NW-666", "status": "SHIPPED"}]},
        ],
        "earlier": [
            {
                "label": "own",
                "customer": "ada@example.test",
                "channel": "email",
                "days_ago": 4,
                "messages": [
                    {"role": "customer", "text": "my order NW-501 arrived broken"},
                    {"role": "agent", "text": "We have sent a replacement for order NW-501."},
                ],
            },
            {
                "label": "decoy",
                "customer": "eve@example.test",
                "days_ago": 1,
                "messages": [
                    {"role": "customer", "text": "my replacement for NW-666 please"},
                    {"role": "agent", "text": "We have sent a replacement for order NW-666."},
                ],
            },
        ],
        "message": message,
        "expect": {"earlier_used": used, **extra},
    }


def test_cases_run_on_their_rows_rolled_back_and_memory_is_measured(
    small_kb: Any, tmp_path: Path
) -> None:
    lines = [
        HEADER,
        _case(
            "verified",
            {"customer": "ada@example.test", "channel": "widget", "text": NEWS},
            ["own"],
            must_contain=["NW-501"],
        ),
        _case(
            "claim",
            {"customer": "ada@example.test", "verified": False, "text": NEWS},
            [],
        ),
        _case(
            "wrong",  # expects the decoy: the set's expectation, not the pipeline, is wrong
            {"customer": "ada@example.test", "text": NEWS},
            ["decoy"],
        ),
    ]
    result = evaluate("--set", str(write_set(tmp_path / "returning.jsonl", lines)))

    run = EvalRun.objects.get(pk=result["run_id"])
    cases = {case.case_id: case for case in EvalCase.objects.filter(run=run)}
    assert cases["verified"].actual["earlier_used"] == ["own"]
    assert cases["verified"].passed
    assert cases["claim"].actual["earlier_used"] == []
    assert (cases["claim"].actual["verified"], cases["claim"].actual["memory_given"]) == (False, 0)
    assert cases["wrong"].scores["checks"]["earlier_used"] is False
    metrics = run.metrics
    # Two cases expect an earlier case; one got it. The third used its own, which it did not
    # expect. Nothing of Eve's reached Ada's drafts; the claim got no memory.
    assert metrics["earlier_used_rate"] == 0.5
    assert metrics["earlier_unwanted"] == 1
    assert (metrics["cross_customer_leaks"], metrics["unverified_memory"]) == (0, 0)
    # Every row of every case was rolled back.
    assert not Customer.objects.exists() and not Order.objects.exists()
    assert not Conversation.objects.exists() and not Message.objects.exists()


def test_a_case_naming_an_unknown_label_is_refused(tmp_path: Path) -> None:
    bad = _case("bad", {"customer": "ada@example.test", "text": "hi"}, ["nobody"])
    path = write_set(tmp_path / "bad.jsonl", [HEADER, bad])
    try:
        load_set(str(path))
    except SetError as exc:
        assert "names no earlier conversation" in str(exc)
    else:
        raise AssertionError("a case naming an unknown earlier conversation loaded")


def test_the_replay_drafts_a_stored_message_with_its_memory_as_of_then(db: None) -> None:
    ada = Customer.objects.create(ref="ada")
    before, _ = receive_message("my order NW-501 broke", customer_ref="ada", verified_by="api_key")
    Conversation.objects.filter(pk=before.conversation_id).update(
        created_at=timezone.now() - timedelta(days=3), customer=ada
    )
    message, draft = receive_message(
        "any news on my replacement?", customer_ref="ada", enqueue=False, verified_by="api_key"
    )
    Message.objects.create(
        conversation_id=message.conversation_id, role=MessageRole.AGENT, body="It ships soon."
    )
    Draft.objects.filter(pk=draft.pk).update(status=DraftStatus.SUGGESTED, answer="It ships soon.")
    review.approve(draft.pk, Actor.agent())
    receive_message("a later one", customer_ref="ada", enqueue=False, verified_by="api_key")

    case = replay_case(Draft.objects.select_related("message__conversation").get(pk=draft.pk))

    assert case.message_id == str(message.pk)
    state = _state(case)
    stored = Message.objects.select_related("conversation").get(pk=message.pk)
    assert [c.id for c in state["earlier"]] == [c.id for c in earlier_conversations(stored)]
    assert [c.id for c in state["earlier"]] == [before.conversation_id]  # not the later one
    assert json.dumps(case.expect)  # a plain case otherwise
