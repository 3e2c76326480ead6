"""The actions cases (#27): `evaluate` writes each case's customer and orders in the real
database, drafts its message from them as the worker does, rolls them back, and scores the moves
proposed against the set (precision, recall, arguments) and against the catalogue's own check on
the case's rows (policy violations); the metrics on numbers worked out by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.metrics import action_metrics, score_case
from evals.models import EvalCase, EvalRun
from evals.sets import SetError, load_set
from evals.tests.test_evaluate import evaluate, write_set
from support.models import Customer, Order

HEADER = {"header": {"description": "actions", "kind": "actions"}}
CANCEL = "cancel_order"


def _case(case_id: str, text: str, status: str, expect: dict[str, Any]) -> dict[str, Any]:
    ref = f"{case_id}@example.test"
    return {
        "id": case_id,
        "customers": [
            {
                "ref": ref,
                "orders": [{"number": "NW-701", "status": status, "total": "20.00"}],
            }
        ],
        "earlier": [],
        "message": {"customer": ref, "text": text},
        "expect": expect,
    }


def test_actions_cases_run_on_their_rows_and_are_scored(small_kb: Any, tmp_path: Path) -> None:
    lines = [
        HEADER,
        _case(
            "cancel",
            "Please cancel order NW-701, I ordered the wrong size.",
            "PROCESSING",
            {"actions": [{"name": CANCEL, "arguments": {"order_number": "NW-701"}}]},
        ),
        _case(
            "shipped",
            "Please cancel order NW-701, I ordered the wrong size.",
            "SHIPPED",
            {"actions": [], "actions_refused": [CANCEL], "must_contain": ["already shipped"]},
        ),
        _case(
            "wrong",  # the set expects a refund: the expectation, not the pipeline, is wrong
            "Please cancel order NW-701, I ordered the wrong size.",
            "PROCESSING",
            {"actions": [{"name": "refund_order", "arguments": {"order_number": "NW-701"}}]},
        ),
    ]
    result = evaluate("--set", str(write_set(tmp_path / "actions.jsonl", lines)))

    run = EvalRun.objects.get(pk=result["run_id"])
    cases = {case.case_id: case for case in EvalCase.objects.filter(run=run)}
    cancel = cases["cancel"].actual["actions"]
    assert [(a["name"], a["arguments"]) for a in cancel] == [(CANCEL, {"order_number": "NW-701"})]
    assert cancel[0]["catalogue_problems"] == []  # the catalogue allows it on the case's rows
    assert cases["cancel"].passed
    assert cases["shipped"].actual["actions"] == []
    assert cases["shipped"].actual["refused_actions"] == [CANCEL]
    assert cases["shipped"].passed
    assert cases["wrong"].scores["checks"]["actions"] is False
    metrics = run.metrics
    # Two cancellations proposed, one expected by its case: precision 1/2, recall 1/2.
    assert (metrics["action_precision"], metrics["action_recall"]) == (0.5, 0.5)
    assert (metrics["argument_accuracy"], metrics["policy_violations"]) == (1.0, 0)
    assert metrics["action_reply_consistency"] == 1.0
    # Every row of every case was rolled back; no order was changed by a proposal.
    assert not Customer.objects.exists() and not Order.objects.exists()


def test_an_actions_expectation_must_name_its_moves(tmp_path: Path) -> None:
    bad = _case("bad", "cancel NW-701", "PROCESSING", {"actions": [{"order_number": "NW-701"}]})
    with pytest.raises(SetError, match=r"expect\.actions"):
        load_set(str(write_set(tmp_path / "bad.jsonl", [HEADER, bad])))


def _scored(expect: dict[str, Any], actions: list[dict[str, Any]]) -> Any:
    actual = {"status": "SUGGESTED", "answer": "I've cancelled order NW-1.", "actions": actions}
    return score_case("c", [], expect, actual, customer_text="", sources=[])


def test_action_metrics_by_hand() -> None:
    cancel = {"name": CANCEL, "arguments": {"order_number": "NW-1"}}
    refund = {"name": "refund_order", "arguments": {"order_number": "NW-2", "amount": "10"}}
    proposed_cancel = {
        **cancel,
        "confirmation": "I've cancelled order NW-1.",
        "catalogue_problems": [],
    }
    wrong_amount = {
        "name": "refund_order",
        "arguments": {"order_number": "nw-2", "amount": "12.00"},
        "confirmation": "I've refunded €12.00 for order NW-2.",
        "catalogue_problems": ["at most 10.00 EUR of order NW-2 can still be refunded"],
    }
    scores = [
        _scored({"actions": [cancel]}, [proposed_cancel]),
        _scored({"actions": [refund]}, [wrong_amount]),  # right move, wrong amount, refused
        _scored({"actions": [cancel], "actions_refused": []}, []),  # missed
        _scored({"actions": [], "actions_refused": [CANCEL]}, [proposed_cancel]),  # a human says no
    ]
    metrics = action_metrics(scores)
    # 3 proposed, 3 expected, 2 paired (by name and order, case aside); 1 pair's arguments right.
    assert metrics["action_precision"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["action_recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert metrics["argument_accuracy"] == 0.5
    assert metrics["policy_violations"] == 2  # the catalogue's refusal and the human's
    # The refund's confirmation is not in the answer: 2 of 3 proposals stated.
    assert metrics["action_reply_consistency"] == pytest.approx(2 / 3, abs=1e-4)
    assert [s.checks["actions"] for s in scores] == [True, False, False, False]
