from __future__ import annotations

from functools import partial

from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from resolver.admin_mixins import ReadOnlyAdminMixin
from resolver.broker import send_to_actor
from resolver.models import DeadLetter, ProcessedEvent


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
    actions = ["replay"]
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

    @admin.action(description="Replay the selected messages")
    def replay(self, request: HttpRequest, queryset: QuerySet[DeadLetter]) -> None:
        """Sends each message again to its actor, by name (the web process need not import the
        actor), after commit, and stamps replayed_at."""
        count = 0
        for letter in queryset:
            send = partial(send_to_actor, letter.actor_name, letter.queue_name)
            transaction.on_commit(partial(send, *letter.args, **letter.kwargs))
            count += 1
        queryset.update(replayed_at=timezone.now())
        self.message_user(request, f"Replayed {count} message(s).")
