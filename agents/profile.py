"""The business profile as drafts see it: plain values, read once per run (from a per-process
copy while the row is unchanged: agents/fingerprinted.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from agents.fingerprinted import Fingerprinted

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Profile:
    values: dict[str, str]  # company_name, website_url, support_phone, support_email, ...
    labels: dict[str, str] = field(default_factory=dict)  # placeholder name -> UI label
    customer_name: str = ""

    def texts(self) -> list[str]:
        """What a draft may state from the profile (the guard counts these as sources)."""
        return [*self.values.values(), *self.labels.values(), self.customer_name]


def _stored_profile() -> Profile:
    from support.models import BusinessProfile

    profile = BusinessProfile.load()
    return Profile(profile.values(), _usable_labels(profile.labels))


def _usable_labels(stored: Any) -> dict[str, str]:
    """The stored labels' string -> string entries. Admin's form accepts nothing else
    (support/admin_forms.py), but a row saved before it (or by hand) may hold a list or a
    number: what cannot be a label is skipped, with a warning, and drafting goes on."""
    if not stored:
        return {}
    if not isinstance(stored, dict):
        logger.warning(
            "business profile labels ignored: a JSON object was expected, not %s",
            type(stored).__name__,
        )
        return {}
    labels = {}
    for name, label in stored.items():
        if isinstance(name, str) and isinstance(label, str):
            labels[name] = label
        else:
            logger.warning(
                "business profile label %r ignored: its value is %s, not text",
                name,
                type(label).__name__,
            )
    return labels


def _profile_fingerprint() -> str:
    from support.models import BusinessProfile

    return f"SELECT md5(p::text) FROM {BusinessProfile._meta.db_table} p WHERE p.id = 1"


# Read once per process and again after an edit (agents/fingerprinted.py).
_PROFILE = Fingerprinted(_profile_fingerprint, _stored_profile)


def load_profile(customer_name: str = "") -> Profile:
    profile = _PROFILE.get()
    return replace(profile, customer_name=customer_name) if customer_name else profile
