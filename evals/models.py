"""Runs of the evaluation harness (`manage.py evaluate`): what was measured, on what set, with
which model and code, and each case's result so that two runs can be diffed."""

from __future__ import annotations

from django.db import models


class EvalStatus(models.TextChoices):
    RUNNING = "RUNNING", "Running"
    COMPLETED = "COMPLETED", "Completed"
    FAILED = "FAILED", "Failed"


class EvalRun(models.Model):
    suite = models.CharField(max_length=64, help_text="e.g. triage, retrieval, drafts")
    dataset = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=EvalStatus.choices, default=EvalStatus.RUNNING)
    provider = models.CharField(max_length=32, blank=True)
    model = models.CharField(max_length=128, blank=True)
    prompt_version = models.CharField(max_length=32, blank=True)
    git_sha = models.CharField(max_length=40, blank=True)
    config = models.JSONField(default=dict, blank=True)
    # Aggregates (accuracy, macro_f1, recall@5, p95_ms, cost...) and a few worst cases.
    metrics = models.JSONField(default=dict, blank=True)
    n_items = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=EvalStatus.values), name="evalrun_status_valid"
            ),
        ]
        indexes = [models.Index(fields=["suite", "-started_at"], name="evalrun_suite_idx")]

    def __str__(self) -> str:
        return f"{self.suite} {self.started_at:%Y-%m-%d %H:%M}"


class EvalCaseQuerySet(models.QuerySet["EvalCase"]):
    def changed_between(self, old: EvalRun, new: EvalRun) -> list[tuple[EvalCase, EvalCase]]:
        """Cases of both runs (same set) whose outcome or verdict differs, in case order."""
        before = {case.case_id: case for case in self.filter(run=old)}
        pairs: list[tuple[EvalCase, EvalCase]] = []
        for case in self.filter(run=new).order_by("position"):
            previous = before.get(case.case_id)
            if previous is not None and previous.outcome_key() != case.outcome_key():
                pairs.append((previous, case))
        return pairs


class EvalCase(models.Model):
    """One case of a run: expectation, what the pipeline did, and the checks that applied."""

    run = models.ForeignKey(EvalRun, on_delete=models.CASCADE, related_name="cases")
    position = models.PositiveIntegerField()
    case_id = models.CharField(max_length=200)
    tags = models.JSONField(default=list, blank=True)
    expect = models.JSONField(default=dict, blank=True)
    # status, escalation_reason, intent, category, sentiment, urgency, answer, confidence, ...
    actual = models.JSONField(default=dict, blank=True)
    scores = models.JSONField(default=dict, blank=True)
    passed = models.BooleanField()

    objects = EvalCaseQuerySet.as_manager()

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "case_id"], name="evalcase_run_case_unique")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.case_id}"

    def outcome_key(self) -> tuple[object, ...]:
        return (
            self.passed,
            self.actual.get("status"),
            self.actual.get("escalation_reason"),
            self.actual.get("intent"),
        )
