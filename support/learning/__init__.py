"""The learning loop. Observers (actors, after commit) read what humans did: a draft sent after
an escalation or rewritten, a rejection with its category, an agent's own reply, a re-label;
each becomes a proposal of a kind (answers.py, revisions.py, relabels.py, guard_rules.py) that a
human approves or dismisses (decisions.py). Customers' ratings move a proposal's rank
(sources.py)."""

from __future__ import annotations

from typing import Any

from knowledge.models import Proposal
from support.learning import answers, guard_rules, relabels, revisions
from support.learning.decisions import approve, dismiss, expire_stale
from support.learning.observations import observation_from_draft, observation_from_reply
from support.learning.sources import reweigh
from support.models import Draft, DraftStatus, Message, MessageRole

__all__ = [
    "approve",
    "dismiss",
    "expire_stale",
    "observe_draft",
    "observe_relabel",
    "observe_reply",
    "reweigh",
]


# An erased (or expired) conversation teaches nothing: its words are gone, and what an observer
# queued before the erasure would otherwise bring them back into a proposal.
_KEPT = {"conversation__anonymised_at__isnull": True}


def observe_draft(draft_id: Any) -> Proposal | None:
    """A reviewed draft: sent (a human answer, or a correction of the article it cites) or
    rejected (an article said wrong, a policy breach)."""
    draft = Draft.objects.select_related("message").filter(pk=draft_id, **_KEPT).first()
    if draft is None:
        return None
    if draft.status == DraftStatus.REJECTED:
        return revisions.observe_rejection(draft) or guard_rules.observe_policy_rejection(draft)
    if (article := revisions.corrected_article(draft)) is not None:
        return revisions.observe_rewrite(draft, article)
    observation = observation_from_draft(draft)
    return answers.observe(observation) if observation else None


def observe_reply(message_id: Any) -> Proposal | None:
    """An agent's own message: the correction of a draft rejected as wrong, or the answer to a
    question that got no usable draft."""
    reply = Message.objects.filter(pk=message_id, role=MessageRole.AGENT, **_KEPT).first()
    if reply is None:
        return None
    observation = observation_from_reply(reply)
    if observation is None:
        return None
    draft = Draft.objects.filter(pk=observation.draft_id).first() if observation.draft_id else None
    correction = revisions.observe_correction(draft, reply.body) if draft else None
    return correction or answers.observe(observation)


def observe_relabel(draft_id: Any) -> Proposal | None:
    draft = Draft.objects.select_related("message").filter(pk=draft_id, **_KEPT).first()
    return relabels.observe_relabel(draft) if draft else None
