"""Body limits held while a body arrives (resolver/body_limits.py), through the ASGI application
uvicorn serves: Django's ASGI handler reads a whole body before any middleware, so a limit
checked there refused a huge upload only after writing it to disk."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from typing import Any

import pytest
from django.conf import settings

from resolver.models.apikey import ApiKey


class Upload:
    """One HTTP request fed to the ASGI application in chunks, counting what it reads."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = list(chunks)
        self.read = 0  # bytes handed to the application
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        if not self.chunks:
            await asyncio.sleep(3600)  # the client stays connected until the response ends
        chunk = self.chunks.pop(0)
        self.read += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    @property
    def status(self) -> int:
        return int(next(m["status"] for m in self.sent if m["type"] == "http.response.start"))

    @property
    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.sent[1:]))


async def _post(path: str, upload: Upload, headers: list[tuple[bytes, bytes]]) -> Upload:
    from resolver.asgi import application

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    await asyncio.wait_for(application(scope, upload.receive, upload.send), 60)
    return upload


JSON = (b"content-type", b"application/json")


async def test_a_declared_length_over_the_limit_is_refused_before_a_byte_is_read() -> None:
    upload = Upload([b"x" * 1024] * 10)
    header = (b"content-length", str(10 * 1024 * 1024 * 1024).encode())
    await _post("/api/v1/messages", upload, [JSON, header])
    assert upload.status == 413
    assert upload.json["code"] == "payload_too_large"
    assert upload.read == 0
    # With the headers the middleware gives every answer (it never sees this one).
    headers = dict(upload.sent[0]["headers"])
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert b"frame-ancestors 'none'" in headers[b"content-security-policy"]


async def test_a_chunked_body_is_cut_off_at_the_limit() -> None:
    """Without a length, the body is counted as it arrives: reading stops at the chunk that
    crosses the limit, not at the end of a body of any size."""
    limit = settings.REQUEST_BODY_MAX_BYTES
    upload = Upload([b"x" * 65536] * (limit // 65536 + 200))
    await _post("/api/v1/widget/deflections", upload, [JSON, (b"transfer-encoding", b"chunked")])
    assert upload.status == 413
    assert upload.json == {
        "detail": f"the request body is over the {limit} byte limit",
        "code": "payload_too_large",
    }
    assert upload.read <= limit + 65536


@pytest.mark.django_db(transaction=True)
async def test_a_chunked_body_within_the_limit_is_taken() -> None:
    """A streamed (chunked) message is accepted like one with a Content-Length (it was a 411)."""
    from asgiref.sync import sync_to_async

    from support.models import Message

    _, raw = await sync_to_async(ApiKey.issue)("chunked", ["ingest"])
    body = json.dumps({"body": "Where is my order?", "customer_ref": "chunked-1"}).encode()
    upload = Upload([body[:10], body[10:25], body[25:]])
    headers = [
        JSON,
        (b"transfer-encoding", b"chunked"),
        (b"authorization", f"Bearer {raw}".encode()),
    ]
    await _post("/api/v1/messages", upload, headers)
    assert upload.status == 202, upload.json
    stored = await Message.objects.aget(pk=upload.json["id"])
    assert stored.body == "Where is my order?"


async def test_a_page_upload_has_its_own_larger_limit() -> None:
    """A file posted to a page (admin's KB import) may exceed the API's limit, up to
    PAGE_UPLOAD_MAX_BYTES."""
    from resolver.body_limits import limit_for

    form = "multipart/form-data; boundary=x"
    assert limit_for("/admin/knowledge/kbdocument/import/", form) == settings.PAGE_UPLOAD_MAX_BYTES
    assert limit_for("/api/v1/messages", form) == settings.REQUEST_BODY_MAX_BYTES
    # A multipart label alone opens no larger limit: anyone could spool 200 MB to disk before
    # a log-in or CSRF check refused the post.
    assert limit_for("/console/login/", form) == settings.REQUEST_BODY_MAX_BYTES
    assert limit_for("/healthz", form) == settings.REQUEST_BODY_MAX_BYTES
    upload = Upload([b"x"])
    header = (b"content-length", str(settings.PAGE_UPLOAD_MAX_BYTES + 1).encode())
    await _post(
        "/admin/knowledge/kbdocument/import/", upload, [(b"content-type", form.encode()), header]
    )
    assert (upload.status, upload.read) == (413, 0)
