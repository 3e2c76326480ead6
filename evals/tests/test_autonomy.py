"""Autonomy in the evals (#29): the shadow replay walks real reviewed Draft rows (approved and
rejected through support.review) through the ladder; the simulated team's human and its
metrics; `evaluate --simulate-team` end to end on a tiny set with the real graph."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import override_settings

from evals.metrics import CaseScore
from evals.models import EvalCase, EvalRun
from evals.replay import reviewed_drafts, walk_ladder
from evals.simulated_team import (
    DEFAULT_SEED,
    Drafted,
    drafts_of_run,
    human_verdict,
    simulate,
    split,
)
from resolver.audit_actor import Actor
from support import review
from support.autonomy.policy import GUARD, PROMOTED, RECALIBRATED, LadderRules
from support.inbound import receive_message
from support.models import Draft, DraftStatus
from support.vocabulary import (
    GUARD_CHECKS,
    AutonomyMode,
    DemotionReason,
    ReviewVerdict,
    Verification,
)

ANSWER = "To reset your password, choose Forgot password on the login page."
CLEAN: dict[str, Any] = {**dict.fromkeys(GUARD_CHECKS, True), "reasons": []}
# Three good reviews out of three earn a lower bound of 0.53.
SMALL = LadderRules(min_reviewed=3, target=0.5, canary_share=1.0)


@pytest.fixture
def actor(db: None) -> Actor:
    user = get_user_model().objects.create_user("reviewer")
    return Actor.for_user(user)


def _suggested(intent: str = "recover_password", **fields: Any) -> Draft:
    # A verified sender: AUTONOMY_CUSTOMERS=verified (the default) answers only those alone.
    _, draft = receive_message(
        "how do I reset my password?",
        customer_ref="c1",
        enqueue=False,
        verified_by=Verification.API_KEY,
    )
    values = {
        "status": DraftStatus.SUGGESTED,
        "intent": intent,
        "answer": ANSWER,
        "confidence": 0.9,
        "guard": CLEAN,
        **fields,
    }
    Draft.objects.filter(pk=draft.pk).update(**values)
    draft.refresh_from_db()
    return draft


def _history(actor: Actor, verdicts: Sequence[str], **fields: Any) -> list[Draft]:
    """Drafts of one intent reviewed in this order by a human, through the console's actions."""
    drafts = []
    for kind in verdicts:
        draft = _suggested(**fields)
        if kind == ReviewVerdict.REJECTED:
            review.reject(draft.pk, actor, "wrong")
        elif kind == ReviewVerdict.LARGE_EDIT:
            review.approve(draft.pk, actor, "Something else entirely, written by the agent here.")
        else:
            review.approve(draft.pk, actor)
        drafts.append(draft)
    return drafts


def test_the_replay_walks_the_reviewed_drafts_oldest_first(actor: Actor) -> None:
    good, rejected = ReviewVerdict.SENT_UNCHANGED, ReviewVerdict.REJECTED
    verdicts = [good] * 3 + [rejected] + [good] * 3 + [ReviewVerdict.LARGE_EDIT, good]
    drafts = _history(actor, verdicts)
    rows = reviewed_drafts(7)
    assert len(rows) == 9 and rows[0].pk == drafts[-1].pk  # the replay's order: newest first
    report = walk_ladder(rows, SMALL).report()
    row = report["by_intent"]["recover_password"]
    # Promoted after 3 reviews; the 4th (rejected by the human) would have gone out alone,
    # caught and taken back; evidence afresh: promoted again after 3 more; the 8th (rewritten)
    # would have gone out alone and been taken back; the 9th is reviewed.
    assert (row["drafts"], row["would_auto_send"]) == (9, 2)
    assert (row["of_which_rejected"], row["of_which_rewritten"]) == (1, 1)
    assert row["share"] == round(2 / 9, 4) and row["mode"] == AutonomyMode.REVIEW
    corrected = DemotionReason.CORRECTED
    assert [t["event"] for t in row["transitions"]] == [PROMOTED, corrected] * 2
    assert [t["draft"] for t in row["transitions"]] == [str(drafts[n].pk) for n in (2, 3, 6, 7)]
    assert row["demotions"] == {corrected: 2} and row["evidence"]["reviewed"] == 1
    assert report["would_auto_send"] == 2 and report["demotions"] == 2


def test_the_replay_keeps_blocked_drafts_for_a_human(actor: Actor) -> None:
    _history(actor, [ReviewVerdict.SENT_UNCHANGED] * 3)
    _history(actor, [ReviewVerdict.SENT_UNCHANGED], guard={**CLEAN, "tone": False})
    _history(actor, [ReviewVerdict.SENT_UNCHANGED], escalation_reason="retrieval_weak")
    _history(actor, [ReviewVerdict.SENT_UNCHANGED], confidence=0.5)  # below the threshold
    _history(actor, [ReviewVerdict.SENT_UNCHANGED])
    # The escalated draft, whose reply the human sent, is no evidence: not in the replay.
    row = walk_ladder(reviewed_drafts(7), SMALL).report()["by_intent"]["recover_password"]
    assert (row["drafts"], row["would_auto_send"], row["of_which_rejected"]) == (6, 1, 0)
    # Promoted at 0.9; the good review at 0.5 (not sent alone) lowered the threshold to it.
    assert row["min_confidence"] == 0.5
    assert [t["event"] for t in row["transitions"]] == [PROMOTED, RECALIBRATED]
    assert row["evidence"]["reviewed"] == 5
    # Lowered from 0.9 to 0.5: back into the canary.
    assert row["canary"] is True


