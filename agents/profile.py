"""The business profile as drafts see it: plain values, read once per run."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Profile:
    values: dict[str, str]  # company_name, website_url, support_phone, support_email, ...
    labels: dict[str, str] = field(default_factory=dict)  # placeholder name -> UI label
    customer_name: str = ""

    def texts(self) -> list[str]:
        """What a draft may state from the profile (the guard counts these as sources)."""
        return [*self.values.values(), *self.labels.values(), self.customer_name]


def load_profile(customer_name: str = "") -> Profile:
    from support.models import BusinessProfile

    profile = BusinessProfile.load()
    return Profile(profile.values(), dict(profile.labels or {}), customer_name)
