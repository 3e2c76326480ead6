"""Committed baselines (evals/baselines/<set>.json): each gated metric's value and tolerance.
`evaluate --check` fails when a metric moves the wrong way by more than its tolerance;
`evaluate --save-baseline` writes the file from a run (review the diff before committing it)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER

BASELINES_DIR = Path(__file__).resolve().parent / "baselines"
RATE_TOLERANCE = 0.02
# Rates over a few cases of a set (a handful of HIGH-urgency predictions, of intents named): one
# case more or less moves them by several points, and float differences between CPUs can flip a
# borderline case, so the gate allows that much.
SMALL_SAMPLE_TOLERANCE = {
    "urgency_high_precision": 0.1,
    "must_contain_rate": 0.1,
    "reason_accuracy": 0.05,
    "intent_accuracy": 0.05,
    "sentiment_macro_f1": 0.05,
    "learned_right_answer_rate": 0.08,  # 25 held-out questions: one is 0.04
    "max_proposals_per_topic": 0,
    "earlier_used_rate": 0.05,  # about 30 cases expect one: one case is 0.03
    "earlier_unwanted": 1,
    # The simulated team's target is <= 0.01: a regression is a few wrong auto-sends more.
    "autosent_wrong_share": 0.005,
}
# Not gated by default: they depend on the machine, not on the code (they are still reported).
MACHINE_DEPENDENT = {"p95_latency_ms"}


def default_path(set_name: str) -> Path:
    return BASELINES_DIR / f"{set_name}.json"


def load(path: Path) -> dict[str, dict[str, float]]:
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ValueError(f"{path}: no baseline (write one with --save-baseline)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not JSON ({exc.msg})") from None
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(metrics, dict) or not all(
        isinstance(rule, dict) and isinstance(rule.get("value"), int | float)
        for rule in metrics.values()
    ):
        raise ValueError(f'{path}: expected {{"metrics": {{name: {{"value", "tolerance"}}}}}}')
    return metrics


def tolerance(name: str, value: float) -> float:
    if name in {
        "safety_violations",
        "unsupported_specifics",
        "cross_topic_answers",
        "unrelated_learned_answers",
        "cross_customer_leaks",
        "unverified_memory",
        "policy_violations",
    }:
        return 0.0
    if name == "avg_cost":
        return round(max(0.0001, abs(value) * 0.1), 6)
    return SMALL_SAMPLE_TOLERANCE.get(name, RATE_TOLERANCE)


def from_metrics(metrics: dict[str, Any], run_id: int, set_name: str) -> dict[str, Any]:
    gated = (HIGHER_IS_BETTER | LOWER_IS_BETTER) - MACHINE_DEPENDENT
    return {
        "set": set_name,
        "run_id": run_id,
        "metrics": {
            name: {"value": metrics[name], "tolerance": tolerance(name, metrics[name])}
            for name in sorted(gated)
            if isinstance(metrics.get(name), int | float)
        },
    }


def save(path: Path, metrics: dict[str, Any], run_id: int, set_name: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(from_metrics(metrics, run_id, set_name), indent=2) + "\n")
