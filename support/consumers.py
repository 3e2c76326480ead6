"""WebSocket consumers. The console socket is session-authenticated and joins one group; what it
relays depends on the page (support/console/live.py)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from support.console.access import may_use_console
from support.console.live import LiveView, live_view_for

CONSOLE_GROUP = "console"
# Close codes in the 4000 range are ours; 4401/4403 mirror HTTP 401/403.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    view: LiveView | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not await database_sync_to_async(may_use_console)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.view = live_view_for(self.scope.get("query_string", b""))
        await self.channel_layer.group_add(CONSOLE_GROUP, self.channel_name)
        await self.accept()
        if self.view is not None:
            # Joined before the snapshot is read, so no change falls between the two.
            await self._send_html(await database_sync_to_async(self.view.snapshot)())

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(CONSOLE_GROUP, self.channel_name)

    async def console_event(self, event: dict[str, Any]) -> None:
        """Relays a published event ({"type": "console.event", "payload": {...}}): as HTML for a
        console page, as JSON for a plain subscriber."""
        payload = event["payload"]
        if self.view is None:
            await self.send_json(payload)
            return
        await self._send_html(await database_sync_to_async(self.view.update)(payload))

    async def _send_html(self, fragments: list[str]) -> None:
        for html in fragments:
            await self.send(text_data=html)
