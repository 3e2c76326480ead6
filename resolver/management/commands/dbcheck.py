"""`manage.py dbcheck`: the start-up database self-check on its own (pgvector loads, a cosine
distance and an HNSW insert succeed); one line either way, exit status 1 on failure."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from resolver.dbcheck import check_or_exit, cpu_summary


class Command(BaseCommand):
    help = "Check that the database can do vector work (pgvector distance and HNSW insert)."

    def handle(self, *args: Any, **options: Any) -> None:
        result = check_or_exit(settings.DATABASE_URL, settings.RESOLVER_DATA_DIR)
        self.stdout.write(
            f"database ok: PostgreSQL {result.postgres}, pgvector {result.pgvector} "
            f"(CPU: {cpu_summary()})"
        )
