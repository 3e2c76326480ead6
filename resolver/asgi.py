"""ASGI entry point: Django for HTTP, Channels for WebSockets (see resolver/routing.py)."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "resolver.settings")
os.environ.setdefault("OTEL_SERVICE_NAME", "resolver-web")
# Django must be set up before the routing imports consumers (and through them, models).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from resolver.body_limits import BodyLimitedApp  # noqa: E402
from resolver.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        # Django reads a whole body before its middleware runs: the limits are held here.
        "http": BodyLimitedApp(django_asgi_app),
        "websocket": URLRouter(websocket_urlpatterns),
    }
)
