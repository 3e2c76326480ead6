from __future__ import annotations

from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


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


class ResolverAdminConfig(AdminConfig):
    """django.contrib.admin with Resolver's site (its log-in is limited; the site's module
    imports forms and models, so it is named here and imported once the apps are ready)."""

    default_site = "resolver.admin_site.ResolverAdminSite"
