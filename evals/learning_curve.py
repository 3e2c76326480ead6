"""The learning-curve suite (#16): does the loop learn from agents? For topics the KB does not
cover, training questions come in one by one through the same path as the API (a stored
message, the worker's graph, the outcome recorded), a scripted agent answers each escalated one
with the topic's answer through the console's review action, the learning loop observes it, its
proposals are approved, the learned articles are embedded (what the worker does), and held-out
paraphrases are drafted before and after. A set's look-alike negatives (cases tagged
`negative`: messages about other needs) are drafted after learning too: none may get a learned
answer (unrelated_learned_answers). Everything happens in one transaction that is rolled
back: the database is as it was; only the EvalRun is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from agents.graph import build_graph
from agents.runner import run_for_draft
from agents.services import default_services
from evals.metrics import token_f1
from evals.models import EvalCase, EvalRun, EvalStatus
from evals.runner import git_sha, run_case
from evals.sets import Case, EvalSet
from knowledge.actors import reindex_document
from knowledge.models import KBDocument, Proposal, ProposalKind
from resolver.audit_actor import Actor
from support import learning, review
from support.inbound import receive_message
from support.models import DraftStatus

# What counts as "the human's answer" in a held-out draft (the target).
RIGHT_ANSWER_F1 = 0.6
SCRIPTED_AGENT = "eval-agent"
NEGATIVE = "negative"


class _RollBack(Exception):
    """Leaves the learning curve's transaction without a trace."""


def _topic(case: Case) -> str:
    return next((tag.split(":", 1)[1] for tag in case.tags if tag.startswith("topic:")), "")


def _draft_held_out(graph: Any, cases: list[Case], learned: set[int]) -> list[dict[str, Any]]:
    results = []
    for case in cases:
        score, _ = run_case(graph, case)
        answer = score.actual.get("answer") or ""
        reference = case.expect.get("reference", "")  # none for a negative
        results.append(
            {
                "case": case,
                "score": score,
                "suggested": score.suggested,
                "f1": token_f1(answer, reference) if score.suggested else 0.0,
                "cites_learned": bool(set(score.actual.get("citations", [])) & learned),
            }
        )
    return results


def _teach(graph: Any, cases: list[Case], actor: Actor) -> tuple[dict[str, int], dict[str, str]]:
    """The training questions, answered by hand where the assistant could not; returns how many
    were answered by the scripted agent per topic, and each answered draft's topic."""
    answered: dict[str, int] = {}
    topic_of: dict[str, str] = {}
    for case in cases:
        _, draft = receive_message(case.text, customer_ref="eval-learning", enqueue=False)
        run_for_draft(draft, graph=graph)
        draft.refresh_from_db()
        if draft.status == DraftStatus.SUGGESTED:
            continue  # the assistant answered it: nothing for a human to teach
        review.approve(draft.pk, actor, case.learn["answer"])
        learning.observe_draft(draft.pk)
        answered[case.learn["topic"]] = answered.get(case.learn["topic"], 0) + 1
        topic_of[str(draft.pk)] = case.learn["topic"]
    return answered, topic_of


def _approve_all(
    actor: Actor, topic_of: dict[str, str]
) -> tuple[set[int], dict[str, int], dict[int, str]]:
    """Approves every open answer proposal as it is; (learned article ids, proposals per topic,
    a proposal counting for each topic its sources came from, each article's first topic)."""
    learned: set[int] = set()
    per_topic: dict[str, int] = {}
    per_document: dict[int, str] = {}
    for proposal in Proposal.objects.open().filter(kind=ProposalKind.ANSWER):
        approved = learning.approve(proposal.pk, actor)
        topics = sorted({topic_of.get(str(s.get("draft_id")), "?") for s in approved.sources})
        if approved.document_id:
            reindex_document(approved.document_id)  # what the worker does after commit
            learned.add(approved.document_id)
            per_document[approved.document_id] = topics[0]
        for topic in topics:
            per_topic[topic] = per_topic.get(topic, 0) + 1
    return learned, per_topic, per_document


def _thresholds(learned: set[int], per_document: dict[int, str]) -> dict[str, list[Any]]:
    """Each topic's learned articles' own similarity thresholds (knowledge/matching.py)."""
    found: dict[str, list[Any]] = {}
    for document in KBDocument.objects.filter(pk__in=learned).order_by("pk"):
        found.setdefault(per_document.get(document.pk, "?"), []).append(document.match_threshold)
    return found


def _summary(results: list[dict[str, Any]], topics: list[str]) -> dict[str, Any]:
    right = [r["suggested"] and r["f1"] >= RIGHT_ANSWER_F1 for r in results]
    by_topic = {}
    for topic in topics:
        rows = [r for r in results if _topic(r["case"]) == topic]
        by_topic[topic] = {
            "suggested": round(sum(r["suggested"] for r in rows) / len(rows), 4),
            "right_answer": round(
                sum(r["suggested"] and r["f1"] >= RIGHT_ANSWER_F1 for r in rows) / len(rows), 4
            ),
        }
    n = max(1, len(results))
    suggested = [r["f1"] for r in results if r["suggested"]]
    return {
        "suggested_rate": round(sum(r["suggested"] for r in results) / n, 4),
        "right_answer_rate": round(sum(right) / n, 4),
        "answer_f1": round(sum(r["f1"] for r in results) / n, 4),
        # Is what it suggests the human's answer (the "F1 where suggested")?
        "answer_f1_where_suggested": round(sum(suggested) / max(1, len(suggested)), 4),
        "cites_learned_rate": round(sum(r["cites_learned"] for r in results) / n, 4),
        "by_topic": by_topic,
    }


