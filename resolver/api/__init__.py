"""The HTTP API (django-ninja) under /api/v1: routers live in their apps; this module wires
them with the error handlers. Built by `build_api()` when urls.py is imported."""

from __future__ import annotations

from ninja import NinjaAPI

from resolver.api.errors import install_handlers
from resolver.api.parser import ObjectParser


def build_api() -> NinjaAPI:
    from evals.api import router as evals_router
    from knowledge.api import router as knowledge_router
    from resolver.models.apikey import Scope
    from support.api.attachments import router as attachments_router
    from support.api.autonomy import router as autonomy_router
    from support.api.catalogue import router as catalogue_router
    from support.api.conversations import router as conversations_router
    from support.api.customers import router as customers_router
    from support.api.drafts import router as drafts_router
    from support.api.inbound_email import router as inbound_email_router
    from support.api.messages import router as messages_router
    from support.api.orders import router as orders_router
    from support.api.proposals import router as proposals_router
    from support.api.stats import router as stats_router
    from support.api.tasks import router as tasks_router
    from support.api.widget import router as widget_router
    from support.api.widget_help import router as widget_help_router

    api = NinjaAPI(
        title="Resolver API",
        version="1",
        description="Customer messages in, grounded drafts out, human review. "
        f"Auth: `Authorization: Bearer <api key>` (scopes {', '.join(Scope.values)}) or the "
        "console session; the widget endpoints take a public widget key (`X-Widget-Key`) or a "
        "conversation token. Errors: `{detail, code}`.",
        urls_namespace="api-v1",
        parser=ObjectParser(),
    )
    install_handlers(api)

    for router in (
        messages_router,
        conversations_router,
        drafts_router,
        knowledge_router,
        stats_router,
        evals_router,
        proposals_router,
        customers_router,
        widget_router,
        widget_help_router,
        inbound_email_router,
        attachments_router,
        catalogue_router,
        orders_router,
        tasks_router,
        autonomy_router,
    ):
        api.add_router("", router)
    return api
