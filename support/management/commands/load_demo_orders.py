"""Loads the demo customers and orders once (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from support.demo import load_demo_orders


class Command(BaseCommand):
    help = "Create the demo customers and orders that are missing."

    def handle(self, *args: Any, **options: Any) -> None:
        created = load_demo_orders()
        self.stdout.write(f"demo orders: {created} created")
