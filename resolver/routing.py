"""WebSocket routes. The console socket is session-authenticated and only for this site's own
pages (Origin in ALLOWED_HOSTS); the widget socket is token-authenticated and checks the Origin
against its widget key, since it runs on customers' websites."""

from __future__ import annotations

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from support.consumers import ConsoleConsumer, WidgetConsumer

websocket_urlpatterns = [
    path(
        "ws/console/",
        AllowedHostsOriginValidator(AuthMiddlewareStack(ConsoleConsumer.as_asgi())),
    ),
    path("ws/widget/<uuid:conversation_id>/", WidgetConsumer.as_asgi()),
]
