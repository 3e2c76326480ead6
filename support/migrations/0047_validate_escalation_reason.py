"""Validates the check 0046 added NOT VALID: a scan under SHARE UPDATE EXCLUSIVE, which reads and
writes of drafts go on beside."""

from django.contrib.postgres.operations import ValidateConstraint
from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("support", "0046_escalation_reason_run_failed")]

    operations = [
        ValidateConstraint(model_name="draft", name="draft_escalation_reason_valid"),
    ]
