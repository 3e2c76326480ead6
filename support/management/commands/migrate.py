"""Django's `migrate`, after one repair of the migration history that Django's own check would
refuse before anything runs.

Builds of one day (2026-12-07, before 1d45abb) applied support's 0044 under an earlier name,
`0044_order_refunded_reported_at` (its column was `refunded_reported_at`), and 0045 after it. The
0044 that replaced it is `0044_order_reported_at`, which 0045 depends on: on such a database
Django stopped with InconsistentMigrationHistory and applied nothing. The row is renamed here, so
their history reads as every other install's, and 0049 renames their column."""

from __future__ import annotations

from typing import Any

from django.core.management.commands.migrate import Command as DjangoMigrate
from django.db import connections

# (app, the name a shipped build recorded) -> the name the migration has now.
RENAMED = {("support", "0044_order_refunded_reported_at"): "0044_order_reported_at"}


def rename_recorded_migrations(database: str) -> int:
    """Rows of django_migrations recorded under an earlier name of a migration, renamed (none
    when the table does not exist yet or the new name is recorded already)."""
    connection = connections[database]
    if "django_migrations" not in connection.introspection.table_names():
        return 0
    renamed = 0
    with connection.cursor() as cursor:
        for (app, old), new in RENAMED.items():
            cursor.execute(
                "UPDATE django_migrations SET name = %s WHERE app = %s AND name = %s "
                "AND NOT EXISTS (SELECT 1 FROM django_migrations WHERE app = %s AND name = %s)",
                [new, app, old, app, new],
            )
            renamed += cursor.rowcount
    return renamed


class Command(DjangoMigrate):
    def handle(self, *args: Any, **options: Any) -> None:
        rename_recorded_migrations(options["database"])
        super().handle(*args, **options)
