"""Nothing personal reaches the LLM provider (#18, first exit): an OpenAI-compatible stub on
loopback captures every request; the model's answer echoes the placeholders it was given and
the customer reads the real values."""

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

PERSONAL = {
    "name": "Jonas Berg",
    "email": "jonas.berg@example.com",
    "phone": "+1 415 555 0199",
    "card": "4111 1111 1111 1111",
}
MESSAGE = (
    f"Hi, my name is {PERSONAL['name']}. How can I cancel my order? I changed my mind. "
    f"Reach me at {PERSONAL['email']} or {PERSONAL['phone']}; I paid with {PERSONAL['card']}."
)


class CapturingLLM(BaseHTTPRequestHandler):
    bodies: list[str] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"])).decode()
        CapturingLLM.bodies.append(raw)
        prompt = json.loads(raw)["messages"][-1]["content"]
        # A model that addresses the customer with the placeholders it was shown.
        email = "[EMAIL_1]" if "[EMAIL_1]" in prompt else "(no e-mail placeholder)"
        answer = (
            f"Thanks, we will write to {email}. To cancel your order, log into your account "
            "and go to your orders [1]."
        )
        content = json.dumps({"answer": answer, "citations": [1], "confidence": 0.9})
        reply = {
            "id": "c1",
            "object": "chat.completion",
            "created": 0,
            "model": "stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
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
def capturing_llm() -> Iterator[str]:
    CapturingLLM.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), CapturingLLM)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()


def test_the_provider_sees_placeholders_and_the_customer_the_real_values(
    agent_kb: dict[str, KBDocument], capturing_llm: str
) -> None:
    model = chat_model("openai", base_url=capturing_llm, api_key="sk-test", model="stub")
    graph = build_graph(default_services(drafter=ChatProvider(model, "openai")))
    outcome = run_graph(graph, initial_state(MESSAGE))
    assert CapturingLLM.bodies, "the model was not called"
    sent = "\n".join(CapturingLLM.bodies)
    leaked = [kind for kind, value in PERSONAL.items() if value in sent]
    assert leaked == []
    digits = PERSONAL["card"].replace(" ", "")
    assert digits not in sent.replace(" ", "")
    for placeholder in ("[PERSON_1]", "[EMAIL_1]", "[PHONE_1]", "[CARD_1]"):
        assert placeholder in sent, placeholder
    assert f"we will write to {PERSONAL['email']}" in outcome.answer
    assert "[EMAIL_1]" not in outcome.answer


def test_names_stay_when_the_setting_is_off(
    agent_kb: dict[str, KBDocument], capturing_llm: str
) -> None:
    model = chat_model("openai", base_url=capturing_llm, api_key="sk-test", model="stub")
    provider = ChatProvider(model, "openai", redact_names=False)
    run_graph(build_graph(default_services(drafter=provider)), initial_state(MESSAGE))
    sent = "\n".join(CapturingLLM.bodies)
    assert PERSONAL["name"] in sent and PERSONAL["email"] not in sent
