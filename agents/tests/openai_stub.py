"""An OpenAI-compatible chat-completions endpoint on loopback for tests: outbound HTTP is the one
thing tests fake. A handler subclass decides the draft's JSON from the request body."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class OpenAIStub(BaseHTTPRequestHandler):
    usage = {"prompt_tokens": 900, "completion_tokens": 60, "total_tokens": 960}

    def draft(self, body: dict[str, Any]) -> dict[str, Any]:
        """The model's JSON answer ({answer, citations, confidence}) to this request."""
        raise NotImplementedError

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
        body = json.loads(raw)
        self.seen(raw, body)
        reply = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": json.dumps(self.draft(body))},
                    "finish_reason": "stop",
                }
            ],
            "usage": self.usage,
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def seen(self, raw: str, body: dict[str, Any]) -> None:
        """Records the request (subclasses keep what they assert on)."""

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def serve(handler: type[OpenAIStub]) -> Iterator[str]:
    """The stub's base URL (…/v1) while the block runs."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
