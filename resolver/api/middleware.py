"""Limits checked before an API request reaches a view: body size (413) and a per-caller rate
limit (429), both answered in the API's JSON error shape."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

from resolver.api.errors import error_body
from resolver.redis_client import get_redis

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"
WINDOW_SECONDS = 60
RATE_KEY = "resolver:ratelimit:"


def caller_identity(request: HttpRequest) -> str:
    """The API key (hashed, so no DB lookup) when one is presented, else the client address."""
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        return "key:" + hashlib.sha256(auth[7:].strip().encode()).hexdigest()[:24]
    return "ip:" + (request.META.get("REMOTE_ADDR") or "unknown")


def over_limit(identity: str, limit: int) -> int:
    """Seconds until the caller may retry, 0 when under the limit (fixed one-minute windows)."""
    now = time.time()
    window = int(now // WINDOW_SECONDS)
    key = f"{RATE_KEY}{identity}:{window}"
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, WINDOW_SECONDS + 1)
        count = pipe.execute()[0]
    except Exception:
        # A Redis outage must not take the API down with it; /healthz reports Redis.
        logger.warning("rate limiter unavailable", exc_info=True)
        return 0
    if count <= limit:
        return 0
    return max(1, int((window + 1) * WINDOW_SECONDS - now))


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ApiLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if _content_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            detail = f"the request body is over the {limit} byte limit"
            return JsonResponse(error_body(413, detail), status=413)
        limit = settings.API_RATE_LIMIT_PER_MINUTE
        if limit and (retry_after := over_limit(caller_identity(request), limit)):
            detail = f"rate limit of {limit} requests per minute exceeded"
            response = JsonResponse(error_body(429, detail), status=429)
            response["Retry-After"] = str(retry_after)
            return response
        return self.get_response(request)
