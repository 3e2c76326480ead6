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

COLUMNS = "document_id, kind, ordinal, text, text_hash, embedding"
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)

Row = tuple[int, str, int, str, str, Any]  # document_id, kind, ordinal, text, text_hash, vector


def _field(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def _vector(value: Any) -> bytes:
    array = np.asarray(value, dtype=np.float32)
    return struct.pack(">hh", len(array), 0) + array.astype(">f4").tobytes()


def encode_rows(rows: Iterable[Row]) -> bytes:
    """Rows in PostgreSQL's binary COPY format (pgvector's binary vector layout)."""
    out = [_HEADER]
    for document_id, kind, ordinal, text, digest, vector in rows:
        out.append(
            struct.pack(">h", 6)
            + _field(struct.pack(">q", document_id))
            + _field(kind.encode())
            + _field(struct.pack(">i", ordinal))
            + _field(text.encode())
            + _field(digest.encode())
            + _field(_vector(vector))
        )
    out.append(_TRAILER)
    return b"".join(out)


def copy_chunks(rows: Iterable[Row]) -> None:
    """Insert chunks on Django's connection (inside the caller's transaction)."""
    with connection.cursor() as cursor:
        sql = f"COPY knowledge_kbchunk ({COLUMNS}) FROM STDIN WITH (FORMAT BINARY)"
        with cursor.cursor.copy(sql) as copy:
            copy.write(encode_rows(rows))
