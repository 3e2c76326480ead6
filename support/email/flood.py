"""A sender flooding the support mailbox (a script, an auto-responder war, a spammer) is limited
like API callers are (Redis counters in fixed windows, resolver/api/middleware.py): beyond
INBOUND_EMAIL_RATE_LIMIT_PER_HOUR an e-mail is still stored, but not drafted."""

from __future__ import annotations

import hashlib

from django.conf import settings

from resolver.api.middleware import over_limit

WINDOW_SECONDS = 3600


def bucket(address: str) -> str:
    # The address hashed: Redis keys carry no personal data.
    return f"email-from:{hashlib.sha256(address.encode()).hexdigest()[:24]}"


def flooded(address: str) -> bool:
    """Counts one e-mail from `address`; True when it is over the hourly limit. Redis down: no
    limit (over_limit's choice for the API too)."""
    limit = settings.INBOUND_EMAIL_RATE_LIMIT_PER_HOUR
    if not limit or not address:
        return False
    return over_limit([(bucket(address), limit)], window_seconds=WINDOW_SECONDS) > 0
