"""Append-only record of every human and AI action on drafts and conversations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.db.models.fields.json import KeyTransform

from resolver.audit_actor import ActorType

if TYPE_CHECKING:
    from resolver.audit_actor import Actor


class AuditAction(models.TextChoices):
    CREATED = "created", "Created"
    SUGGESTED = "suggested", "Suggested"
    ESCALATED = "escalated", "Escalated"
    EDITED = "edited", "Edited"
    APPROVED = "approved", "Approved"
    SENT = "sent", "Sent"
    AUTO_SENT = "auto_sent", "Sent automatically"
    # Auto-send would have sent it, but its recipient had as many automatic e-mails
    # this hour as allowed (support/outbound/limits.py): it waits for a human.
    AUTO_SEND_HELD = "auto_send_held", "Held for a human: automatic reply limit"
    REJECTED = "rejected", "Rejected"
    REPROCESSED = "reprocessed", "Reprocessed"
    RESOLVED = "resolved", "Resolved"
    PROPOSAL_APPROVED = "proposal_approved", "Proposal approved"
    PROPOSAL_DISMISSED = "proposal_dismissed", "Proposal dismissed"
    RATED = "rated", "Rated by the customer"
    RELABELLED = "relabelled", "Re-labelled"
    GUARD_RULE_ENABLED = "guard_rule_enabled", "Guard rule enabled"
    GUARD_RULE_DISABLED = "guard_rule_disabled", "Guard rule disabled"
    CUSTOMER_EXPORTED = "customer_exported", "Customer data exported"
    CUSTOMER_ERASED = "customer_erased", "Customer data erased"
    ANONYMISED = "anonymised", "Anonymised by retention"
    # An action the copilot proposed on a draft (support/actions/decide.py).
    ACTION_APPROVED = "action_approved", "Action approved"
    ACTION_REJECTED = "action_rejected", "Action rejected"
    ACTION_EXECUTED = "action_executed", "Action executed"
    ACTION_FAILED = "action_failed", "Action failed"
    # Follow-up tasks (support/tasks.py).
    TASK_CREATED = "task_created", "Task created"
    TASK_UPDATED = "task_updated", "Task changed"
    TASK_DONE = "task_done", "Task done"
    TASK_REOPENED = "task_reopened", "Task reopened"
    # The autonomy ladder (support/autonomy/ladder.py): an intent earned auto-send (or ended its
    # canary), was taken back to review (the reason in `after`), or the team switched it.
    AUTONOMY_PROMOTED = "autonomy_promoted", "Autonomy: promoted to auto-send"
    AUTONOMY_DEMOTED = "autonomy_demoted", "Autonomy: taken back to review"
    AUTONOMY_SWITCHED = "autonomy_switched", "Autonomy: switched by a person"
    # An agent corrected an automatically sent reply after the fact (review.correct).
    CORRECTED = "corrected", "Auto-sent reply corrected"


class AuditLogQuerySet(models.QuerySet["AuditLog"]):
    def record(
        self,
        actor: Actor,
        action: str,
        *,
        conversation_id: Any,
        draft_id: Any = None,
        message_id: Any = None,
        before: Any = None,
        after: Any = None,
        **metadata: Any,
    ) -> AuditLog:
        """One audit row naming `actor`; call it inside the transaction of the change."""
        return self.create(
            actor_type=actor.actor_type,
            actor=actor.label,
            user=actor.user,
            action=action,
            conversation_id=conversation_id,
            draft_id=draft_id,
            message_id=message_id,
            before=before,
            after=after,
            metadata=metadata,
        )


class AuditLog(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # Human-readable and stable even if the user or key is deleted: "user:alice", "agent:graph".
    actor = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    # SET_NULL keeps the trail when a conversation is deleted; before/after still name the ids.
    conversation = models.ForeignKey(
        "support.Conversation",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_logs",
        db_index=False,  # audit_conversation_idx
    )
    draft = models.ForeignKey(
        "support.Draft",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_logs",
        db_index=False,  # audit_draft_idx
    )
    message = models.ForeignKey(
        "support.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    metadata = models.JSONField(default=dict, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(actor_type__in=ActorType.values), name="audit_actor_type_valid"
            ),
            models.CheckConstraint(
                condition=models.Q(action__in=AuditAction.values), name="audit_action_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="audit_conversation_idx"),
            models.Index(fields=["draft", "created_at"], name="audit_draft_idx"),
            models.Index(fields=["action", "-created_at"], name="audit_action_idx"),
            # The admin's list, newest first (its order ends with the id: deterministic pages).
            models.Index(fields=["-created_at", "-id"], name="audit_created_idx"),
            # Erasure finds the export and erasure rows that name the customer.
            models.Index(KeyTransform("customer_ref", "metadata"), name="audit_customer_ref_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.actor} {self.action}"
