"""What the learning loop observes: a customer question and the answer a human gave to it, read
from a draft an agent sent or rewrote, or from an agent's own message where no usable draft was."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from knowledge.embeddings import embed_query
from support.models import Draft, DraftStatus, Message, MessageRole

# An approval whose edit changed more than this share of the draft's words is a human answer.
LARGE_EDIT_SHARE = 0.5


@dataclass(frozen=True)
class Observation:
    """A customer question and the answer a human gave to it."""

    question: str
    answer: str
    conversation_id: str
    draft_id: str | None
    intent: str = ""
    category: str = ""

    @property
    def source(self) -> dict[str, Any]:
        return {"conversation_id": self.conversation_id, "draft_id": self.draft_id}


def cosine(a: str, b: str) -> float:
    return float(np.dot(embed_query(a), embed_query(b)))  # the vectors are normalised


def rewritten(draft: Draft) -> bool:
    """The agent changed most of the draft before sending it."""
    words = max(1, len(draft.answer.split()))
    return (draft.edit_distance or 0) > LARGE_EDIT_SHARE * words


def cited_articles(draft: Draft) -> list[int]:
    """The KB articles the draft cites, in citation order."""
    ids = [c.get("kb_id") for c in draft.citations or [] if isinstance(c, dict)]
    return list(dict.fromkeys(i for i in ids if isinstance(i, int)))


def observation_from_draft(draft: Draft) -> Observation | None:
    """A sent draft is a human answer when the AI had escalated it or the agent rewrote most of
    it."""
    if draft.status != DraftStatus.SENT or draft.automated or not draft.sent_text.strip():
        return None
    if not (draft.escalation_reason or rewritten(draft)):
        return None
    return Observation(
        question=draft.message.body,
        answer=draft.sent_text,
        conversation_id=str(draft.conversation_id),
        draft_id=str(draft.pk),
        intent=draft.intent,
        category=draft.category,
    )


def answered_question(reply: Message) -> tuple[Message, Draft | None] | None:
    """The customer's latest message before the agent's `reply`, and its latest draft."""
    question = (
        Message.objects.filter(
            conversation_id=reply.conversation_id,
            role=MessageRole.CUSTOMER,
            created_at__lte=reply.created_at,
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if question is None:
        return None
    return question, question.drafts.order_by("-created_at", "-id").first()


def observation_from_reply(reply: Message) -> Observation | None:
    """An agent's own message answers the customer's latest question when that question got no
    usable draft (escalated or rejected)."""
    found = answered_question(reply)
    if found is None:
        return None
    question, draft = found
    if draft is not None and draft.status not in {DraftStatus.ESCALATED, DraftStatus.REJECTED}:
        return None
    return Observation(
        question=question.body,
        answer=reply.body,
        conversation_id=str(reply.conversation_id),
        draft_id=str(draft.pk) if draft else None,
        intent=draft.intent if draft else "",
        category=draft.category if draft else "",
    )
