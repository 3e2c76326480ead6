"""A small real knowledge base (demo articles, a few questions each) and helpers to build the
graph with a scripted fake chat model: the LLM is the only thing these tests fake."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import date

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langgraph.graph.state import CompiledStateGraph

from agents.graph import build_graph
from agents.providers.chat import ChatProvider
from agents.services import default_services
from knowledge.ingest import DocumentSpec, upsert_documents
from knowledge.ingest.readers import read_jsonl
from knowledge.management.commands.build_demo_kb import DEMO_KB
from knowledge.models import KBDocument
from support.models import Customer, Order, OrderStatus

ARTICLE_IDS = {
    "cancel_order/0",
    "track_order/0",
    "get_refund/0",
    "recover_password/0",
    "contact_human_agent/0",
    "delivery_period/0",
    "order-issue/manage-cancel",
}
QUESTIONS_PER_ARTICLE = 6
DELIVERY = date(2031, 5, 14)


def _specs() -> list[DocumentSpec]:
    specs, _ = read_jsonl(DEMO_KB)
    return [
        replace(spec, questions=spec.questions[:QUESTIONS_PER_ARTICLE])
        for spec in specs
        if spec.external_id in ARTICLE_IDS
    ]


@pytest.fixture
def agent_kb(db: None) -> dict[str, KBDocument]:
    upsert_documents(_specs())
    return {doc.external_id: doc for doc in KBDocument.objects.all()}


@pytest.fixture
def orders(db: None) -> dict[str, Order]:
    alice = Customer.objects.create(ref="alice", name="Alice")
    bob = Customer.objects.create(ref="bob", name="Bob")
    rows = [
        Order(
            number="NW-10001", customer=alice, status=OrderStatus.SHIPPED, delivery_date=DELIVERY
        ),
        Order(
            number="NW-10002", customer=alice, status=OrderStatus.DELIVERED, refund_eligible=True
        ),
        Order(number="NW-20001", customer=bob, status=OrderStatus.PROCESSING),
    ]
    Order.objects.bulk_create(rows)
    return {order.number: order for order in rows}


@pytest.fixture
def extractive_graph(agent_kb: dict[str, KBDocument]) -> CompiledStateGraph:
    return build_graph(default_services())


def scripted(*responses: str) -> ChatProvider:
    """A provider around LangChain's fake chat model, answering with `responses` in order."""
    return ChatProvider(FakeListChatModel(responses=list(responses)), "fake")


@pytest.fixture
def llm_graph(agent_kb: dict[str, KBDocument]) -> Callable[..., CompiledStateGraph]:
    def make(*responses: str, **settings: object) -> CompiledStateGraph:
        services = default_services(drafter=scripted(*responses))
        if settings:
            from dataclasses import replace

            services.settings = replace(services.settings, **settings)  # type: ignore[arg-type]
        return build_graph(services)

    return make


def llm_json(answer: str, citations: list[int] | None = None, confidence: float = 0.9) -> str:
    return json.dumps({"answer": answer, "citations": citations or [], "confidence": confidence})
