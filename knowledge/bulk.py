"""Fast bulk insert of chunks with PostgreSQL binary COPY.

Django's bulk_create sends each 384-dim vector as decimal text, and formatting ~3M floats in
Python costs more than the database work; binary COPY sends the float4 bytes as they are.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
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
