from __future__ import annotations

from django.contrib import admin

from agents.models import ProcessedEvent
from resolver.admin_mixins import ReadOnlyAdminMixin


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "event_type", "processed_at"]
    list_filter = ["event_type", "processed_at"]
    search_fields = ["event_id"]