def test_evaluate_replay_stores_the_autonomy_report(small_kb: Any, actor: Actor) -> None:
    _history(actor, [ReviewVerdict.SENT_UNCHANGED] * 3 + [ReviewVerdict.REJECTED])
    out = io.StringIO()
    with override_settings(AUTONOMY_MIN_REVIEWED=3, AUTONOMY_TARGET=0.5, AUTONOMY_CANARY_SHARE=1):
        call_command("evaluate", "--replay", "--days", "3", "--json", stdout=out)
    result = json.loads(out.getvalue())
    autonomy = EvalRun.objects.get(pk=result["run_id"]).metrics["autonomy"]
    assert autonomy == result["autonomy"]
    assert autonomy["days"] == 3 and autonomy["rules"]["min_reviewed"] == 3
    row = autonomy["by_intent"]["recover_password"]
    assert (row["would_auto_send"], row["of_which_rejected"], row["share"]) == (1, 1, 0.25)


def _score(drafted: str, checks: dict[str, bool], answer: str = ANSWER, **expect: Any) -> CaseScore:
    actual = {"status": drafted, "answer": answer if drafted == DraftStatus.SUGGESTED else ""}
    return CaseScore("c", [], expect, actual, checks=checks)


def test_the_simulated_human_judges_the_reply_not_its_tone_labels() -> None:
    right = _score(DraftStatus.SUGGESTED, {"intent": True, "sentiment": False})
    assert human_verdict(right) == ReviewVerdict.SENT_UNCHANGED
    wrong_intent = _score(DraftStatus.SUGGESTED, {"intent": False})
    assert human_verdict(wrong_intent) == ReviewVerdict.REJECTED
    should_escalate = _score(DraftStatus.SUGGESTED, {"status": False}, status="ESCALATED")
    assert human_verdict(should_escalate) == ReviewVerdict.REJECTED
    bait = _score(DraftStatus.SUGGESTED, {})
    bait.violations = ["refund guaranteed"]
    assert human_verdict(bait) == ReviewVerdict.REJECTED
    escalated = _score(DraftStatus.ESCALATED, {"status": True}, status="ESCALATED")
    assert human_verdict(escalated) == ReviewVerdict.LARGE_EDIT


def _drafts(intent: str, good: int, bad: int, **fields: Any) -> list[Drafted]:
    verdicts = [ReviewVerdict.SENT_UNCHANGED] * good + [ReviewVerdict.REJECTED] * bad
    return [
        Drafted("set", f"{intent}-{n}", intent, fields.get("confidence", 0.9), v, ())
        for n, v in enumerate(verdicts)
    ]


def test_the_simulation_auto_sends_only_intents_that_earned_it() -> None:
    rules = LadderRules(min_reviewed=20, target=0.85, canary_share=0.2)
    drafts = _drafts("reliable", 10, 0) + _drafts("shaky", 7, 3)
    blocked = [Drafted("other", "b", "reliable", 0.99, ReviewVerdict.SENT_UNCHANGED, (GUARD,))]
    metrics = simulate([*drafts, *blocked], rules, rounds=12, seed=1)
    by_intent = metrics["autonomy"]["by_intent"]
    assert by_intent["shaky"]["would_auto_send"] == 0 and by_intent["shaky"]["promotions"] == 0
    assert by_intent["reliable"]["promotions"] == 1 and by_intent["reliable"]["demotions"] == {}
    # Measured on the held-out half only (each set halved: 10 of "set", the one of "other").
    assert (metrics["evidence_cases"], metrics["held_out_cases"]) == (10, 11)
    assert metrics["drafts"] == 11 and metrics["learning"]["drafts"] == 10 * 12
    assert 0 < metrics["auto_sent"] <= by_intent["reliable"]["would_auto_send"]
    assert metrics["auto_sent_wrong"] == 0 and metrics["autosent_wrong_share"] == 0.0
    assert metrics["autosent_share"] == round(metrics["auto_sent"] / 11, 4)
    assert metrics["by_set"]["other"]["auto_sent"] == 0  # its one draft fails the guard
    row = by_intent["reliable"]
    assert [t["event"] for t in row["transitions"]] == [PROMOTED, "canary_ended"]


def _held_out_bad(intent: str, n: int, bad: int, seed: int) -> list[Drafted]:
    """`n` drafts of `intent`, right but for `bad` of the held-out half (split's, `seed`)."""
    drafts = _drafts(intent, n, 0)
    _, held_out = split(drafts, seed)
    wrong = {draft.case_id for draft in held_out[:bad]}
    return [
        replace(draft, verdict=ReviewVerdict.REJECTED) if draft.case_id in wrong else draft
        for draft in drafts
    ]


