"""DeadLetter now lives in resolver (resolver.0001 took its table over and renamed it)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0001_initial"),
        ("resolver", "0001_deadletter_from_agents"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="DeadLetter")],
            database_operations=[],
        ),
    ]
