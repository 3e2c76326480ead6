"""What /ws/console/ sends an open console page: HTML fragments that htmx's ws extension swaps in
by id (hx-swap-oob), rendered from the same partials as the full page.

A page says what it shows in the socket's query string (`view=queue` plus the queue filters, or
`conversation=<id>`). On connect, and so on every reconnect, it gets a snapshot of what it shows
(a page that missed events while disconnected is whole again); then one fragment per event that
concerns it. A socket without either parameter gets the raw JSON events."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from django.http import QueryDict
from django.template.loader import render_to_string

from resolver.events import EventType
from support.console.filters import QueueFilter
from support.console.screens import ConversationScreen, QueueScreen
from support.models import Conversation


class LiveView(Protocol):
    def snapshot(self) -> list[str]: ...

    def update(self, event: dict[str, Any]) -> list[str]: ...


class QueueLive:
    """The queue is pushed whole (its first QUEUE_PAGE_SIZE rows) on every draft event: order
    and filters stay the server's, and a <tbody> is the one table fragment that parses alone
    (a pushed <tr> next to other elements would be dropped by the HTML parser)."""

    def __init__(self, filters: QueueFilter) -> None:
        self.filters = filters

    def snapshot(self) -> list[str]:
        context = {**QueueScreen.load(self.filters).context(), "oob": True}
        return [
            render_to_string("console/_queue_rows.html", context),
            render_to_string("console/_queue_summary.html", context),
        ]

    def update(self, event: dict[str, Any]) -> list[str]:
        # A reply's delivery changes nothing the queue shows.
        if event.get("type") == EventType.REPLY_DELIVERY:
            return []
        return self.snapshot() if event.get("message_id") else []


class ConversationLive:
    def __init__(self, conversation_id: uuid.UUID) -> None:
        self.conversation_id = conversation_id

    def snapshot(self) -> list[str]:
        try:
            screen = ConversationScreen.load(self.conversation_id)
        except Conversation.DoesNotExist:
            return []
        context = {**screen.context(), "oob": True}
        return [render_to_string("console/_conversation_live.html", context)]

    def update(self, event: dict[str, Any]) -> list[str]:
        if str(event.get("conversation_id")) != str(self.conversation_id):
            return []
        return self.snapshot()


def live_view_for(query_string: bytes) -> LiveView | None:
    query = QueryDict(query_string)
    if query.get("view") == "queue":
        return QueueLive(QueueFilter.from_query(query))
    try:
        return ConversationLive(uuid.UUID(query.get("conversation") or ""))
    except ValueError:
        return None
