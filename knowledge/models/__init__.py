from knowledge.models.chunk import ChunkKind, KBChunk
from knowledge.models.document import DocumentSource, DocumentStatus, EmbeddingStatus, KBDocument
from knowledge.models.proposal import Proposal, ProposalKind, ProposalStatus

__all__ = [
    "ChunkKind",
    "DocumentSource",
    "DocumentStatus",
    "EmbeddingStatus",
    "KBChunk",
    "KBDocument",
    "Proposal",
    "ProposalKind",
    "ProposalStatus",
]
