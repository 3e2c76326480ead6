"""The openai provider end to end through langchain-openai against a small OpenAI-compatible
stub server on loopback (outbound HTTP is the only thing faked)."""

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

ANSWER = (
    "To cancel your order, log into your account and go to your orders [1]. "
    "Locate the order and select the cancellation option, then confirm the cancellation [1]."
)


class StubOpenAI(OpenAIStub):
    requests: list[dict[str, Any]] = []

    def seen(self, raw: str, body: dict[str, Any]) -> None:
        StubOpenAI.requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], **body}
        )

    def draft(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"answer": ANSWER, "citations": [1], "confidence": 0.95}


@pytest.fixture
def stub_url() -> Iterator[str]:
    StubOpenAI.requests = []
    with serve(StubOpenAI) as url:
        yield url


def test_openai_provider_through_the_graph(agent_kb: dict[str, KBDocument], stub_url: str) -> None:
    model = chat_model("openai", base_url=stub_url, api_key="sk-test", model="stub-model")
    provider = ChatProvider(model, "openai", cost_per_1k_tokens=0.5)
    outcome = run_graph(
        build_graph(default_services(drafter=provider)),
        build_state("how can I cancel my order, I changed my mind"),
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
