"""The learning-curve suite on the real pipeline and database: questions answered by a scripted
agent through the review actions become approved articles the next drafts cite; nothing of it
stays in the database."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management import call_command

from evals.models import EvalCase, EvalRun
from knowledge.matching import MAX_MATCH_THRESHOLD, MIN_MATCH_THRESHOLD
from knowledge.models import KBDocument, Proposal
from support.models import AuditLog, Conversation, Draft

ANSWER = "Yes, we offer gift wrapping. Choose Gift wrap at checkout and add a personal note."
TRAIN = [
    "Do you offer gift wrapping?",
    "can you gift wrap my order please",
    "is gift wrap available when I buy something?",
]
HELD_OUT = ["Could you wrap my purchase as a gift?", "is there a gift wrapping option"]
# Messages drafted after learning that must not get the learned answer; the last one is in fact
# the taught topic (it shows the counter counts what it should).
NEGATIVES = {
    "n-password": "how do I change my password?",
    "n-weather": "what's the weather like in Paris tomorrow?",
    "n-taught": "can you gift wrap my order?",
}


def _set(tmp_path: Path) -> Path:
    lines: list[dict[str, Any]] = [{"header": {"kind": "learning_curve"}}]
    lines += [
        {
            "id": f"t{i}",
            "text": q,
            "tags": ["topic:gift"],
            "learn": {"topic": "gift", "answer": ANSWER},
        }
        for i, q in enumerate(TRAIN)
    ]
    lines += [
        {
            "id": f"h{i}",
            "text": q,
            "tags": ["topic:gift", "heldout"],
            "expect": {"status": "SUGGESTED", "reference": ANSWER},
        }
        for i, q in enumerate(HELD_OUT)
    ]
    lines += [
        {"id": case_id, "text": text, "tags": ["negative"]} for case_id, text in NEGATIVES.items()
    ]
    path = tmp_path / "curve.jsonl"
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def _counts() -> tuple[int, ...]:
    models = (Conversation, Draft, KBDocument, Proposal, AuditLog, get_user_model())
    return tuple(model.objects.count() for model in models)


def test_the_loop_learns_and_leaves_no_trace(small_kb: Any, tmp_path: Path) -> None:
    before = _counts()
    out = io.StringIO()
    call_command("evaluate", "--set", str(_set(tmp_path)), "--json", stdout=out)
    result = json.loads(out.getvalue())
    assert _counts() == before  # rolled back: no conversation, draft, article or proposal left
    assert result["answered_by_hand"] == {"gift": 3}
    assert result["proposals_per_topic"] == {"gift": 1}
    assert result["before"]["suggested_rate"] == 0.0
    assert result["after"]["cites_learned_rate"] == 1.0
    assert result["learned_right_answer_rate"] == 1.0
    assert result["after"]["answer_f1_where_suggested"] >= 0.6
    # The learned article's own threshold, calibrated on the three taught questions.
    [threshold] = result["learned_thresholds"]["gift"]
    assert MIN_MATCH_THRESHOLD <= threshold <= MAX_MATCH_THRESHOLD
    # The negatives are drafted after learning, apart from the held-out paraphrases.
    assert result["negatives"] == len(NEGATIVES)
    assert result["unrelated_learned_cases"] == ["n-taught"]
    assert result["unrelated_learned_answers"] == 1
    run = EvalRun.objects.get(pk=result["run_id"])
    assert [case.case_id for case in EvalCase.objects.filter(run=run)] == ["h0", "h1"]
    assert all(case.actual["cites_learned"] for case in EvalCase.objects.filter(run=run))
