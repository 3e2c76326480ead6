"""The request id of every log line of a request (resolver/logs.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from resolver.logs import log_context

REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Every request gets an id (the caller's X-Request-ID when it sends a sane one), echoed in
    the response and put on each log line of the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = given if 0 < len(given) <= 64 and given.isprintable() else uuid.uuid4().hex
        with log_context(request_id=request_id):
            response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response
