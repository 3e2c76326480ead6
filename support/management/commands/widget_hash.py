"""`widget_hash REF` prints the widget's `data-customer-hash` for a customer ref: hex HMAC-SHA256
of the ref under WIDGET_IDENTITY_SECRET (support/widget/identity.py), for an integrator to check
their own server's computation against. Their server computes it per page; this is not a way to
mint hashes for pages."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from support.widget.identity import customer_hash


class Command(BaseCommand):
    help = "Print the widget identity hash (data-customer-hash) of a customer ref."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ref", help="the customer ref the host page puts in data-customer-ref")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.WIDGET_IDENTITY_SECRET:
            raise CommandError("WIDGET_IDENTITY_SECRET is not set: no widget visitor is verified")
        self.stdout.write(customer_hash(options["ref"]))
