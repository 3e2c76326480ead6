"""Autonomy's evidence survives erasure (#29): a person's verdict is stored on the draft when they
review it (Draft.review_verdict), and an agent reply names the draft it sent (Message.draft),
where a rating finds it once the message's metadata is erased. Existing rows are filled in from
what is still there."""

from __future__ import annotations

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

# The reasons the system closed a draft unanswered (support/models/draft.py), as they were.
NOT_A_REVIEW = (
    "superseded by a reprocess",
    "closed: the conversation was resolved",
    "closed: the customer's data was erased",
)
PEOPLE = ("USER", "API_KEY")


def fill_in(apps: Any, schema_editor: Any) -> None:
    from support.autonomy.evidence import judge

    Draft = apps.get_model("support", "Draft")
    Message = apps.get_model("support", "Message")
    AuditLog = apps.get_model("support", "AuditLog")
    drafts = {str(pk) for pk in Draft.objects.values_list("pk", flat=True)}
    for message in Message.objects.filter(metadata__has_key="draft_id").only("id", "metadata"):
        draft_id = str(message.metadata.get("draft_id"))
        if draft_id in drafts:
            Message.objects.filter(pk=message.pk).update(draft_id=draft_id)
    rejected_by_people = set(
        AuditLog.objects.filter(action="rejected", actor_type__in=PEOPLE)
        .exclude(draft_id=None)
        .values_list("draft_id", flat=True)
    )
    judged = (
        Draft.objects.filter(
            automated=False,
            status__in=("SENT", "REJECTED"),
            reviewed_at__isnull=False,
            confidence__isnull=False,
        )
        .exclude(answer="")
        .exclude(reject_reason__in=NOT_A_REVIEW)
    )
    for draft in judged.only("id", "status", "answer", "edit_distance", "reviewed_by"):
        if draft.status == "REJECTED" and not (
            draft.reviewed_by_id or draft.pk in rejected_by_people
        ):
            continue
        kind = judge(draft.status, draft.answer, draft.edit_distance)
        Draft.objects.filter(pk=draft.pk).update(review_verdict=kind)


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0031_autonomy_switch"),
    ]

    operations = [
        migrations.AddField(
            model_name="draft",
            name="review_verdict",
            field=models.CharField(
                blank=True,
                choices=[
                    ("sent_unchanged", "Sent unchanged"),
                    ("small_edit", "Sent, lightly edited"),
                    ("large_edit", "Sent, rewritten"),
                    ("rejected", "Rejected"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="message",
            name="draft",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="support.draft",
            ),
        ),
        migrations.RunPython(fill_in, migrations.RunPython.noop),
    ]