def _cross_topic(results: list[dict[str, Any]], answers: dict[str, str]) -> int:
    """Held-out drafts whose answer is closer to another topic's answer than to their own."""
    wrong = 0
    for row in results:
        answer = row["score"].actual.get("answer") or ""
        if not row["suggested"] or not answer:
            continue
        own = _topic(row["case"])
        closest = max(answers, key=lambda topic: token_f1(answer, answers[topic]))
        wrong += closest != own and token_f1(answer, answers[closest]) >= RIGHT_ANSWER_F1
    return wrong


def _unrelated_learned(results: list[dict[str, Any]], answers: dict[str, str]) -> list[str]:
    """Negatives (messages about other needs) answered from what was learned: suggested, and
    citing a learned article or giving a taught topic's answer."""
    found = []
    for row in results:
        answer = row["score"].actual.get("answer") or ""
        taught = any(token_f1(answer, text) >= RIGHT_ANSWER_F1 for text in answers.values())
        if row["suggested"] and (row["cites_learned"] or taught):
            found.append(row["case"].id)
    return found


def run_learning_curve(eval_set: EvalSet, *, progress: Callable[[str], None] = print) -> EvalRun:
    train = [case for case in eval_set.cases if case.learn]
    negatives = [case for case in eval_set.cases if NEGATIVE in case.tags]
    held_out = [case for case in eval_set.cases if not case.learn and NEGATIVE not in case.tags]
    answers = {case.learn["topic"]: case.learn["answer"] for case in train}
    topics = sorted(answers)
    run = EvalRun.objects.create(
        suite=eval_set.name,
        dataset=str(eval_set.path),
        git_sha=git_sha(),
        config={"header": eval_set.header, "right_answer_f1": RIGHT_ANSWER_F1},
    )
    metrics: dict[str, Any] = {}
    cases: list[EvalCase] = []
    try:
        with transaction.atomic():
            agent, _ = get_user_model().objects.get_or_create(username=SCRIPTED_AGENT)
            actor = Actor.for_user(agent)
            graph = build_graph(default_services())
            progress(f"before: drafting {len(held_out)} held-out questions")
            before = _draft_held_out(graph, held_out, set())
            progress(f"teaching: {len(train)} questions on {len(topics)} topics")
            answered, topic_of = _teach(graph, train, actor)
            learned, proposals, per_document = _approve_all(actor, topic_of)
            progress(f"after: {len(learned)} learned articles; drafting the held-out again")
            graph = build_graph(default_services())
            after = _draft_held_out(graph, held_out, learned)
            learned_summary = _summary(after, topics)
            progress(f"negatives: drafting {len(negatives)} messages about other needs")
            unrelated = _unrelated_learned(_draft_held_out(graph, negatives, learned), answers)
            metrics = {
                "cases": len(held_out),
                "topics": len(topics),
                "answered_by_hand": answered,
                "learned_articles": len(learned),
                "proposals_per_topic": proposals,
                "max_proposals_per_topic": max(proposals.values(), default=0),
                "learned_thresholds": _thresholds(learned, per_document),
                "before": _summary(before, topics),
                "after": learned_summary,
                "cross_topic_answers": _cross_topic(after, answers),
                "negatives": len(negatives),
                "unrelated_learned_answers": len(unrelated),
                "unrelated_learned_cases": unrelated,
                # Headline figures, gated like any other set's.
                "suggested_rate": learned_summary["suggested_rate"],
                "answer_score": learned_summary["answer_f1"],
                "learned_right_answer_rate": learned_summary["right_answer_rate"],
            }
            cases = [
                EvalCase(
                    run=run,
                    position=position,
                    case_id=row["case"].id,
                    tags=row["case"].tags,
                    expect=row["case"].expect,
                    actual={**row["score"].actual, "cites_learned": row["cites_learned"]},
                    scores={"answer_f1": row["f1"], "before_suggested": old["suggested"]},
                    passed=row["suggested"] and row["f1"] >= RIGHT_ANSWER_F1,
                )
                for position, (row, old) in enumerate(zip(after, before, strict=True))
            ]
            raise _RollBack
    except _RollBack:
        pass
    except Exception:
        EvalRun.objects.filter(pk=run.pk).update(
            status=EvalStatus.FAILED, finished_at=timezone.now()
        )
        raise
    EvalCase.objects.bulk_create(cases)
    run.metrics = metrics
    run.n_items = len(cases)
    run.status = EvalStatus.COMPLETED
    run.finished_at = timezone.now()
    run.save()
    return run
