"""The simulated team (#29's target): the project's labelled sets, drafted once each by the
worker's graph (evals/runner.run_case, nothing written but the EvalRun), split at random (a fixed
seed) into two halves. The evidence half comes in again and again in shuffled rounds as a team's
queue would, walked through the autonomy ladder (support/autonomy/policy.py): each draft the
ladder would not send alone is reviewed by a simulated human who sends it unchanged when it is
right and rejects it otherwise (an escalated draft: the human writes the reply, a rewrite, and no
evidence about the intent's suggestions). Then the held-out half, drafts the ladder has never
seen, comes in once: a draft the ladder would send alone counts as auto-sent and is checked
against what the case expects. The question: of what went out alone among the held-out drafts,
how much would a human have rejected (target <= 1 %), and how much went out alone at all.
(Measured on the evidence half itself, the rounds replay identical drafts, and once an intent
earns auto on them its auto-sends are right by construction.)"""

from __future__ import annotations

import random
import traceback
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.graph import build_graph
from agents.prompts import PROMPT_VERSION
from agents.services import default_services
from evals.metrics import CaseScore
from evals.models import EvalRun, EvalStatus
from evals.runner import _finish, _progress, git_sha, run_case
from evals.sets import EvalSet, load_set
from support.autonomy.policy import Ladder, LadderRules
from support.vocabulary import ReviewVerdict

SUITE = "autonomy_team"
DEFAULT_SETS = (
    "template_dev",
    "out_of_scope",
    "policy_bait",
    "followups",
    "real_tweets_dev",
    "real_tweets",
)
DEFAULT_ROUNDS = 10
DEFAULT_SEED = 20261205
# A reply's tone labels are the triage's business, not a reason to reject the reply.
NOT_A_REPLY_CHECK = ("sentiment", "urgency")


def human_verdict(score: CaseScore) -> str:
    """What the simulated human does with the draft: sends a right suggestion unchanged,
    rejects a wrong one (wrong intent, missing what it must say, a forbidden phrase, an invented
    specific, an answer to what should have gone to a person), writes the reply of an escalated
    draft themselves (a rewrite: no good evidence for the intent)."""
    if not score.suggested:
        return ReviewVerdict.LARGE_EDIT
    checks = [ok for name, ok in score.checks.items() if name not in NOT_A_REPLY_CHECK]
    right = score.answer_right and all(checks)
    return ReviewVerdict.SENT_UNCHANGED if right else ReviewVerdict.REJECTED


@dataclass(frozen=True)
class Drafted:
    set_name: str
    case_id: str
    intent: str
    confidence: float
    verdict: str
    blocked: tuple[str, ...]


def drafted(set_name: str, score: CaseScore) -> Drafted:
    actual = score.actual
    return Drafted(
        set_name=set_name,
        case_id=score.case_id,
        intent=actual.get("intent") or "",
        confidence=float(actual.get("confidence") or 0.0),
        verdict=human_verdict(score),
        blocked=tuple(actual.get("auto_send_blockers", ())),
    )


def _share(part: int, whole: int) -> float:
    return round(part / whole, 4) if whole else 0.0


def split(drafts: Sequence[Drafted], seed: int) -> tuple[list[Drafted], list[Drafted]]:
    """(evidence, held out): each set's cases halved at random (the seed), so both halves
    hold every set in proportion. The ladder learns from the first half only; auto-sends are
    measured on the second, drafts it has never seen."""
    shuffler = random.Random(seed)
    by_set: dict[str, list[Drafted]] = {}
    for draft in drafts:
        by_set.setdefault(draft.set_name, []).append(draft)
    learn: list[Drafted] = []
    held_out: list[Drafted] = []
    for name in sorted(by_set):
        cases = sorted(by_set[name], key=lambda draft: draft.case_id)
        shuffler.shuffle(cases)
        half = len(cases) // 2
        learn += cases[:half]
        held_out += cases[half:]
    return learn, held_out


def _walk(
    ladder: Ladder,
    drafts: Sequence[Drafted],
    per_set: dict[str, Counter[str]],
    *,
    label: str,
    caught: bool,
) -> None:
    for position, draft in enumerate(drafts):
        tally = per_set.setdefault(draft.set_name, Counter())
        tally["drafts"] += 1
        if not draft.intent:
            continue
        step = ladder.step(
            draft.intent,
            f"{draft.case_id}#{label}",
            draft.confidence,
            draft.verdict,
            blocked=draft.blocked,
            caught=caught,
            at=f"{label}, #{position + 1}",
        )
        if step.auto_sent:
            tally["auto_sent"] += 1
            tally["wrong"] += step.verdict != ReviewVerdict.SENT_UNCHANGED


def _figures(per_set: dict[str, Counter[str]]) -> dict[str, Any]:
    total = sum(t["drafts"] for t in per_set.values())
    sent = sum(t["auto_sent"] for t in per_set.values())
    wrong = sum(t["wrong"] for t in per_set.values())
    return {
        "autosent_share": _share(sent, total),
        "autosent_wrong_share": _share(wrong, sent),
        "autosent_wrong_of_all": _share(wrong, total),
        "drafts": total,
        "auto_sent": sent,
        "auto_sent_wrong": wrong,
        "by_set": {
            name: {
                "drafts": t["drafts"],
                "autosent_share": _share(t["auto_sent"], t["drafts"]),
                "autosent_wrong_share": _share(t["wrong"], t["auto_sent"]),
                "auto_sent": t["auto_sent"],
                "auto_sent_wrong": t["wrong"],
            }
            for name, t in sorted(per_set.items())
        },
    }


