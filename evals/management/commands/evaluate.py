"""`evaluate --set NAME|PATH [--json] [--baseline PATH] [--check] [--save-baseline]` and
`evaluate --replay [--days N]`: runs a golden set (evals/sets/) or the shadow replay through the
worker's graph, writes an EvalRun with per-case results, prints its metrics. The replay also
walks the reviewed drafts through the autonomy ladder (metrics `autonomy`).
`evaluate --simulate-team [--sets a,b] [--rounds N] [--min-reviewed N] [--uncaught]`: the
labelled sets run as a simulated team through the ladder (evals/simulated_team.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evals import baselines
from evals.judge import configured_judge
from evals.learning_curve import run_learning_curve
from evals.metrics import regressions
from evals.models import EvalRun
from evals.replay import replay_autonomy, replay_set
from evals.runner import evaluate_set
from evals.sets import EvalSet, SetError, available_sets, load_set
from evals.simulated_team import (
    DEFAULT_ROUNDS,
    DEFAULT_SEED,
    DEFAULT_SETS,
    SUITE,
    resimulate,
    simulate_team,
)
from knowledge.models import KBDocument

NESTED = ("by_tag", "before", "after", "by_set", "autonomy")
AUTONOMY_SHOWN = (
    "drafts",
    "would_auto_send",
    "of_which_rejected",
    "of_which_rewritten",
    "share",
    "mode",
    "promotions",
    "demotions",
)


class Command(BaseCommand):
    help = "Run an eval set (or the shadow replay) and store the run; --check gates on a baseline."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--set", dest="set_name", help=f"one of {', '.join(available_sets())}, or a path"
        )
        parser.add_argument(
            "--json", action="store_true", help="print the metrics as one JSON object"
        )
        parser.add_argument("--baseline", type=Path, help="default: evals/baselines/<set>.json")
        parser.add_argument("--check", action="store_true", help="exit 1 on a regression")
        parser.add_argument("--save-baseline", action="store_true", help="write the baseline")
        parser.add_argument("--replay", action="store_true", help="re-draft reviewed messages")
        parser.add_argument("--days", type=int, default=30, help="replay window (default 30)")
        parser.add_argument("--limit", type=int, help="only the first N cases")
        parser.add_argument(
            "--judge", action="store_true", help="LLM rubric scores (needs a provider)"
        )
        team = parser.add_argument_group("the simulated team (#29)")
        team.add_argument(
            "--simulate-team", action="store_true", help="the sets through the autonomy ladder"
        )
        team.add_argument("--sets", default=",".join(DEFAULT_SETS), help="comma-separated")
        team.add_argument("--rounds", type=int, default=DEFAULT_ROUNDS)
        team.add_argument("--seed", type=int, default=DEFAULT_SEED)
        team.add_argument(
            "--min-reviewed", type=int, help="default AUTONOMY_MIN_REVIEWED (scaled: reported)"
        )
        team.add_argument(
            "--from-run", type=int, help="walk a stored simulation's drafts again (no drafting)"
        )
        team.add_argument(
            "--uncaught",
            action="store_true",
            help="a wrong auto-sent reply is never reported (the worst case)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["simulate_team"]:
            self._simulate_team(options)
            return
        eval_set = self._set(options)
        if hint := KBDocument.objects.empty_hint():
            raise CommandError(hint)
        judge = configured_judge() if options["judge"] else None
        if options["judge"] and judge is None:
            raise CommandError(
                "--judge needs LLM_PROVIDER set to an LLM (not extractive)", returncode=2
            )
        if eval_set.header.get("kind") == "learning_curve":
            run = run_learning_curve(eval_set, progress=self.stderr.write)
        else:
            run = evaluate_set(eval_set, judge=judge, show_progress=sys.stderr.isatty())
        if options["replay"]:
            run.metrics["autonomy"] = replay_autonomy(options["days"])
            run.save(update_fields=["metrics"])
        self._report(run, options)
        self._finish(run, options, eval_set.name)

    def _simulate_team(self, options: dict[str, Any]) -> None:
        if options["replay"] or options["set_name"]:
            raise CommandError("--simulate-team takes --sets, not --set or --replay", returncode=2)
        if options["rounds"] < 1 or (options["min_reviewed"] or 1) < 1:
            raise CommandError("--rounds and --min-reviewed must be at least 1", returncode=2)
        if options["from_run"]:
            source = EvalRun.objects.filter(pk=options["from_run"], suite=SUITE).first()
            if source is None:
                raise CommandError(f"no {SUITE} run {options['from_run']}", returncode=2)
            run = resimulate(
                source,
                rounds=options["rounds"],
                seed=options["seed"],
                min_reviewed=options["min_reviewed"],
                caught=not options["uncaught"],
            )
            self._report(run, options)
            return
        if hint := KBDocument.objects.empty_hint():
            raise CommandError(hint)
        names = [name.strip() for name in options["sets"].split(",") if name.strip()]
        try:
            run = simulate_team(
                names,
                rounds=options["rounds"],
                seed=options["seed"],
                min_reviewed=options["min_reviewed"],
                caught=not options["uncaught"],
                limit=options["limit"],
                show_progress=sys.stderr.isatty(),
            )
        except SetError as exc:
            raise CommandError(str(exc), returncode=2) from None
        self._report(run, options)
        self._finish(run, options, SUITE)

    def _finish(self, run: EvalRun, options: dict[str, Any], name: str) -> None:
        baseline_path = options["baseline"] or baselines.default_path(name)
        if options["save_baseline"]:
            baselines.save(baseline_path, run.metrics, run.pk, name)
            self.stderr.write(f"wrote {baseline_path}")
        if options["check"]:
            self._check(run, baseline_path)

    def _set(self, options: dict[str, Any]) -> EvalSet:
        if options["replay"] == bool(options["set_name"]):
            raise CommandError("give either --set NAME|PATH or --replay", returncode=2)
        if options["days"] < 1:
            raise CommandError("--days must be at least 1", returncode=2)
        try:
            eval_set = (
                replay_set(options["days"]) if options["replay"] else load_set(options["set_name"])
            )
        except SetError as exc:
            raise CommandError(str(exc), returncode=2) from None
        if options["limit"]:
            eval_set = EvalSet(
                eval_set.name, eval_set.path, eval_set.header, eval_set.cases[: options["limit"]]
            )
        return eval_set

    def _report(self, run: EvalRun, options: dict[str, Any]) -> None:
        if options["json"]:
            self.stdout.write(json.dumps({"run_id": run.pk, "set": run.suite, **run.metrics}))
            return
        self.stdout.write(f"run {run.pk} · {run.suite} · {run.n_items} cases")
        for name, value in run.metrics.items():
            if name not in NESTED and value is not None:
                self.stdout.write(f"  {name:24} {value}")
        for name, row in run.metrics.get("by_set", {}).items():
            self.stdout.write(f"  [{name}] {row}")
        if autonomy := run.metrics.get("autonomy"):
            self._autonomy(autonomy)
        for phase in ("before", "after"):
            if phase in run.metrics:
                self.stdout.write(f"  {phase:24} {run.metrics[phase]}")
        for tag, row in run.metrics.get("by_tag", {}).items():
            self.stdout.write(f"  [{tag}] {row}")

    def _autonomy(self, autonomy: dict[str, Any]) -> None:
        totals = {k: v for k, v in autonomy.items() if k != "by_intent"}
        self.stdout.write(f"  autonomy {totals}")
        for intent, row in autonomy.get("by_intent", {}).items():
            brief = {k: row[k] for k in AUTONOMY_SHOWN}
            self.stdout.write(f"  autonomy[{intent}] {brief}")

    def _check(self, run: EvalRun, path: Path) -> None:
        try:
            rules = baselines.load(path)
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        failed = regressions(run.metrics, rules)
        if failed:
            raise CommandError(f"run {run.pk} regressed against {path}:\n  " + "\n  ".join(failed))
        self.stderr.write(f"run {run.pk}: no regression against {path.name}")
