from __future__ import annotations

from django.contrib import admin

from evals.models import EvalRun


@admin.register(EvalRun)
class EvalRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "suite", "dataset", "status", "provider", "model", "n_items"]
    list_filter = ["suite", "status", "provider"]
    search_fields = ["dataset", "model", "git_sha"]
    readonly_fields = ["started_at", "finished_at"]
