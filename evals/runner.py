"""Runs a golden set through the worker's graph (no queue, nothing written but the EvalRun and its
cases) and scores it. `manage.py evaluate` is the command; bench/ wraps the same functions."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from tqdm import tqdm

from agents.graph import build_graph, run_graph_to_end
from agents.memory import memory_texts
from agents.prompts import ACKNOWLEDGEMENT_VERSION, PROMPT_VERSION
from agents.services import Services, default_services
from agents.state import AgentState, Turn, used_cases
from agents.state_builder import build_state, state_for_message
from agents.triage.language import detect_language, words_of
from evals.metrics import CaseScore, aggregate, score_case
from evals.models import EvalCase, EvalRun, EvalStatus
from evals.scenarios import actions_actual, memory_actual, rolled_back, store_case
from evals.sets import Case, EvalSet
from knowledge.models import KBDocument
from support.autonomy.policy import blockers
from support.documents import mismatches_in
from support.models import DraftStatus, Message
from support.vocabulary import AutonomyCustomers

Judge = Callable[[Case, dict[str, Any], list[str]], dict[str, float]]


def git_sha() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip()


def _actual(outcome: Any, state: AgentState, millis: float) -> dict[str, Any]:
    triage = outcome.triage
    signals, scores = triage.get("signals", {}), triage.get("scores", {})
    return {
        "status": outcome.status,
        "escalation_reason": outcome.escalation_reason,
        "intent": triage.get("intent") or None,
        "category": triage.get("category") or None,
        "sentiment": triage.get("sentiment") or None,
        "urgency": triage.get("urgency") or None,
        "confidence": round(float(outcome.confidence), 4),
        "answer": outcome.answer,
        "citations": [c.get("kb_id") for c in outcome.citations],
        "retrieved": [e.kb_id for e in state.get("evidence", [])],
        "latency_ms": round(millis, 1),
        "cost": float(outcome.cost),
        "tokens": outcome.tokens,
        "model": outcome.model,
        "trace": outcome.trace,
        # The message's language as triage detected it, and the answer's as the same detector
        # reads its text (#31: an English answer to a Spanish message is caught on the text).
        "language": triage.get("language") or None,
        "answer_language": detect_language(outcome.answer).language
        if outcome.answer.strip()
        else None,
        # Thanked: the acknowledgement template drafted it (its prompt version, as on the Draft).
        "acknowledged": outcome.prompt_version == ACKNOWLEDGEMENT_VERSION,
        "acknowledge": signals.get("acknowledge"),  # P(a person would thank it)
        "urgency_high": scores.get("urgency_high"),  # P(HIGH), when the tone model gives it
        # The customer's question an escalation names for the agent (a complaint + a question).
        "question": signals.get("question") or "",
        # What would keep it from going out alone, its intent's rung aside (the simulated team).
        "auto_send_blockers": blockers(
            suggested=outcome.status == DraftStatus.SUGGESTED,
            intent=triage.get("intent") or "",
            guard=outcome.guard,
            actions=len(outcome.actions),
            mismatches=len(mismatches_in(outcome.context)),
            verified=bool(state.get("verified", True))
            or settings.AUTONOMY_CUSTOMERS == AutonomyCustomers.ANYONE,
        ),
    }


def _sources(outcome: Any, state: AgentState) -> tuple[list[str], list[str]]:
    """(the cited articles' text, what else a reply may state: the customer facts and the
    business profile)."""
    cited = {c.get("kb_id") for c in outcome.citations}
    articles = [e.content for e in state.get("evidence", []) if e.kb_id in cited]
    known = [json.dumps(outcome.facts, default=str)]
    profile = state.get("profile")
    if profile is not None:
        known.append(" ".join(profile.texts()))
    return articles, known


def kb_ids(refs: Iterable[int | str]) -> list[int]:
    """Expected articles as the database knows them: an int is a kb_id; "source:external_id"
    (what the sets use: ids differ between databases) is looked up."""
    ids = [int(ref) for ref in refs if isinstance(ref, int) or str(ref).isdigit()]
    named = [str(ref).split(":", 1) for ref in refs if ":" in str(ref)]
    if named:
        query = Q()
        for source, external_id in named:
            query |= Q(source=source, external_id=external_id)
        ids += list(KBDocument.objects.filter(query).values_list("pk", flat=True))
    return ids


def _state(case: Case) -> AgentState:
    """The one builder's state: from the stored message's rows (shadow replay: its memory as
    of then), else from the case's text and turns."""
    if case.message_id:
        message = Message.objects.select_related("conversation").get(pk=case.message_id)
        return state_for_message(message)
    history: list[Turn] = [{"role": t["role"], "body": t["body"]} for t in case.history]
    return build_state(case.text, history, customer_ref=case.customer_ref)


