"""Who did something: the principal of an API call or console action, the agent or the customer,
as the audit trail and idempotency records name it. `Actor.record()` writes the audit row."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from support.models import ActorType, ApiKey, AuditLog, Scope

ALL_SCOPES = frozenset(Scope.values)


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
    def customer(cls) -> Actor:
        return cls(ActorType.CUSTOMER, "customer")

    @classmethod
    def for_user(cls, user: Any) -> Actor:
        return cls(ActorType.USER, f"user:{user.get_username()}", user=user)

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

    def record(
        self,
        action: str,
        *,
        conversation_id: Any,
        draft_id: Any = None,
        message_id: Any = None,
        before: Any = None,
        after: Any = None,
        **metadata: Any,
    ) -> AuditLog:
        """One audit row naming this actor; call it inside the transaction of the change."""
        return AuditLog.objects.create(
            actor_type=self.actor_type,
            actor=self.label,
            user=self.user,
            action=action,
            conversation_id=conversation_id,
            draft_id=draft_id,
            message_id=message_id,
            before=before,
            after=after,
            metadata=metadata,
        )
