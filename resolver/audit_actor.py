"""The audit actor: who did something. The principal of an API call or console action (with the
scopes it holds), the AI agent, the customer or the system, as audit rows and idempotency records
name it. The audit row itself is support's: `AuditLog.objects.record(actor, action, ...)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import models

from resolver.models import ApiKey, Scope

ALL_SCOPES = frozenset(Scope.values)
# A console user holds every scope but privacy (exporting and erasing a customer's data), which
# only superusers hold.
CONSOLE_SCOPES = ALL_SCOPES - {Scope.PRIVACY.value}


class ActorType(models.TextChoices):
    USER = "USER", "User"
    API_KEY = "API_KEY", "API key"
    AGENT = "AGENT", "AI agent"
    CUSTOMER = "CUSTOMER", "Customer"
    SYSTEM = "SYSTEM", "System"


@dataclass(frozen=True)
class Actor:
    actor_type: str
    label: str  # "user:alice", "key:crm", "agent:graph"
    user: Any = None  # the Django user, for USER actors
    api_key: ApiKey | None = None
    scopes: frozenset[str] = field(default=ALL_SCOPES)

    @classmethod
    def agent(cls) -> Actor:
        """The LangGraph agent (worker or `draft --persist`)."""
        return cls(ActorType.AGENT, "agent:graph")

    @classmethod
    def auto_send(cls) -> Actor:
        """The per-intent auto-send policy, sending a draft without a human."""
        return cls(ActorType.SYSTEM, "system:auto-send")

    @classmethod
    def system(cls, job: str) -> Actor:
        """A periodic job of the platform (retention, housekeeping)."""
        return cls(ActorType.SYSTEM, f"system:{job}")

    @classmethod
    def customer(cls) -> Actor:
        return cls(ActorType.CUSTOMER, "customer")

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        scopes = ALL_SCOPES if user.is_superuser else CONSOLE_SCOPES
        return cls(ActorType.USER, f"user:{user.get_username()}", user=user, scopes=scopes)

    @classmethod
    def for_key(cls, key: ApiKey) -> Actor:
        return cls(ActorType.API_KEY, key.actor, api_key=key, scopes=frozenset(key.scopes))

    @property
    def owner(self) -> str:
        """A stable id of the caller (idempotency keys are scoped to it)."""
        if self.api_key is not None:
            return f"key:{self.api_key.pk}"
        if self.user is not None:
            return f"user:{self.user.pk}"
        return self.label

    def allows(self, scope: str) -> bool:
        return scope in self.scopes
