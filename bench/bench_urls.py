"""The product's URLs plus /bench/noop: a django-ninja endpoint that parses the same body and
does nothing else (no auth, no database, no queue)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import path
from ninja import NinjaAPI

from resolver.urls import urlpatterns as product_urls
from support.api.schemas import MessageIn

noop_api = NinjaAPI(urls_namespace="bench", docs_url=None, openapi_url=None)


@noop_api.post("/noop")
def noop(request: HttpRequest, payload: MessageIn) -> dict[str, Any]:
    return {"ok": True}


urlpatterns = [*product_urls, path("bench/", noop_api.urls)]
