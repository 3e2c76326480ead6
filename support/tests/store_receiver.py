"""A store's action endpoint on loopback for tests (ACTIONS_BACKEND=http): checks the Standard
Webhooks signature with the spec's own verifier, carries out each Idempotency-Key once (a retry
of one it did gets the first answer again), and answers scripted (status, delay) pairs first."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.helpers import http_server


@dataclass
class Store:
    url: str
    secret: str
    script: list[tuple[int, float]] = field(default_factory=list)  # then 200 at once
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    done: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → its answer
    bad_signatures: int = 0

    @property
    def keys(self) -> list[str]:
        return [headers.get("idempotency-key", "") for headers, _ in self.requests]


@contextmanager
def action_store(secret: str, *script: tuple[int, float]) -> Iterator[Store]:
    store = Store(url="", secret=secret, script=list(script))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                store.requests.append((headers, body))
                status, delay = store.script.pop(0) if store.script else (200, 0.0)
            try:
                Webhook(store.secret).verify(body, headers)
            except WebhookVerificationError:
                store.bad_signatures += 1
                return self._answer(401, {"error": "bad signature"})
            if status >= 500:
                return self._answer(status, {"error": "store is down"})
            if status >= 400:
                return self._answer(status, {"error": "the order has shipped"})
            # A slow store still carries the action out (the client gave up waiting): the retry
            # with the same Idempotency-Key must not do it again.
            answer = self._carry_out(headers["idempotency-key"], json.loads(body))
            time.sleep(delay)
            self._answer(status, answer)

        def _carry_out(self, key: str, payload: dict[str, Any]) -> dict[str, Any]:
            with lock:
                if key not in store.done:
                    store.done[key] = {
                        "store_ref": f"st-{len(store.done) + 1}",
                        "name": payload["name"],
                        **payload["arguments"],
                    }
                return store.done[key]

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client timed out

        def log_message(self, format: str, *args: object) -> None:
            pass

    with http_server(Handler) as url:
        store.url = f"{url}/actions"
        yield store
