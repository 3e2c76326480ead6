"""The platform's tables, used by every app: API keys and their scopes, idempotency records of
API requests, and the event pipeline's bookkeeping (processed events, dead letters)."""

from resolver.models.apikey import ApiKey, Scope
from resolver.models.events import DeadLetter, ProcessedEvent
from resolver.models.idempotency import IdempotencyRecord

__all__ = ["ApiKey", "DeadLetter", "IdempotencyRecord", "ProcessedEvent", "Scope"]
