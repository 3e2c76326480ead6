"""WebSocket consumers. The console socket is session-authenticated and joins one group."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from resolver.bootstrap import AGENTS_GROUP

CONSOLE_GROUP = "console"
# Close codes in the 4000 range are ours; 4401/4403 mirror HTTP 401/403.
CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def may_use_console(user: Any) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return bool(user.is_staff) or user.groups.filter(name=AGENTS_GROUP).exists()


class ConsoleConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        from channels.db import database_sync_to_async

        if not await database_sync_to_async(may_use_console)(user):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        await self.channel_layer.group_add(CONSOLE_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(CONSOLE_GROUP, self.channel_name)

    async def console_event(self, event: dict[str, Any]) -> None:
        """Relays a published event ({"type": "console.event", "payload": {...}}) to the browser."""
        await self.send_json(event["payload"])
