"""One run of the evaluation harness: what was measured, on what, with which model."""

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
