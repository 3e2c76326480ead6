"""Query vectors (issue #30): one cache entry per text however it is spaced, the texts of one
draft in one encoder pass, concurrent threads' queries batched by the process's encoder thread,
each as close to its vector encoded alone as the model's arithmetic allows."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

from knowledge import embeddings
from knowledge.embeddings import (
    QueryVectors,
    embed_cached_queries,
    embed_documents,
    embed_query,
    query_key,
)
from knowledge.search import clean_query

TEXTS = [
    "Where is my order? I would like to track it.",
    "I want a refund for the blender, it broke after two days",
    "how do I change my shipping address",
    "Your service is terrible, I have been waiting three weeks!!",
    "can I pay with paypal?",
    "cancel my subscription please",
]


def test_spacing_does_not_make_another_query(encoder_calls: list[list[str]]) -> None:
    message = "  Where is my order?\n\nI would like to track it. "
    # The KB search looks up the cleaned text; the tone model reads the message as written.
    assert query_key(message) == clean_query(message)
    first, second = embed_cached_queries([message, clean_query(message)])
    assert first is second
    assert embed_query(message) is first
    assert encoder_calls == [[clean_query(message)]]


def test_texts_of_one_call_share_one_forward_pass(encoder_calls: list[list[str]]) -> None:
    vectors = embed_cached_queries(TEXTS)
    assert len(encoder_calls) == 1 and len(encoder_calls[0]) == len(TEXTS)
    alone = np.vstack([embed_documents([text]) for text in TEXTS])
    np.testing.assert_allclose(np.vstack(vectors), alone, atol=2e-5)
    embed_cached_queries(TEXTS)  # all cached now
    assert len(encoder_calls) == 1


def test_concurrent_threads_get_their_own_vectors(encoder_calls: list[list[str]]) -> None:
    results: dict[str, np.ndarray] = {}
    start = threading.Barrier(len(TEXTS))

    def ask(text: str) -> None:
        start.wait()
        results[text] = embed_query(text)

    threads = [threading.Thread(target=ask, args=(text,)) for text in TEXTS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(len(call) for call in encoder_calls) == len(TEXTS)
    for text in TEXTS:
        np.testing.assert_allclose(results[text], embed_documents([text])[0], atol=2e-5)


def test_an_encoder_failure_reaches_the_caller_and_the_thread_serves_on(
    monkeypatch: pytest.MonkeyPatch, encoder_calls: list[list[str]]
) -> None:
    def broken(texts: Sequence[str], *args: Any, **kwargs: Any) -> np.ndarray:
        raise RuntimeError("model gone")

    with monkeypatch.context() as patch:
        patch.setattr(embeddings, "embed_documents", broken)
        with pytest.raises(RuntimeError, match="model gone"):
            embed_query("a query the model cannot encode")
    assert embed_query(TEXTS[0]).shape == (384,)


def test_the_cache_forgets_the_least_recently_used() -> None:
    cache = QueryVectors(size=2)
    for key in "abc":
        cache.put(key, np.zeros(3))
        cache.get("a")  # kept in use
    assert cache.get("a") is not None and cache.get("c") is not None
    assert cache.get("b") is None
    stored = cache.get("a")
    assert stored is not None and not stored.flags.writeable
