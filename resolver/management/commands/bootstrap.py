"""`manage.py bootstrap`: what `make run` does before it starts serving: migrate, load the demo
knowledge base and orders (first start only), the agents group and a first admin. The last line
of its output says how to log in. A separate process, so the supervisor of `make run` never holds
the embedding model it loads."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from resolver.bootstrap import ensure_admin, ensure_agents_group


class Command(BaseCommand):
    help = "Migrate, load the demo KB and orders once, and make the first admin login."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stderr.write("Migrating the database...")
        call_command("migrate", interactive=False, verbosity=0)
        self.stderr.write("Loading the demo knowledge base (first start only)...")
        call_command("load_demo_kb")
        call_command("load_demo_orders")
        ensure_agents_group()
        self.stdout.write(f"Log in as {ensure_admin(settings.RESOLVER_DATA_DIR)}")
