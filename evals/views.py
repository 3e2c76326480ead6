"""Console pages of the evaluation harness (/console/evals/): thin, evals/screens.py gathers."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from evals import screens
from evals.models import EvalRun
from support.console.access import agent_required

RUNS_LISTED = 50


@agent_required
def index(request: HttpRequest) -> HttpResponse:
    runs = list(EvalRun.objects.order_by("-started_at")[:RUNS_LISTED])
    suites = sorted({run.suite for run in runs})
    suite = request.GET.get("suite") or (runs[0].suite if runs else "")
    context = {
        "runs": [(run, screens.headline(run.metrics)[:4]) for run in runs],
        "suites": suites,
        "suite": suite,
        "charts": screens.suite_charts(suite) if suite else [],
    }
    return render(request, "evals/index.html", context)


@agent_required
def run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(EvalRun, pk=run_id)
    against_id = request.GET.get("against")
    against = (
        get_object_or_404(EvalRun, pk=against_id, suite=run.suite)
        if against_id and against_id.isdigit()
        else screens.previous_run(run)
    )
    context = {
        "run": run,
        "metrics": screens.headline(run.metrics),
        "by_tag": sorted(run.metrics.get("by_tag", {}).items()),
        "autonomy": screens.autonomy_rows(run.metrics),
        "by_set": sorted(run.metrics.get("by_set", {}).items()),
        "against": against,
        "changed": screens.changed_cases(against, run) if against else [],
        "failed": list(run.cases.filter(passed=False).order_by("position")[:200]),
    }
    return render(request, "evals/run.html", context)


@agent_required
def replay_summary(request: HttpRequest) -> HttpResponse:
    """The dashboard's shadow-replay tile, loaded by htmx (the dashboard is support's)."""
    run = screens.latest_replay()
    return render(request, "evals/_replay.html", {"run": run})