def simulate(
    drafts: Sequence[Drafted],
    rules: LadderRules,
    *,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = DEFAULT_SEED,
    caught: bool = True,
) -> dict[str, Any]:
    """The cases split in two (split: the seed): `rounds` shuffled passes of the evidence half
    through one ladder (reviews, promotions, canaries, take-backs: the team's history), then
    the held-out half once, shuffled, through the same ladder as a live queue would meet new
    messages: each held-out draft is decided by a ladder that never saw it (its own review, if
    it was not sent alone, is evidence for the drafts after it). The headline metrics are the
    held-out pass's; the evidence passes' are under `learning`. `caught`: a wrong auto-sent
    reply is noticed (a 👎 or a correction) and takes its intent back; False measures the worst
    case, where nothing ever reports it."""
    ladder = Ladder(rules)
    shuffler = random.Random(seed)
    learn, held_out = split(drafts, seed)
    learning: dict[str, Counter[str]] = {}
    order = list(learn)
    for round_number in range(rounds):
        shuffler.shuffle(order)
        _walk(ladder, order, learning, label=f"round {round_number + 1}", caught=caught)
    measured: dict[str, Counter[str]] = {}
    order = list(held_out)
    shuffler.shuffle(order)
    _walk(ladder, order, measured, label="held out", caught=caught)
    report = ladder.report()
    return {
        **_figures(measured),
        "held_out_cases": len(held_out),
        "evidence_cases": len(learn),
        "learning": {key: value for key, value in _figures(learning).items() if key != "by_set"},
        "demotions": report["demotions"],
        "intents_promoted": sum(1 for r in report["by_intent"].values() if r["promotions"]),
        "autonomy": report,
    }


def simulate_team(
    set_names: Sequence[str],
    *,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = DEFAULT_SEED,
    min_reviewed: int | None = None,
    caught: bool = True,
    limit: int | None = None,
    show_progress: bool = True,
) -> EvalRun:
    """Drafts every case of the sets once, simulates the team, writes the EvalRun (its cases:
    each draft and the simulated human's verdict) and returns it."""
    sets: list[EvalSet] = [load_set(name) for name in set_names]
    rules = LadderRules.from_settings(min_reviewed)
    run = EvalRun.objects.create(
        suite=SUITE,
        dataset=",".join(set_names),
        provider=settings.LLM_PROVIDER,
        model=settings.LLM_MODEL or settings.LLM_PROVIDER,
        prompt_version=PROMPT_VERSION,
        git_sha=git_sha(),
        config={
            "sets": list(set_names),
            "rounds": rounds,
            "seed": seed,
            "rules": rules.as_dict(),
            "rules_scaled": min_reviewed is not None,
            "caught": caught,
            "autonomy_customers": settings.AUTONOMY_CUSTOMERS,
        },
    )
    try:
        graph = build_graph(default_services())
        scores: list[CaseScore] = []
        drafts: list[Drafted] = []
        for eval_set in sets:
            for case in _progress(eval_set.cases[:limit], show_progress):
                score, _ = run_case(graph, case)
                score.case_id = f"{eval_set.name}:{case.id}"
                score.actual["simulated_verdict"] = human_verdict(score)
                scores.append(score)
                drafts.append(drafted(eval_set.name, score))
        metrics = simulate(drafts, rules, rounds=rounds, seed=seed, caught=caught)
        _finish(run, scores, metrics)
    except Exception:
        EvalRun.objects.filter(pk=run.pk).update(
            status=EvalStatus.FAILED, error=traceback.format_exc(), finished_at=timezone.now()
        )
        raise
    return run


def drafts_of_run(run: EvalRun) -> list[Drafted]:
    """A stored simulation's drafts (its cases' actual), to walk again under other rules."""
    return [
        Drafted(
            set_name=case.case_id.split(":", 1)[0],
            case_id=case.case_id,
            intent=case.actual.get("intent") or "",
            confidence=float(case.actual.get("confidence") or 0.0),
            verdict=case.actual["simulated_verdict"],
            blocked=tuple(case.actual.get("auto_send_blockers", ())),
        )
        for case in run.cases.order_by("position")
    ]


def resimulate(
    source: EvalRun,
    *,
    rounds: int = DEFAULT_ROUNDS,
    seed: int = DEFAULT_SEED,
    min_reviewed: int | None = None,
    caught: bool = True,
) -> EvalRun:
    """The drafts of an earlier simulation walked again (other rounds, rules, `caught`): no
    graph run; a new EvalRun with the metrics and no cases of its own."""
    rules = LadderRules.from_settings(min_reviewed)
    drafts = drafts_of_run(source)
    metrics = simulate(drafts, rules, rounds=rounds, seed=seed, caught=caught)
    return EvalRun.objects.create(
        suite=SUITE,
        dataset=source.dataset,
        provider=source.provider,
        model=source.model,
        prompt_version=source.prompt_version,
        git_sha=source.git_sha,
        config={
            **source.config,
            "from_run": source.pk,
            "rounds": rounds,
            "seed": seed,
            "rules": rules.as_dict(),
            "rules_scaled": min_reviewed is not None,
            "caught": caught,
        },
        metrics=metrics,
        n_items=len(drafts),
        status=EvalStatus.COMPLETED,
        finished_at=timezone.now(),
    )