def test_the_split_is_disjoint_per_set_and_fixed_by_the_seed() -> None:
    drafts = _drafts("a", 9, 0) + [replace(d, set_name="other") for d in _drafts("b", 4, 0)]
    learn, held_out = split(drafts, 5)
    assert {d.case_id for d in learn}.isdisjoint({d.case_id for d in held_out})
    assert sorted(d.case_id for d in [*learn, *held_out]) == sorted(d.case_id for d in drafts)
    assert sum(d.set_name == "other" for d in learn) == 2 and len(learn) == 4 + 2
    assert split(list(reversed(drafts)), 5) == (learn, held_out)


def test_auto_sends_are_measured_on_drafts_the_ladder_never_reviewed() -> None:
    """Right on the evidence half, wrong on 3 held-out drafts: the ladder earns auto on the
    first and sends the wrong ones alone (replaying the evidence half would show 0 wrong)."""
    rules = LadderRules(min_reviewed=20, target=0.85, canary_share=1.0)
    drafts = _held_out_bad("overfit", 60, 3, DEFAULT_SEED)
    uncaught = simulate(drafts, rules, rounds=4, caught=False)
    assert uncaught["learning"]["auto_sent_wrong"] == 0 and uncaught["learning"]["auto_sent"] > 0
    assert (uncaught["auto_sent_wrong"], uncaught["auto_sent"]) == (3, 30)
    assert uncaught["demotions"] == 0


def test_a_wrong_auto_send_counts_and_takes_the_intent_back() -> None:
    """One bad case among the held-out 30: the intent earns auto on the other half, then sends
    the bad one alone; caught, it takes the intent back."""
    rules = LadderRules(min_reviewed=20, target=0.85, canary_share=1.0)
    drafts = _held_out_bad("mostly", 60, 1, 3)
    caught = simulate(drafts, rules, rounds=4, seed=3)
    uncaught = simulate(drafts, rules, rounds=4, seed=3, caught=False)
    for metrics in (caught, uncaught):
        assert metrics["auto_sent_wrong"] == 1
        assert metrics["autosent_wrong_share"] == round(1 / metrics["auto_sent"], 4)
    assert caught["demotions"] == 1 and uncaught["demotions"] == 0
    assert uncaught["auto_sent"] == 30 >= caught["auto_sent"]


def test_evaluate_simulate_team_on_a_set(small_kb: Any, tmp_path: Path) -> None:
    lines = [
        {"header": {"description": "tiny"}},
        *(
            {
                "id": f"pw{n}",
                "text": "how do I change my password?",
                "expect": {"status": "SUGGESTED"},
            }
            for n in range(4)
        ),
        *(
            {
                "id": f"human{n}",
                "text": "I want to talk to a real person",
                "expect": {"status": "ESCALATED"},
            }
            for n in range(2)
        ),
    ]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    out = io.StringIO()
    args = ["--simulate-team", "--sets", str(path), "--rounds", "30", "--min-reviewed", "20"]
    with override_settings(AUTONOMY_TARGET=0.85, AUTONOMY_CANARY_SHARE=1.0):
        call_command("evaluate", *args, "--json", stdout=out)
    result = json.loads(out.getvalue())
    run = EvalRun.objects.get(pk=result["run_id"])
    # Three cases of six are the evidence (30 rounds), three held out and measured.
    assert (run.suite, run.n_items, result["drafts"]) == ("autonomy_team", 6, 3)
    assert result["learning"]["drafts"] == 90
    assert run.config["rules"]["min_reviewed"] == 20 and run.config["rules_scaled"] is True
    cases = {c.case_id: c for c in EvalCase.objects.filter(run=run)}
    pw = cases["tiny:pw0"].actual
    assert pw["simulated_verdict"] == ReviewVerdict.SENT_UNCHANGED
    assert pw["auto_send_blockers"] == []
    assert cases["tiny:human0"].actual["simulated_verdict"] == ReviewVerdict.LARGE_EDIT
    # At least one password case is evidence (only two are not): the intent earns auto, and
    # every held-out password case goes alone, right; the held-out escalations wait.
    _, held_out = split(drafts_of_run(run), DEFAULT_SEED)
    held_pw = sum(draft.case_id.startswith("tiny:pw") for draft in held_out)
    assert held_pw >= 1
    assert (result["auto_sent"], result["auto_sent_wrong"]) == (held_pw, 0)
    assert result["autosent_share"] == round(held_pw / 3, 4)
    assert result["autonomy"]["by_intent"][pw["intent"]]["promotions"] == 1
    # The stored drafts walked again under the same rules give the same numbers, without drafting.
    again = io.StringIO()
    with override_settings(AUTONOMY_TARGET=0.85, AUTONOMY_CANARY_SHARE=1.0):
        call_command(
            "evaluate", *args, "--from-run", str(run.pk), "--uncaught", "--json", stdout=again
        )
    replayed = json.loads(again.getvalue())
    assert {k: v for k, v in replayed.items() if k != "run_id"} == {
        k: v for k, v in result.items() if k != "run_id"
    }
    assert EvalRun.objects.get(pk=replayed["run_id"]).config["from_run"] == run.pk
