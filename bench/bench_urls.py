"""The product's URLs plus two django-ninja endpoints that parse the same body as POST /messages
and do nothing else: /bench/noop (no auth, no database, no queue) and /api/bench/noop-auth
(under /api/, so the same rate limiter and API-key auth as the product run first)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI

from resolver.api.auth import scoped
from resolver.models import Scope
from resolver.urls import urlpatterns as product_urls
from support.api.schemas import MessageIn

noop_api = NinjaAPI(urls_namespace="bench", docs_url=None, openapi_url=None)
auth_api = NinjaAPI(urls_namespace="bench-auth", docs_url=None, openapi_url=None)


@noop_api.post("/noop")
def noop(request: HttpRequest, payload: MessageIn) -> dict[str, Any]:
    return {"ok": True}


@auth_api.post("/noop-auth", auth=scoped(Scope.INGEST))
def noop_auth(request: HttpRequest, payload: MessageIn) -> dict[str, Any]:
    return {"ok": True}


urlpatterns = [*product_urls, path("bench/", noop_api.urls), path("api/bench/", auth_api.urls)]
