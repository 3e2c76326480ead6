"""Nothing personal reaches the LLM provider (#18, first exit): an OpenAI-compatible stub on
loopback captures every request; the model's answer echoes the placeholders it was given and
the customer reads the real values."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from agents.graph import build_graph, run_graph
from agents.llm import chat_model
from agents.providers.chat import ChatProvider
from agents.services import default_services
from agents.state_builder import build_state
from agents.tests.openai_stub import OpenAIStub, serve
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


class CapturingLLM(OpenAIStub):
    bodies: list[str] = []

    def seen(self, raw: str, body: dict[str, Any]) -> None:
        CapturingLLM.bodies.append(raw)

    def draft(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = body["messages"][-1]["content"]
        # A model that addresses the customer with the placeholders it was shown.
        email = "[EMAIL_1]" if "[EMAIL_1]" in prompt else "(no e-mail placeholder)"
        answer = (
            f"Thanks, we will write to {email}. To cancel your order, log into your account "
            "and go to your orders [1]."
        )
        return {"answer": answer, "citations": [1], "confidence": 0.9}


@pytest.fixture
def capturing_llm() -> Iterator[str]:
    CapturingLLM.bodies = []
    with serve(CapturingLLM) as url:
        yield url


def test_the_provider_sees_placeholders_and_the_customer_the_real_values(
    agent_kb: dict[str, KBDocument], capturing_llm: str
) -> None:
    model = chat_model("openai", base_url=capturing_llm, api_key="sk-test", model="stub")
    graph = build_graph(default_services(drafter=ChatProvider(model, "openai")))
    outcome = run_graph(graph, build_state(MESSAGE))
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
    run_graph(build_graph(default_services(drafter=provider)), build_state(MESSAGE))
    sent = "\n".join(CapturingLLM.bodies)
    assert PERSONAL["name"] in sent and PERSONAL["email"] not in sent
