"""CORS for the widget API: the widget runs on customers' websites and calls us cross-origin.

Preflights carry no widget key, so they pass for an origin that some active key allows; the
request itself is then checked against its own key (support/widget/access.py)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from resolver.api.errors import error_body
from resolver.api.middleware import WIDGET_PREFIX
from resolver.ttl_cache import TtlCache
from support.models import WidgetKey

ALLOWED_HEADERS = "Authorization, Content-Type, Idempotency-Key, X-Widget-Key"
ALLOWED_METHODS = "GET, POST, OPTIONS"
PREFLIGHT_MAX_AGE = "600"
# Origins answered from memory for this long: a CORS check per request would be a query each.
CACHE_SECONDS = 30.0
_known: TtlCache[bool] = TtlCache()


def origin_allowed(origin: str) -> bool:
    return _known.get_or_compute(
        origin, CACHE_SECONDS, lambda: WidgetKey.objects.any_allows(origin)
    )


def _with_cors(response: HttpResponse, origin: str) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = origin
    response["Access-Control-Expose-Headers"] = "Retry-After"
    response["Vary"] = "Origin"
    return response


class WidgetCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(WIDGET_PREFIX):
            return self.get_response(request)
        origin = request.headers.get("Origin")
        allowed = bool(origin) and origin_allowed(origin or "")
        if request.method == "OPTIONS":
            return self._preflight(origin or "", allowed)
        response = self.get_response(request)
        return _with_cors(response, origin or "") if allowed else response

    def _preflight(self, origin: str, allowed: bool) -> HttpResponse:
        if not allowed:
            detail = f"the origin {origin or '(none)'} may not use the widget"
            return JsonResponse(error_body(403, detail, "origin_not_allowed"), status=403)
        response = _with_cors(HttpResponse(status=204), origin)
        response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
        return response
