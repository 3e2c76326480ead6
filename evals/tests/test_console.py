"""/console/evals/: runs, each metric over a set's runs, the run-vs-run diff, the replay tile."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from evals.models import EvalCase, EvalRun, EvalStatus

pytestmark = pytest.mark.django_db


@pytest.fixture
def console(agent_user: Any) -> Client:
    client = Client()
    client.force_login(agent_user)
    return client


def _run(suite: str, routing: float, outcomes: dict[str, tuple[str, bool]]) -> EvalRun:
    run = EvalRun.objects.create(
        suite=suite,
        dataset=f"evals/sets/{suite}.jsonl",
        status=EvalStatus.COMPLETED,
        n_items=len(outcomes),
        metrics={"routing_accuracy": routing, "safety_violations": 0, "by_tag": {}},
    )
    for position, (case_id, (status, passed)) in enumerate(outcomes.items()):
        EvalCase.objects.create(
            run=run,
            position=position,
            case_id=case_id,
            expect={"status": "ESCALATED"},
            actual={"status": status, "answer": f"<b>{case_id}</b>"},
            scores={"checks": {"status": passed}},
            passed=passed,
        )
    return run


def test_index_lists_runs_and_charts_each_metric(console: Client) -> None:
    _run("fast", 0.8, {"a": ("ESCALATED", True)})
    _run("fast", 0.9, {"a": ("ESCALATED", True)})
    page = console.get("/console/evals/?suite=fast").content.decode()
    assert page.count('class="line-chart"') == 2  # routing_accuracy and safety_violations
    assert "<strong>routing_accuracy</strong> 0.9000" in page
    assert 'aria-label="routing_accuracy over 2 runs"' in page
    assert "routing_accuracy 0.9" in page  # the runs table's figures


def test_a_run_shows_what_changed_since_the_previous_one(console: Client) -> None:
    _run("fast", 0.5, {"a": ("SUGGESTED", False), "b": ("ESCALATED", True)})
    new = _run("fast", 1.0, {"a": ("ESCALATED", True), "b": ("ESCALATED", True)})
    page = console.get(f"/console/evals/runs/{new.pk}/").content.decode()
    section = page[page.index('id="diff-title"') :]
    assert "<td>a</td>" in section and "<td>b</td>" not in section
    assert "SUGGESTED · fail" in section and "ESCALATED · pass" in section
    assert "Every case passed." in page
    assert console.get(f"/console/evals/runs/{new.pk}/?against=999999").status_code == 404


def test_failed_cases_are_escaped(console: Client) -> None:
    run = _run("fast", 0.0, {"x": ("SUGGESTED", False)})
    page = console.get(f"/console/evals/runs/{run.pk}/").content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


def test_replay_tile(console: Client) -> None:
    assert "no replay yet" in console.get("/console/evals/replay/").content.decode()
    run = _run("replay", 0.75, {"d": ("ESCALATED", True)})
    tile = console.get("/console/evals/replay/").content.decode()
    assert "75%" in tile and f"run #{run.pk}" in tile
    assert 'hx-get="/console/evals/replay/"' in console.get("/console/dashboard/").content.decode()


def test_only_agents(client: Client, django_user_model: Any) -> None:
    assert client.get("/console/evals/").status_code == 302
    client.force_login(django_user_model.objects.create_user("visitor", password="x-12345678"))
    assert client.get("/console/evals/").status_code == 403


def test_a_run_shows_what_the_ladder_would_have_sent_alone(console: Client) -> None:
    from evals.simulated_team import Drafted, simulate
    from support.autonomy.policy import LadderRules

    drafts = [Drafted("fast", f"r{n}", "track_order", 0.9, "sent_unchanged", ()) for n in range(5)]
    metrics = simulate(drafts, LadderRules(3, 0.5, 1.0), rounds=2)
    run = _run("autonomy_team", 1.0, {"a": ("SUGGESTED", True)})
    run.metrics = metrics
    run.save()
    page = console.get(f"/console/evals/runs/{run.pk}/").content.decode()
    section = page[page.index('id="autonomy-title"') :]
    # Two cases are the evidence (2 rounds: promoted after 3 reviews, the 4th went alone), the
    # other 3 are held out and measured: all three went out alone.
    assert '<th scope="row">track_order</th><td>7</td><td>4</td><td>0</td><td>0</td>' in section
    assert '<th scope="row">fast</th><td>3</td><td>3</td><td>1.0</td>' in section
    assert '<th scope="row">autosent_share</th><td>1.0</td>' in page
    assert (
        'id="autonomy-title"'
        not in console.get(f"/console/evals/runs/{_run('fast', 1.0, {}).pk}/").content.decode()
    )
