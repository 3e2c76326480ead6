from __future__ import annotations

from django.contrib import admin

from agents.models import DeadLetter, ProcessedEvent
from resolver.admin_mixins import ReadOnlyAdminMixin


@admin.register(ProcessedEvent)
class ProcessedEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["event_id", "event_type", "processed_at"]
    list_filter = ["event_type", "processed_at"]
    search_fields = ["event_id"]


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor_name",
        "queue_name",
        "message_id",
        "retries",
        "replayed_at",
    ]
    list_filter = ["actor_name", "queue_name", "created_at"]
    search_fields = ["message_id", "event_id", "error"]
    readonly_fields = [
        "actor_name",
        "queue_name",
        "message_id",
        "event_id",
        "args",
        "kwargs",
        "error",
        "traceback",
        "retries",
        "created_at",
        "replayed_at",
    ]
