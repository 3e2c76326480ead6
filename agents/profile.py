"""The business profile as drafts see it: plain values, read once per run (from a per-process
copy while the row is unchanged: agents/fingerprinted.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from agents.fingerprinted import Fingerprinted


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
    return Profile(profile.values(), dict(profile.labels or {}))


def _profile_fingerprint() -> str:
    from support.models import BusinessProfile

    return f"SELECT md5(p::text) FROM {BusinessProfile._meta.db_table} p WHERE p.id = 1"


# Read once per process and again after an edit (agents/fingerprinted.py).
_PROFILE = Fingerprinted(_profile_fingerprint, _stored_profile)


def load_profile(customer_name: str = "") -> Profile:
    profile = _PROFILE.get()
    return replace(profile, customer_name=customer_name) if customer_name else profile
