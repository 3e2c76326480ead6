from knowledge.models.chunk import ChunkKind, KBChunk
from knowledge.models.document import DocumentSource, DocumentStatus, EmbeddingStatus, KBDocument

__all__ = [
    "ChunkKind",
    "DocumentSource",
    "DocumentStatus",
    "EmbeddingStatus",
    "KBChunk",
    "KBDocument",
]
