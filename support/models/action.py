"""Operational moves and follow-ups (issue #27). An Action is what the copilot proposed on a
draft (support/actions/catalogue.py names the kinds, their argument schemas and policy checks);
a human approves it (with corrected arguments) or rejects it; the approval executes it through
the configured backend (ACTIONS_BACKEND) exactly once, its id being the Idempotency-Key. A Task
is a human-owned follow-up (a callback, a check on a replacement), made by an agent or by an
approved create_follow_up action."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from django.conf import settings
from django.db import models

from support.vocabulary import ActionStatus, TaskCreator, TaskStatus


class Action(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    draft = models.ForeignKey("support.Draft", on_delete=models.CASCADE, related_name="actions")
    # Denormalised from the draft: a conversation's actions, and erasure, need no join.
    conversation = models.ForeignKey(
        "support.Conversation", on_delete=models.CASCADE, related_name="actions"
    )
    name = models.CharField(max_length=64)  # a key of support.actions.catalogue.CATALOGUE
    arguments = models.JSONField(default=dict, blank=True)
    # The arguments as the copilot proposed them, when a human corrected them on approval.
    proposed_arguments = models.JSONField(null=True, blank=True)
    # The draft's answer states the action as done in `confirmation`; when it is rejected or
    # fails, the reply sent says `fallback` instead (support/actions/: the sent text follows
    # what really happened).
    confirmation = models.TextField(blank=True)
    fallback = models.TextField(blank=True)
    status = models.CharField(
        max_length=16, choices=ActionStatus.choices, default=ActionStatus.PROPOSED
    )
    result = models.JSONField(null=True, blank=True)  # what the backend answered
    error = models.TextField(blank=True)  # why it failed, or why it was rejected
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    executed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Failed without the store ever answering (timeouts to the last attempt, or its draft
    # closed while retrying): it may have been carried out. A refund like this still counts
    # against what is left to refund until the store reports the order again (catalogue).
    outcome_unknown = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=ActionStatus.values), name="action_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["draft", "created_at"], name="action_draft_idx"),
            models.Index(fields=["status", "created_at"], name="action_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.status}"

    def as_wire(self) -> dict[str, Any]:
        """The Action object of CONTRACTS.md (on the Draft's `actions`, and what approve and
        reject answer)."""
        decider = self.decided_by
        return {
            "id": self.pk,
            "name": self.name,
            "arguments": self.arguments,
            "status": self.status,
            "result": self.result,
            # An addition: why it failed, or why it was rejected.
            "error": self.error or None,
            "decided_by": decider.get_username() if decider is not None else None,
            "decided_at": self.decided_at,
        }


# When a task given a date alone is due: by the end of that day (support/tasks.py).
END_OF_DAY = time(23, 59, 59)


class TaskQuerySet(models.QuerySet["Task"]):
    def overdue(self, now: datetime) -> TaskQuerySet:
        """Open and past their due date."""
        return self.filter(status=TaskStatus.OPEN, due_at__lt=now)

    def in_due_order(self) -> TaskQuerySet:
        """Soonest due first (so the overdue ones lead), those without a due date last, then
        the oldest; with the assignee, whose name every list shows."""
        return self.select_related("assignee").order_by(
            models.F("due_at").asc(nulls_last=True), "created_at", "id"
        )


class Task(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    conversation = models.ForeignKey(
        "support.Conversation", on_delete=models.CASCADE, related_name="tasks"
    )
    title = models.CharField(max_length=300)
    due_at = models.DateTimeField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    status = models.CharField(max_length=8, choices=TaskStatus.choices, default=TaskStatus.OPEN)
    created_by = models.CharField(max_length=8, choices=TaskCreator.choices)
    # The action that made it (create_follow_up), when the copilot proposed it.
    action = models.OneToOneField(
        Action, null=True, blank=True, on_delete=models.SET_NULL, related_name="task"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=TaskStatus.values), name="task_status_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(created_by__in=TaskCreator.values),
                name="task_created_by_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["assignee", "status", "due_at"], name="task_assignee_open_idx"),
            models.Index(fields=["conversation"], name="task_conversation_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, now: datetime) -> bool:
        return self.status == TaskStatus.OPEN and self.due_at is not None and self.due_at < now
