"""ProcessedEvent moves from agents to resolver (the support action that records an agent run's
outcome writes it). The table is renamed, not copied; agents.0003 then forgets the model."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("resolver", "0001_deadletter_from_agents")]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ProcessedEvent",
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
                        ("event_id", models.CharField(max_length=64, unique=True)),
                        ("event_type", models.CharField(max_length=64)),
                        ("processed_at", models.DateTimeField(auto_now_add=True)),
                    ],
                    options={"ordering": ["-processed_at"], "db_table": "agents_processedevent"},
                ),
            ],
            database_operations=[],
        ),
        migrations.AlterModelTable(name="processedevent", table=None),
    ]
