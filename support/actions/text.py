"""The reply follows what really happened: the draft states each proposed action as done in its
`confirmation` sentence ("I've cancelled order NW-10001."); when the action was rejected or
failed, the text sent says its `fallback` instead. Pure: review.py applies it when it sends."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from support.vocabulary import ActionStatus

DID_NOT_HAPPEN = frozenset({ActionStatus.REJECTED, ActionStatus.FAILED})
# A draft waits for these: it cannot be sent while one of its actions may still change things.
UNDECIDED = (ActionStatus.PROPOSED, ActionStatus.APPROVED)


class Stated(Protocol):
    status: str
    confirmation: str
    fallback: str


def settle(text: str, actions: Iterable[Stated]) -> str:
    """`text` with each confirmation of an action that did not happen replaced by its
    fallback (an agent who rewrote the sentence keeps their own words)."""
    for action in actions:
        if action.status in DID_NOT_HAPPEN and action.confirmation.strip():
            text = text.replace(action.confirmation.strip(), action.fallback.strip())
    return text
