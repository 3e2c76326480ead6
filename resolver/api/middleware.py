"""Limits checked before an API request reaches a view: body size (413) and a per-caller rate
limit (429), both answered in the API's JSON error shape."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.module_loading import import_string

from resolver.api.errors import error_body
from resolver.body_limits import API_PREFIX, limit_for, too_large_detail
from resolver.models.apikey import hash_key
from resolver.redis_client import get_redis

logger = logging.getLogger(__name__)

WIDGET_PREFIX = "/api/v1/widget/"
WIDGET_BUCKETS = "widget-"
WINDOW_SECONDS = 60
RATE_KEY = "resolver:ratelimit:"
# Per address, this many times the per-key limit: an attacker cycling random tokens still hits
# it, an office with several integrations behind one address does not.
IP_FACTOR = 4


def _limits(request: HttpRequest) -> tuple[str, int, int]:
    """(bucket prefix, per-credential limit, per-address limit) for this request's API."""
    if request.path.startswith(WIDGET_PREFIX):
        return (
            WIDGET_BUCKETS,
            settings.WIDGET_RATE_LIMIT_PER_MINUTE,
            settings.WIDGET_IP_RATE_LIMIT_PER_MINUTE,
        )
    limit = settings.API_RATE_LIMIT_PER_MINUTE
    return "", limit, limit * IP_FACTOR


def identities(request: HttpRequest) -> list[tuple[str, int]]:
    """(bucket, limit) pairs: the client address, and the presented key or conversation token,
    hashed, so no DB lookup happens before the limit. A limit of 0 is off."""
    prefix, per_credential, per_address = _limits(request)
    buckets = []
    if per_address:
        address = request.META.get("REMOTE_ADDR") or "unknown"
        buckets.append((f"{prefix}ip:{address}", per_address))
    auth = request.headers.get("Authorization", "")
    if per_credential and auth[:7].lower() == "bearer " and (token := auth[7:].strip()):
        buckets.append((f"{prefix}{_credential(prefix, token)}", per_credential))
    return buckets


def _credential(prefix: str, token: str) -> str:
    """The bucket of a presented credential: a widget conversation token's conversation (each
    refresh issues a new token string for it: counted by the string, a refresh every few
    messages reset the limit), else the credential's hash."""
    if prefix == WIDGET_BUCKETS and (bucket := import_string(settings.WIDGET_RATE_BUCKET)(token)):
        return str(bucket)
    return f"key:{hash_key(token)[:24]}"


def over_limit(buckets: list[tuple[str, int]], window_seconds: int = WINDOW_SECONDS) -> int:
    """Seconds until the caller may retry, 0 when under every limit (fixed windows, a minute
    unless told otherwise)."""
    now = time.time()
    window = int(now // window_seconds)
    try:
        pipe = get_redis().pipeline()
        for bucket, _ in buckets:
            key = f"{RATE_KEY}{bucket}:{window}"
            pipe.incr(key)
            pipe.expire(key, window_seconds + 1)
        counts = pipe.execute()[::2]
    except Exception:
        # A Redis outage must not take the API down with it; /healthz reports Redis.
        logger.warning("rate limiter unavailable", exc_info=True)
        return 0
    if all(count <= limit for count, (_, limit) in zip(counts, buckets, strict=True)):
        return 0
    return max(1, int((window + 1) * window_seconds - now))


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ApiLimitsMiddleware:
    """Body limits on every path (Django's own, DATA_UPLOAD_MAX_MEMORY_SIZE, is as large as the
    largest path's), rate limits on the API's."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Served by uvicorn, resolver.body_limits has held this limit while the body arrived
        # (a chunked body too); this holds it for any other handler, before Django parses it.
        limit = limit_for(request.path, request.content_type or "")
        if _content_length(request) > limit:
            return JsonResponse(error_body(413, too_large_detail(limit)), status=413)
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        buckets = [] if request.method == "OPTIONS" else identities(request)
        if buckets and (retry_after := over_limit(buckets)):
            detail = "too many requests: rate limit exceeded, retry later"
            response = JsonResponse(error_body(429, detail), status=429)
            response["Retry-After"] = str(retry_after)
            return response
        return _in_error_shape(self.get_response(request))


# Answered before any API view runs (Django's URL resolver, ninja's method dispatch), so not by
# the API's exception handlers: an HTML page, or a text/plain "Method not allowed".
_UNROUTED = {404: "no such API endpoint", 405: "method not allowed on this endpoint"}


def _in_error_shape(response: HttpResponse) -> HttpResponse:
    """A 404 or 405 under /api/ in the API's JSON error shape (`Allow` kept)."""
    detail = _UNROUTED.get(response.status_code)
    if detail is None or response.get("Content-Type", "").startswith("application/json"):
        return response
    shaped = JsonResponse(error_body(response.status_code, detail), status=response.status_code)
    # The rest of what the inner layers set (Allow, X-Frame-Options, Vary, cookies) still holds.
    for name, value in response.items():
        if name.lower() not in ("content-type", "content-length"):
            shaped[name] = value
    shaped.cookies = response.cookies
    return shaped
