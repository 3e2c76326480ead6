"""Management commands on a database nobody has migrated yet (a fresh data dir, a new server).

On the embedded database (ours, local) a command migrates it first, under an advisory lock so two
commands started together do not both migrate. On a database named by DATABASE_URL it only says
what to run: migrating a shared server is an operator's decision (the migrate Job in deploy/).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

# Commands that need no tables, or that migrate themselves (runresolver).
NO_SCHEMA_NEEDED = frozenset(
    {
        "check",
        "collectstatic",
        "dbcheck",
        "dbshell",
        "diffsettings",
        "event_schema",
        "findstatic",
        "help",
        "makemigrations",
        "migrate",
        "optimizemigration",
        "runresolver",
        "sendtestemail",
        "shell",
        "showmigrations",
        "sqlmigrate",
        "squashmigrations",
        "version",
    }
)
# Any constant works; it only has to be the same for every Resolver process.
MIGRATE_LOCK = 726_311_004


class SchemaMissing(RuntimeError):
    """The configured database has unapplied migrations; str() says what to run."""


def unapplied_migrations() -> int:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    return len(executor.migration_plan(executor.loader.graph.leaf_nodes()))


def migrate_embedded(say: Callable[[str], None]) -> None:
    """Migrates the embedded database unless another process just did."""
    from django.core.management import call_command
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [MIGRATE_LOCK])
        try:
            if pending := unapplied_migrations():
                say(f"resolver: {pending} migrations to apply to the new database; migrating...")
                call_command("migrate", interactive=False, verbosity=0)
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [MIGRATE_LOCK])


def ensure_schema(argv: list[str]) -> None:
    """Before the command in `argv` (manage.py's) runs: the tables exist, or SchemaMissing says
    what to run."""
    command = argv[1] if len(argv) > 1 else "help"
    if command.startswith("-") or command in NO_SCHEMA_NEEDED or {"-h", "--help"} & {*argv}:
        return
    import django
    from django.conf import settings

    from resolver.embedded import EmbeddedPostgres

    django.setup()
    if not unapplied_migrations():
        return
    if EmbeddedPostgres(settings.RESOLVER_DATA_DIR).serves(settings.DATABASE_URL):
        migrate_embedded(lambda line: print(line, file=sys.stderr))
        return
    raise SchemaMissing(
        "the database at DATABASE_URL has unapplied migrations; run "
        "`.venv/bin/python manage.py migrate` first"
    )
