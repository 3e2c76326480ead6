"""Widget identity verification. The host page's server, which knows who is logged in, prints
`data-customer-ref` and `data-customer-hash` = hex HMAC-SHA256 of the ref under
WIDGET_IDENTITY_SECRET (a secret it shares with Resolver and never sends to a browser). A ref
with its valid hash is that customer; a ref without one is a claim anyone can type, and stays
anonymous (support/api/widget.py). An empty WIDGET_IDENTITY_SECRET verifies nobody."""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def customer_hash(ref: str, secret: str | None = None) -> str:
    """The hash the host page sends with `ref` (what an integrator's server computes)."""
    key = settings.WIDGET_IDENTITY_SECRET if secret is None else secret
    return hmac.new(key.encode(), ref.encode(), hashlib.sha256).hexdigest()


def check_customer_hash(ref: str, hash: str | None) -> bool:
    """Whether `hash` is the ref's HMAC under WIDGET_IDENTITY_SECRET, compared in constant time
    (hex in either case). False without a secret, a ref or a hash."""
    if not settings.WIDGET_IDENTITY_SECRET or not ref or not hash:
        return False
    given = hash.strip().lower()
    return hmac.compare_digest(customer_hash(ref).encode(), given.encode("ascii", "replace"))
