"""A verified customer's memory: what a draft may know of the same customer's earlier
conversations, on any channel. Read by the agent's one state builder
(agents/state_builder.py:state_for_message) for a message whose own sender is verified, never
for a claim; erased and anonymised conversations never come back through it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from support.models import Message


@dataclass(frozen=True)
class EarlierConversation:
    """One earlier conversation as a draft sees it (the customer's own words and what we did:
    a source for specifics, never policy)."""

    id: uuid.UUID
    channel: str
    started_at: datetime
    last_message_at: datetime | None
    status: str
    intent: str
    outcome: str  # what became of it: sent, escalated (why), resolved, open
    summary: str  # written when it resolved (extractive, or the LLM provider's)
    done: tuple[str, ...] = ()  # what was promised or done (our replies' commitments)
    orders: tuple[str, ...] = ()  # order numbers it named
    subject: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def earlier_conversations(message: Message) -> list[EarlierConversation]:
    """The conversations of `message`'s customer before it, newest first (none yet: filled by
    the memory work of issue #26)."""
    return []
