"""`fetch_email` polls the IMAP mailbox (IMAP_HOST, ...) every IMAP_POLL_SECONDS until stopped;
`fetch_email --once` polls once, until it has caught up (support/email/imap.py). The workers'
`poll_mailbox` actor does the same on its own: run this instead of them or beside them (a Redis
lock keeps one poller per mailbox)."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from resolver.api.errors import UNAVAILABLE
from support.email import imap


class Command(BaseCommand):
    help = "Fetch new e-mail from the IMAP mailbox and hand it to the receive path."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="poll once, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.IMAP_HOST:
            raise CommandError("IMAP_HOST is not set: there is no mailbox to fetch from")
        if options["once"]:
            result = self._catch_up()
            if result.error:
                raise CommandError(str(result))
            return
        while True:
            try:
                self._catch_up()
            except UNAVAILABLE as exc:
                # PostgreSQL or Redis away: nothing was stored past the cursor; try again later.
                self.stderr.write(f"fetch_email: {type(exc).__name__}: {exc}")
            time.sleep(settings.IMAP_POLL_SECONDS)

    def _catch_up(self) -> imap.PollResult:
        """Polls until nothing is left over (a poll stops after its time budget)."""
        box = imap.Mailbox.from_settings()
        while True:
            result = imap.poll(box)
            self.stdout.write(f"{box.label}: {result}")
            if not result.more:
                return result
