"""The widget channel's transport: the reply pushed to the customer's open chat widget over its
socket after commit (support/announce.py:announce_reply). A widget that was closed loads the
conversation when it opens again, so nothing is queued or retried: a widget reply has no
delivery row."""

from __future__ import annotations

from support.announce import announce_reply
from support.models import Conversation, Message, ReplyDelivery


def queue(message: Message, conversation: Conversation) -> ReplyDelivery | None:
    announce_reply(message)
    return None
