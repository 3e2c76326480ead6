"""The optional LLM judge: rubric scores (1-5, reported as 0-1) for faithfulness (every claim of
the answer is supported by the cited articles) and helpfulness (it answers what the customer
asked). Off by default and never needed by CI; `evaluate --judge` with an LLM provider set."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from langchain_core.language_models.chat_models import BaseChatModel

from agents.llm import chat_model
from evals.sets import Case

RUBRIC = """You grade a customer-support reply. Score each criterion from 1 (bad) to 5 (excellent).
faithfulness: every statement in the reply is supported by the knowledge-base articles below;
  nothing is invented (no amounts, dates, names or promises the articles or the customer lack).
helpfulness: the reply answers what the customer asked, clearly and politely.
Answer with JSON only: {{"faithfulness": n, "helpfulness": n}}

Customer message:
<<<{message}>>>

Knowledge-base articles cited:
<<<{articles}>>>

Reply to grade:
<<<{answer}>>>"""
CRITERIA = ("faithfulness", "helpfulness")
SCORE = re.compile(r"\{.*\}", re.DOTALL)


def parse_scores(text: str) -> dict[str, float]:
    """{criterion: 0..1} from the judge's JSON; criteria it did not score are left out."""
    match = SCORE.search(text)
    if not match:
        return {}
    try:
        raw = json.loads(match.group(0))
    except json.JSONDecodeError:
        return {}
    scores = {}
    for name in CRITERIA:
        value = raw.get(name) if isinstance(raw, dict) else None
        if isinstance(value, int | float) and 1 <= value <= 5:
            scores[name] = round((float(value) - 1) / 4, 4)
    return scores


def make_judge(
    model: BaseChatModel,
) -> Callable[[Case, dict[str, Any], list[str]], dict[str, float]]:
    def judge(case: Case, actual: dict[str, Any], articles: list[str]) -> dict[str, float]:
        prompt = RUBRIC.format(
            message=case.text[:2000],
            articles="\n---\n".join(a[:1500] for a in articles) or "(none)",
            answer=str(actual.get("answer", ""))[:2000],
        )
        reply = model.invoke(prompt)
        return parse_scores(str(reply.content))

    return judge


def configured_judge() -> Callable[[Case, dict[str, Any], list[str]], dict[str, float]] | None:
    if settings.LLM_PROVIDER == "extractive":
        return None
    return make_judge(chat_model())
