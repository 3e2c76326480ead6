"""ApiKey and IdempotencyRecord now live in resolver (resolver.0003 took their state over; the
tables keep their names and rows)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("support", "0006_draft_run_by"),
        ("resolver", "0003_apikey_idempotency_from_support"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ApiKey"),
                migrations.DeleteModel(name="IdempotencyRecord"),
            ],
            database_operations=[],
        ),
    ]
