"""Indexes for the admin's lists of the big tables, newest first (support/admin.py): without
them each page sorted the whole table. Built CONCURRENTLY (no lock on writes to these live
tables while they build), so outside a transaction."""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("support", "0047_validate_escalation_reason"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="auditlog",
            index=models.Index(fields=["-created_at", "-id"], name="audit_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="message",
            index=models.Index(fields=["-created_at", "-id"], name="message_created_idx"),
        ),
        AddIndexConcurrently(
            model_name="webhookdelivery",
            index=models.Index(fields=["-created_at", "-id"], name="webhook_delivery_created_idx"),
        ),
    ]
