from __future__ import annotations

from django.contrib import admin

from evals.models import EvalCase, EvalRun
from resolver.admin_mixins import ReadOnlyAdminMixin


@admin.register(EvalRun)
class EvalRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Runs are written by `manage.py evaluate` only: a measurement is never edited."""

    list_display = ["started_at", "suite", "dataset", "status", "provider", "model", "n_items"]
    list_filter = ["suite", "status", "provider"]
    search_fields = ["dataset", "model", "git_sha"]


@admin.register(EvalCase)
class EvalCaseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["run", "case_id", "passed"]
    list_filter = ["passed", "run__suite"]
    search_fields = ["case_id"]
    raw_id_fields = ["run"]
