"""DeadLetter moves from agents to resolver (it records failures of every actor). The table is
renamed, not copied: no row is lost. agents.0002 then forgets the model."""

from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [("agents", "0001_initial")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="DeadLetter",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("actor_name", models.CharField(max_length=128)),
                        ("queue_name", models.CharField(max_length=128)),
                        (
                            "message_id",
                            models.CharField(help_text="Dramatiq message id", max_length=64),
                        ),
                        ("event_id", models.CharField(blank=True, max_length=64)),
                        ("args", models.JSONField(blank=True, default=list)),
                        ("kwargs", models.JSONField(blank=True, default=dict)),
                        ("error", models.TextField(blank=True)),
                        ("traceback", models.TextField(blank=True)),
                        ("retries", models.PositiveIntegerField(default=0)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("replayed_at", models.DateTimeField(blank=True, null=True)),
                    ],
                    options={
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(
                                fields=["actor_name", "-created_at"], name="deadletter_actor_idx"
                            )
                        ],
                        "db_table": "agents_deadletter",
                    },
                ),
            ],
            database_operations=[],
        ),
        # Now a real rename: agents_deadletter → resolver_deadletter.
        migrations.AlterModelTable(name="deadletter", table=None),
    ]
