from knowledge.models.chunk import ChunkKind, KBChunk
from knowledge.models.document import DocumentSource, DocumentStatus, EmbeddingStatus, KBDocument
from knowledge.models.help import HelpCategory
from knowledge.models.learned import GuardRule, TriageExample
from knowledge.models.proposal import Proposal, ProposalKind, ProposalStatus

__all__ = [
    "ChunkKind",
    "DocumentSource",
    "DocumentStatus",
    "EmbeddingStatus",
    "GuardRule",
    "HelpCategory",
    "KBChunk",
    "KBDocument",
    "Proposal",
    "ProposalKind",
    "ProposalStatus",
    "TriageExample",
]
