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

API_PREFIX = "/api/"

Scope = dict[str, Any]
Message = Mapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
AsgiApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def limit_for(path: str, content_type: str) -> int:
    """The largest request body `path` takes: its own (API_BODY_LIMITS), its prefix's
    (BODY_LIMIT_PREFIXES: the ESP webhooks), a page's file upload's (PAGE_UPLOAD_MAX_BYTES:
    admin's KB import, which Django streams to disk), else REQUEST_BODY_MAX_BYTES. Django's
    DATA_UPLOAD_MAX_MEMORY_SIZE is as large as the largest body it parses into memory."""
    if path in settings.API_BODY_LIMITS:
        return int(settings.API_BODY_LIMITS[path])
    for prefix, limit in settings.BODY_LIMIT_PREFIXES.items():
        if path.startswith(prefix):
            return int(limit)
    if content_type.split(";")[0].strip().lower() == "multipart/form-data" and not path.startswith(
        API_PREFIX
    ):
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
