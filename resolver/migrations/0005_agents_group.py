"""The `agents` group (resolver/bootstrap.py: who may use the console) exists wherever the schema
does: compose and Kubernetes only run `migrate`, not `make run`'s bootstrap, and an admin there
had no group to add agents to."""

from __future__ import annotations

from typing import Any

from django.db import migrations

AGENTS_GROUP = "agents"  # resolver.bootstrap.AGENTS_GROUP, as of this migration


def create_group(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.get_or_create(name=AGENTS_GROUP)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("resolver", "0004_privacy"),
    ]

    # Not removed on the way back: members may have been added to it.
    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
