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
    query_vector_later,
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


def test_a_search_works_while_its_query_is_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """query_vector_later returns before the forward pass ends (the KB search runs its
    full-text leg meanwhile); waiting gives the vector, cached for the next caller."""
    original = embeddings.embed_documents
    release, passes = threading.Event(), []

    def held(texts: Sequence[str], *args: Any, **kwargs: Any) -> np.ndarray:
        assert release.wait(10), "the caller never let the encoder finish"
        passes.append(list(texts))
        return original(texts, *args, **kwargs)

    monkeypatch.setattr(embeddings, "embed_documents", held)
    embeddings._query_vectors.cache_clear()
    wait = query_vector_later(TEXTS[1])  # returns with the encoder still held
    assert passes == []
    release.set()
    vector = wait()
    np.testing.assert_allclose(vector, original([TEXTS[1]])[0], atol=2e-5)
    assert query_vector_later(TEXTS[1])() is vector and embed_query(TEXTS[1]) is vector
    assert passes == [[TEXTS[1]]]
    embeddings._query_vectors.cache_clear()


def test_the_encoder_thread_runs_the_configured_torch_threads(
    monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """A short pass on more threads than one waits for the slowest on a shared machine
    (_use_query_threads); the encoder thread sets its count when it starts."""
    import torch

    seen: list[int] = []

    def counted(texts: Sequence[str], *args: Any, **kwargs: Any) -> np.ndarray:
        seen.append(torch.get_num_threads())
        return np.zeros((len(texts), 384), dtype=np.float32)

    monkeypatch.setattr(embeddings, "embed_documents", counted)
    embeddings._query_vectors.cache_clear()
    assert settings.QUERY_TORCH_THREADS == 1
    settings.QUERY_TORCH_THREADS = 2
    encoder = embeddings.QueryEncoder()  # a thread of its own, started with today's setting
    encoder.encode(["counted in the encoder's thread"])
    settings.QUERY_TORCH_THREADS = 1
    # torch's count for threads started later is the last one set: the suite's, again.
    embeddings.QueryEncoder().encode(["restores the count"])
    assert seen == [2, 1]
    embeddings._query_vectors.cache_clear()


def test_the_cache_forgets_the_least_recently_used() -> None:
    cache = QueryVectors(size=2)
    for key in "abc":
        cache.put(key, np.zeros(3))
        cache.get("a")  # kept in use
    assert cache.get("a") is not None and cache.get("c") is not None
    assert cache.get("b") is None
    stored = cache.get("a")
    assert stored is not None and not stored.flags.writeable


def test_counting_tokens_beside_an_encode_leaves_the_encode_whole() -> None:
    # The KB re-index counts tokens (chunking) in one worker thread while the encoder thread
    # encodes drafts' queries: counting must not switch the encoding tokenizer's padding off
    # mid-batch (a batch of texts of different lengths then fails to become one tensor).
    long_text = " ".join(["returns and refunds explained"] * 120)
    texts = [text * (1 + n % 3) for n, text in enumerate(TEXTS * 4)]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            embeddings.count_tokens(long_text)

    counter = threading.Thread(target=count)
    counter.start()
    try:
        for _ in range(30):
            assert embed_documents(texts, batch_size=8).shape[0] == len(texts)
    finally:
        stop.set()
        counter.join()
    # Counted whole, not cut at the encoder's maximum length.
    assert embeddings.count_tokens(long_text) > (embeddings.get_model().max_seq_length or 0) > 0
