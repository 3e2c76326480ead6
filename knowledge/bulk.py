"""Fast bulk insert of chunks with PostgreSQL binary COPY.

Django's bulk_create sends each 384-dim vector as decimal text, and formatting ~3M floats in
Python costs more than the database work; binary COPY sends the float4 bytes as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from django.db import connection

COLUMNS = "document_id, kind, ordinal, text, text_hash, embedding, search_config"
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)

# document_id, kind, ordinal, text, text_hash, vector, text-search configuration ("english")
Row = tuple[int, str, int, str, str, Any, str]


def _field(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def _vector(value: Any) -> bytes:
    array = np.asarray(value, dtype=np.float32)
    return struct.pack(">hh", len(array), 0) + array.astype(">f4").tobytes()


def config_oids(names: Iterable[str]) -> dict[str, int]:
    """The oid of each text-search configuration: a regconfig travels as its oid in binary COPY."""
    wanted = sorted(set(names))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, name::regconfig::oid FROM unnest(%s::text[]) AS name", [wanted]
        )
        return {name: int(oid) for name, oid in cursor.fetchall()}


def encode_rows(rows: Iterable[Row], oids: dict[str, int]) -> bytes:
    """Rows in PostgreSQL's binary COPY format (pgvector's binary vector layout; a regconfig
    as its oid)."""
    out = [_HEADER]
    for document_id, kind, ordinal, text, digest, vector, config in rows:
        out.append(
            struct.pack(">h", 7)
            + _field(struct.pack(">q", document_id))
            + _field(kind.encode())
            + _field(struct.pack(">i", ordinal))
            + _field(text.encode())
            + _field(digest.encode())
            + _field(_vector(vector))
            + _field(struct.pack(">I", oids[config]))
        )
    out.append(_TRAILER)
    return b"".join(out)


def copy_chunks(rows: Iterable[Row]) -> None:
    """Insert chunks on Django's connection (inside the caller's transaction)."""
    rows = list(rows)
    oids = config_oids(row[6] for row in rows)
    with connection.cursor() as cursor:
        sql = f"COPY knowledge_kbchunk ({COLUMNS}) FROM STDIN WITH (FORMAT BINARY)"
        with cursor.cursor.copy(sql) as copy:
            copy.write(encode_rows(rows, oids))


# The HNSW index on chunk vectors (knowledge migration 0009: m=32, ef_construction=256).
VECTOR_INDEX = "kbchunk_embedding_hnsw_idx"


@contextmanager
def vector_index_built_after() -> Iterator[None]:
    """Inside the caller's transaction: drops the HNSW index, lets the caller write, and builds
    it again from its own stored definition. Building once over all rows (in memory, with
    PostgreSQL's parallel maintenance workers) costs a fraction of inserting each row into the
    graph: the demo KB's 6,100 Bitext chunks, 2.2 s against ~11 s of inserts (#30). Until the
    transaction ends nobody else reads the chunk table (DROP INDEX locks it); if it fails, the
    index comes back with the rollback."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
            "AND indexname = %s",
            [VECTOR_INDEX],
        )
        found = cursor.fetchone()
        if found is not None:
            cursor.execute(f"DROP INDEX {VECTOR_INDEX}")
    yield
    if found is None:
        return
    with connection.cursor() as cursor:
        # Django's foreign keys are checked at commit (DEFERRABLE INITIALLY DEFERRED); an index
        # cannot be built with those checks pending, so they run now, and are deferred again.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
        cursor.execute(found[0])
