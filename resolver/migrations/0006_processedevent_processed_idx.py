"""The admin's list of processed events, newest first (resolver/admin.py): without the index
each page sorted the whole dedupe table. Built CONCURRENTLY (no lock on the workers' inserts
while it builds), so outside a transaction."""

from __future__ import annotations

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("resolver", "0005_agents_group"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="processedevent",
            index=models.Index(
                fields=["-processed_at", "-id"], name="processedevent_processed_idx"
            ),
        ),
    ]
