"""WebSocket consumers. The console socket is session-authenticated and joins one group; what it
relays depends on the page (support/console/live.py)."""

from __future__ import annotations

import time
import uuid
from importlib import import_module
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.contrib.auth import get_user
from django.http import HttpRequest

from resolver.bootstrap import may_use_console
from support.console.live import LiveView, live_view_for

CONSOLE_GROUP = "console"
RECHECK_SECONDS = 60.0
# An agent typing tells the customer's widget at most this often.
TYPING_EVERY_SECONDS = 2.0
# Close codes in the 4000 range are ours; 4401/4403 mirror HTTP 401/403.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# A frame a listen-only socket does not take (RFC 6455's "policy violation").
CLOSE_UNEXPECTED_FRAME = 1008


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    """Refusals are close codes after accepting (a refused handshake reaches a browser as 1006,
    which htmx retries forever): 4401 not logged in, 4403 not an agent. Access is checked again
    every RECHECK_SECONDS, so a deactivated or demoted agent, or one whose session ended (logged
    out, expired, password changed), stops receiving."""

    view: LiveView | None = None
    checked_at = 0.0

    async def connect(self) -> None:
        if code := await self._refusal():
            await self.accept()
            await self.close(code=code)
            return
        # A view's filter may read the database (the intent filter's choices): not on the loop.
        self.view = await database_sync_to_async(live_view_for)(self.scope.get("query_string", b""))
        # In the group before the handshake completes: no event falls between the two.
        await self.channel_layer.group_add(CONSOLE_GROUP, self.channel_name)
        await self.accept()
        if self.view is not None:
            # Joined before the snapshot is read, so no change falls between the two.
            await self._send_html(await database_sync_to_async(self.view.snapshot)())

    async def _refusal(self) -> int:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return CLOSE_UNAUTHENTICATED
        session = self.scope.get("session")
        session_key = getattr(session, "session_key", None)
        if not await database_sync_to_async(_signed_in)(user.pk, session_key):
            return CLOSE_UNAUTHENTICATED
        if not await database_sync_to_async(_still_allowed)(user.pk):
            return CLOSE_FORBIDDEN
        self.checked_at = time.monotonic()
        return 0

    async def _closed_on_recheck(self) -> bool:
        """Every RECHECK_SECONDS, the socket is closed if it would be refused now."""
        if time.monotonic() - self.checked_at <= RECHECK_SECONDS:
            return False
        if code := await self._refusal():
            await self.close(code=code)
            return True
        return False

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(CONSOLE_GROUP, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """{"type": "typing", "conversation_id": ...} from an agent editing a draft: the
        customer's widget shows a typing indicator."""
        if not isinstance(content, dict) or content.get("type") != "typing":
            return
        if await self._closed_on_recheck():
            return
        try:
            conversation_id = uuid.UUID(str(content.get("conversation_id")))
        except ValueError:
            return
        now = time.monotonic()
        # Never typed is minus infinity: the monotonic clock counts from boot.
        if now - getattr(self, "_typed_at", float("-inf")) < TYPING_EVERY_SECONDS:
            return
        self._typed_at = now
        event = {"type": "widget.event", "payload": {"type": "typing"}}
        await self.channel_layer.group_send(widget_group(conversation_id), event)

    async def console_event(self, event: dict[str, Any]) -> None:
        """Relays a published event ({"type": "console.event", "payload": {...}}): as HTML for a
        console page, as JSON for a plain subscriber."""
        if await self._closed_on_recheck():
            return
        payload = event["payload"]
        if self.view is None:
            await self.send_json(payload)
            return
        await self._send_html(await database_sync_to_async(self.view.update)(payload))

    async def _send_html(self, fragments: list[str]) -> None:
        for html in fragments:
            await self.send(text_data=html)


def _signed_in(user_id: Any, session_key: str | None) -> bool:
    """The socket's session still signs this user in, read afresh from the session store: a
    logout, an expired session or a password change (the session's auth hash) ends it, as it
    ends the agent's pages."""
    if not session_key:
        return False
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = get_user(cast(HttpRequest, SimpleNamespace(session=store)))
    return bool(user.is_authenticated and user.pk == user_id)


def _still_allowed(user_id: Any) -> bool:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first()
    return user is not None and may_use_console(user)


def widget_group(conversation_id: Any) -> str:
    return f"widget.{conversation_id}"


class WidgetConsumer(AsyncJsonWebsocketConsumer):
    """/ws/widget/{conversation_id}/?token=…: agent replies and typing, pushed to one customer.
    Refusals are sent as close codes after accepting, so the widget can tell an expired token
    (4401: refresh it) from a wrong conversation or origin (4403: stop). The token and its key
    are checked again every RECHECK_SECONDS, as the console's access is: a socket outliving its
    token, or a widget key turned off, stops receiving."""

    checked_at = 0.0

    async def connect(self) -> None:
        code = await database_sync_to_async(self._refusal)()
        self.checked_at = time.monotonic()
        if not code:
            await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        if code:
            await self.close(code=code)

    def _refusal(self) -> int:
        from support.widget import tokens
        from support.widget.access import allowed_socket

        conversation_id = self.scope["url_route"]["kwargs"]["conversation_id"]
        self.group = widget_group(conversation_id)
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            grant = tokens.read((query.get("token") or [""])[0])
        except tokens.InvalidToken:
            return CLOSE_UNAUTHENTICATED
        if grant.conversation_id != conversation_id or not allowed_socket(grant, self._origin()):
            return CLOSE_FORBIDDEN
        return 0

    def _origin(self) -> str | None:
        for name, value in self.scope.get("headers", []):
            if name == b"origin":
                return str(value.decode("latin-1"))
        return None

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The widget only listens (static/widget.js sends nothing on its socket): a frame from
        the page is closed on, unparsed, so nobody streams large frames at a public socket."""
        await self.close(code=CLOSE_UNEXPECTED_FRAME)

    async def widget_event(self, event: dict[str, Any]) -> None:
        if time.monotonic() - self.checked_at > RECHECK_SECONDS:
            if code := await database_sync_to_async(self._refusal)():
                await self.close(code=code)
                return
            self.checked_at = time.monotonic()
        await self.send_json(event["payload"])
