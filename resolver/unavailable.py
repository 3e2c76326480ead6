"""A request that finds PostgreSQL or Redis down is answered 503 with Retry-After (JSON under
/api/, a short page elsewhere), never a 500: the outage is not the client's fault and not a bug,
and the process serves again as soon as the dependency is back (the API's own handler:
resolver/api/errors.py)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults

from resolver.api.errors import RETRY_AFTER_SECONDS, is_unavailable, unavailable_body

logger = logging.getLogger(__name__)


class DependencyUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exc: Exception) -> HttpResponse | None:
        return unavailable(request, exc) if is_unavailable(exc) else None


def unavailable(request: HttpRequest, exc: BaseException) -> HttpResponse:
    logger.warning("dependency unavailable on %s %s: %s", request.method, request.path, exc)
    response: HttpResponse
    if request.path.startswith("/api/"):
        response = JsonResponse(unavailable_body(), status=503)
    else:
        text = "Resolver is briefly unavailable (a service it needs is restarting). Retry."
        response = HttpResponse(text, status=503, content_type="text/plain; charset=utf-8")
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500: what escaped every view and middleware. Django calls it inside its except
    block, so the exception is at hand: an outage raised outside a view (a session saved after
    the response was built) is a 503 too."""
    exc = sys.exc_info()[1]
    if exc is not None and is_unavailable(exc):
        return unavailable(request, exc)
    return defaults.server_error(request)
