"""ProcessedEvent now lives in resolver (resolver.0002 took its table over and renamed it)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0002_deadletter_to_resolver"),
        ("resolver", "0002_processedevent_from_agents"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="ProcessedEvent")],
            database_operations=[],
        ),
    ]
