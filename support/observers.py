"""The learning loop's actors (support/actors.py), sent by name after commit: what humans and
customers did is looked at in the background, never in the request."""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from django.db import transaction

from resolver.broker import send_to_actor

logger = logging.getLogger(__name__)

LEARNING_QUEUE = "learning"
OBSERVE_DRAFT_ACTOR = "observe_sent_draft"  # the name predates rejections being observed too
OBSERVE_REPLY_ACTOR = "observe_agent_reply"
OBSERVE_RELABEL_ACTOR = "observe_relabel"
REWEIGH_ACTOR = "reweigh_proposals"
# An intent's autonomy rung re-weighed after a human review of one of its drafts (#29).
UPDATE_AUTONOMY_ACTOR = "update_autonomy"


def queue_observation(actor_name: str, object_id: str) -> None:
    """Queues the learning loop's look at what a human did (called after commit)."""
    try:
        send_to_actor(actor_name, LEARNING_QUEUE, object_id)
    except Exception:
        # Learning is best effort: the answer was sent; a lost observation costs one source.
        logger.warning("could not queue %s for %s", actor_name, object_id, exc_info=True)


def learn_later(actor_name: str, object_id: Any) -> None:
    transaction.on_commit(partial(queue_observation, actor_name, str(object_id)))
