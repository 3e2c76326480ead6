"""`create_api_key NAME --scopes ingest,read,act`: prints the new key as the last stdout line."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from resolver.models import ApiKey
from resolver.models.apikey import parse_scopes


class Command(BaseCommand):
    help = "Create an API key. The key is printed once and stored only as a hash."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="who uses it, e.g. 'crm' or 'email-gateway'")
        parser.add_argument(
            "--scopes", required=True, help="comma-separated: ingest,read,act,privacy"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > 100:
            raise CommandError("NAME must be 1-100 characters", returncode=2)
        try:
            scopes = parse_scopes(options["scopes"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=2) from None
        key, raw = ApiKey.issue(name, scopes)
        self.stderr.write(f"API key '{key.name}' ({', '.join(scopes)}); copy it now:")
        self.stdout.write(raw)
