"""Request body limits, held while the body arrives.

Django's ASGI handler reads a request's whole body (spooled to a temporary file) before any
middleware runs, so a limit checked in middleware refuses a 10 GB upload only after it has been
written to disk. `BodyLimitedApp` wraps the HTTP application instead: a declared length over the
path's limit is answered 413 before a byte is read, and a body without one (chunked) is counted
as it arrives and cut off at the limit, so chunked bodies within it are taken like any other.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from django.conf import settings

from resolver.security_headers import POLICY

API_PREFIX = "/api/"
MULTIPART = "multipart/form-data"

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def limit_for(path: str, content_type: str) -> int:
    """The largest request body `path` takes: its own (API_BODY_LIMITS), its prefix's
    (BODY_LIMIT_PREFIXES: the ESP webhooks), a file posted to a page that takes one
    (UPLOAD_PATHS: admin's KB import, streamed to disk; PAGE_UPLOAD_MAX_BYTES), else
    REQUEST_BODY_MAX_BYTES. Any other page's multipart post is held to the last: a multipart
    label alone must not let anyone spool 200 MB to disk before a login or CSRF check."""
    if path in settings.API_BODY_LIMITS:
        return int(settings.API_BODY_LIMITS[path])
    for prefix, limit in settings.BODY_LIMIT_PREFIXES.items():
        if path.startswith(prefix):
            return int(limit)
    if path in settings.UPLOAD_PATHS and content_type.split(";")[0].strip().lower() == MULTIPART:
        return int(settings.PAGE_UPLOAD_MAX_BYTES)
    return int(settings.REQUEST_BODY_MAX_BYTES)


def too_large_detail(limit: int) -> str:
    return f"the request body is over the {limit} byte limit"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _declared_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None  # Django treats it as no length; the count below still holds the limit


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps({"detail": too_large_detail(limit), "code": "payload_too_large"}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                # What the middleware would add (this answer never reaches it).
                (b"content-security-policy", POLICY.encode()),
                (b"x-content-type-options", b"nosniff"),
                (b"x-frame-options", b"DENY"),
                # The rest of the body is not read: the client must not reuse the connection.
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class BodyLimitedApp:
    """The HTTP application with every path's body limit held before and while it is read."""

    def __init__(self, app: AsgiApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = limit_for(str(scope.get("path", "")), _header(scope, b"content-type") or "")
        declared = _declared_length(scope)
        if declared is not None and declared > limit:
            await _send_too_large(send, limit)
            return
        received = 0
        over = False

        async def counted() -> Message:
            nonlocal received, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Django reads a disconnect as the client gone and answers nothing; the
                    # 413 is sent below, once it has let go of the body.
                    over = True
                    return {"type": "http.disconnect"}
            return message

        await self.app(scope, counted, send)
        if over:
            await _send_too_large(send, limit)