def _run(graph: Any, case: Case) -> tuple[Any, AgentState, dict[str, Any], float]:
    """(outcome, final state, what memory the draft used, milliseconds). A returning-customer
    case runs on its rows, written and rolled back around the run (evals/scenarios.py)."""
    if not case.scenario:
        started = time.perf_counter()
        outcome, state = run_graph_to_end(graph, _state(case))
        return outcome, state, {}, (time.perf_counter() - started) * 1000
    with rolled_back():
        stored = store_case(case.scenario)
        started = time.perf_counter()
        outcome, state = run_graph_to_end(graph, state_for_message(stored.message))
        millis = (time.perf_counter() - started) * 1000
        memory = memory_actual(stored, outcome, state)
        if "actions" in case.expect:
            memory.update(actions_actual(stored, outcome))
    return outcome, state, memory, millis


def run_case(graph: Any, case: Case) -> tuple[CaseScore, list[str]]:
    outcome, state, memory, millis = _run(graph, case)
    actual = _actual(outcome, state, millis)
    actual["message_words"] = len(words_of(case.text))  # the set's message, as the detector counts
    actual.update(memory)
    articles, known = _sources(outcome, state)
    # The earlier conversations the draft used are the customer's words and our past replies.
    known += memory_texts(used_cases(state))
    if "actions" in case.expect:
        # The sender's own rows are the store's facts: an order's total is what a refund names.
        sender = case.scenario["message"]["customer"]
        own = [c for c in case.scenario["customers"] if c.get("ref") == sender]
        # And the arguments of the moves the catalogue's check accepts on those rows (what is
        # left to refund is the rows' arithmetic, not an invented amount).
        accepted = [
            a["arguments"] for a in actual.get("actions", []) if not a["catalogue_problems"]
        ]
        known.append(json.dumps([own, accepted], default=str))
    earlier = " ".join(t["body"] for t in case.history)
    expect = dict(case.expect)
    if "kb_ids" in expect:
        actual["expected_kb_ids"] = kb_ids(expect["kb_ids"])
    score = score_case(
        case.id,
        case.tags,
        expect,
        actual,
        customer_text=f"{case.text} {earlier}",
        sources=[*articles, *known],
        known_facts=" ".join(known),
    )
    return score, articles


def _progress(cases: list[Case], show: bool) -> Iterable[Case]:
    return tqdm(cases, unit="case", file=sys.stderr, disable=not show or None)


def evaluate_set(
    eval_set: EvalSet,
    *,
    services: Services | None = None,
    judge: Judge | None = None,
    show_progress: bool = True,
) -> EvalRun:
    """Runs every case, writes an EvalRun with its metrics and per-case results, returns it."""
    run = EvalRun.objects.create(
        suite=eval_set.name,
        dataset=str(eval_set.path.relative_to(settings.BASE_DIR))
        if eval_set.path.is_relative_to(settings.BASE_DIR)
        else str(eval_set.path),
        provider=settings.LLM_PROVIDER,
        model=settings.LLM_MODEL or settings.LLM_PROVIDER,
        prompt_version=PROMPT_VERSION,
        git_sha=git_sha(),
        config={
            "header": eval_set.header,
            "confidence_threshold": settings.CONFIDENCE_THRESHOLD,
            "retrieval_min_similarity": settings.RETRIEVAL_MIN_SIMILARITY,
            "judge": judge is not None,
        },
    )
    try:
        graph = build_graph(services or default_services())
        scores: list[CaseScore] = []
        judged: list[dict[str, float]] = []
        for case in _progress(eval_set.cases, show_progress):
            score, sources = run_case(graph, case)
            if judge is not None and score.suggested:
                rubric = judge(case, score.actual, sources)
                score.actual["judge"] = rubric
                judged.append(rubric)
            scores.append(score)
        metrics = aggregate(scores)
        if judged:
            for key in sorted({k for rubric in judged for k in rubric}):
                values = [rubric[key] for rubric in judged if key in rubric]
                metrics[f"judge_{key}"] = round(sum(values) / len(values), 4)
        _finish(run, scores, metrics)
    except Exception:
        EvalRun.objects.filter(pk=run.pk).update(
            status=EvalStatus.FAILED, error=traceback.format_exc(), finished_at=timezone.now()
        )
        raise
    return run


def _finish(run: EvalRun, scores: list[CaseScore], metrics: dict[str, Any]) -> None:
    with transaction.atomic():
        EvalCase.objects.bulk_create(
            EvalCase(
                run=run,
                position=position,
                case_id=score.case_id,
                tags=score.tags,
                expect=score.expect,
                actual=score.actual,
                scores=score.as_json(),
                passed=score.passed,
            )
            for position, score in enumerate(scores)
        )
        run.metrics = metrics
        run.n_items = len(scores)
        run.status = EvalStatus.COMPLETED
        run.finished_at = timezone.now()
        run.save()
