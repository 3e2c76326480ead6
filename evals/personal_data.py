"""Where the eval harness keeps a customer's data (resolver/personal_data.py explains the lists):
a shadow replay (`evaluate --replay`) drafts real conversations again, and its cases hold the
message, the agent's reply and the new answer; a replay case is named by the draft it replays."""

from __future__ import annotations

from django.db.models import QuerySet

from evals.models import EvalCase
from resolver.personal_data import Holder, Subject, delete_rows


def _replay_cases(subject: Subject) -> QuerySet[EvalCase]:
    return EvalCase.objects.filter(case_id__in=sorted(subject.draft_ids))


HOLDERS = [Holder(EvalCase, ("expect", "actual", "scores", "tags"), _replay_cases, delete_rows)]

_AGGREGATE = "a run's settings and aggregate figures"
NOT_PERSONAL = {
    "evals.EvalCase.case_id": "a case id (a replay case's is a draft id)",
    **{
        f"evals.EvalRun.{name}": _AGGREGATE
        for name in (
            "suite",
            "dataset",
            "provider",
            "model",
            "prompt_version",
            "git_sha",
            "config",
            "metrics",
            "error",
        )
    },
}
