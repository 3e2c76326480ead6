from __future__ import annotations

from django.apps import AppConfig


class ResolverConfig(AppConfig):
    name = "resolver"
    verbose_name = "Resolver"

    def ready(self) -> None:
        # Actors bind to the global broker when their modules are imported, so it is set here,
        # before any app imports an actor. Creating the broker opens no connection.
        from resolver import broker, tracing

        broker.setup()
        # Before the first request builds the middleware chain (Django's instrumentation adds
        # its own) and before any connection opens (psycopg and Redis are instrumented).
        tracing.configure("resolver")
