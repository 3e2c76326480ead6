"""The openai provider end to end through langchain-openai against a small OpenAI-compatible
stub server on loopback (outbound HTTP is the only thing faked)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from agents.graph import build_graph, initial_state, run_graph
from agents.llm import chat_model
from agents.providers.chat import ChatProvider
from agents.services import default_services
from knowledge.models import KBDocument

ANSWER = (
    "To cancel your order, log into your account and go to your orders [1]. "
    "Locate the order and select the cancellation option, then confirm the cancellation [1]."
)


class StubOpenAI(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StubOpenAI.requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], **body}
        )
        content = json.dumps({"answer": ANSWER, "citations": [1], "confidence": 0.95})
        reply = {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 0,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 900, "completion_tokens": 60, "total_tokens": 960},
        }
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub_url() -> Iterator[str]:
    StubOpenAI.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubOpenAI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_openai_provider_through_the_graph(agent_kb: dict[str, KBDocument], stub_url: str) -> None:
    model = chat_model("openai", base_url=stub_url, api_key="sk-test", model="stub-model")
    provider = ChatProvider(model, "openai", cost_per_1k_tokens=0.5)
    outcome = run_graph(
        build_graph(default_services(drafter=provider)),
        initial_state("how can I cancel my order, I changed my mind"),
    )
    assert outcome.status == "SUGGESTED", outcome.guard
    assert outcome.answer == ANSWER
    assert outcome.model == "openai:stub-model"
    assert (outcome.tokens, outcome.cost) == (960, 0.48)
    [request] = StubOpenAI.requests
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] == "Bearer sk-test"
    system, user = request["messages"]
    assert system["role"] == "system" and "ONLY the numbered sources" in system["content"]
    assert "<customer_message>\nhow can I cancel my order" in user["content"]
    assert "[1] Cancel order" in user["content"]
