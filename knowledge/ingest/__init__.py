"""Knowledge ingestion: readers turn a source file into DocumentSpecs; upsert writes them."""

from knowledge.ingest.readers import READERS, read_source
from knowledge.ingest.specs import DocumentSpec, IngestReport, ReadProblem, SourceError
from knowledge.ingest.upsert import ingest, upsert_documents

__all__ = [
    "READERS",
    "DocumentSpec",
    "IngestReport",
    "ReadProblem",
    "SourceError",
    "ingest",
    "read_source",
    "upsert_documents",
]
