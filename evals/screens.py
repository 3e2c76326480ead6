"""What the console's eval pages show: runs, each metric over a set's runs (a line chart), and
the cases whose outcome changed between two runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER
from evals.models import EvalCase, EvalRun, EvalStatus

CHART_RUNS = 30
CHART_WIDTH, CHART_HEIGHT = 300, 60
# Shown first, in this order, when a run has them.
HEADLINE = (
    "routing_accuracy",
    "suggested_rate",
    "escalation_recall",
    "escalation_precision",
    "calibration_error",
    "suggested_calibration_error",
    "safety_violations",
    "unsupported_specifics",
    "answer_score",
    "retrieval_recall",
    "intent_accuracy",
    "sentiment_macro_f1",
    "urgency_high_precision",
    "p95_latency_ms",
    # The simulated team (#29).
    "autosent_share",
    "autosent_wrong_share",
    "auto_sent",
    "auto_sent_wrong",
    "demotions",
)


def headline(metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(name, metrics[name]) for name in HEADLINE if metrics.get(name) is not None]


def autonomy_rows(metrics: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Per intent, what the ladder would have sent alone (the replay's and the simulated
    team's `autonomy`), the intents that sent most first."""
    by_intent = (metrics.get("autonomy") or {}).get("by_intent") or {}
    return sorted(by_intent.items(), key=lambda item: (-item[1]["would_auto_send"], item[0]))


@dataclass
class MetricChart:
    name: str
    latest: float
    points: str  # SVG polyline points
    better: str  # "higher" | "lower" | ""
    runs: list[tuple[int, float]]  # (run id, value), oldest first

    @property
    def width(self) -> int:
        return CHART_WIDTH

    @property
    def height(self) -> int:
        return CHART_HEIGHT


def metric_chart(name: str, runs: list[EvalRun]) -> MetricChart | None:
    values = [(run.pk, float(run.metrics[name])) for run in runs if _number(run.metrics.get(name))]
    if not values:
        return None
    low, high = min(v for _, v in values), max(v for _, v in values)
    span = (high - low) or 1.0
    step = CHART_WIDTH / max(1, len(values) - 1)
    points = " ".join(
        f"{index * step:.1f},{CHART_HEIGHT - 4 - (value - low) / span * (CHART_HEIGHT - 8):.1f}"
        for index, (_, value) in enumerate(values)
    )
    better = "higher" if name in HIGHER_IS_BETTER else "lower" if name in LOWER_IS_BETTER else ""
    return MetricChart(name, values[-1][1], points, better, values)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def suite_charts(suite: str) -> list[MetricChart]:
    runs = list(
        EvalRun.objects.filter(suite=suite, status=EvalStatus.COMPLETED).order_by("-started_at")[
            :CHART_RUNS
        ]
    )[::-1]
    charts = [metric_chart(name, runs) for name in HEADLINE]
    return [chart for chart in charts if chart is not None]


def previous_run(run: EvalRun) -> EvalRun | None:
    return (
        EvalRun.objects.filter(
            suite=run.suite, status=EvalStatus.COMPLETED, started_at__lt=run.started_at
        )
        .order_by("-started_at")
        .first()
    )


def changed_cases(old: EvalRun, new: EvalRun) -> list[tuple[EvalCase, EvalCase]]:
    return EvalCase.objects.changed_between(old, new)


def latest_replay() -> EvalRun | None:
    return (
        EvalRun.objects.filter(suite="replay", status=EvalStatus.COMPLETED)
        .order_by("-started_at")
        .first()
    )
