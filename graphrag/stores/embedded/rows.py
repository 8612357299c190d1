"""Conversions between SQLite rows and the domain models."""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np

from graphrag.models import (
    Chunk,
    ChunkExtraction,
    Document,
    DocumentStatus,
    MergeRecord,
    Vector,
)

T = TypeVar("T")

MAX_VARS = 500
"""Ids bound per ``IN (...)`` query (well under SQLite's variable limit)."""

DOCUMENT_COLUMNS = (
    "id, source, title, mime, content_hash, metadata, status, chunk_count, error, updated_at"
)
CHUNK_COLUMNS = (
    "id, document_id, ordinal, text, start_char, end_char, token_count, embedding, extraction"
)
BARE_CHUNK_COLUMNS = "id, document_id, ordinal, text, start_char, end_char, token_count, NULL, NULL"
""":data:`CHUNK_COLUMNS` without the embedding and the stored extraction (both ``NULL``)."""
MERGE_COLUMNS = (
    "id, alias_id, alias_name, alias_type, canonical_id, score, method, created_at, undone_at"
)


def batched(items: Sequence[T], size: int = MAX_VARS) -> Iterator[Sequence[T]]:
    """Yield consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def marks(n: int) -> str:
    """Return ``?, ?, ...`` with ``n`` placeholders."""
    return ", ".join("?" * n)


def to_blob(vector: Vector | None) -> bytes | None:
    """Encode a vector as a float32 BLOB (``None`` stays ``None``)."""
    if vector is None:
        return None
    return np.asarray(vector, dtype=np.float32).reshape(-1).tobytes()


def from_blob(blob: bytes | None) -> Vector | None:
    """Decode a float32 BLOB into a writable 1-D array."""
    if blob is None:
        return None
    return np.frombuffer(blob, dtype=np.float32).copy()


def vector_size(vector: Vector) -> int:
    """Return the number of components of a vector given as any array shape."""
    return int(np.asarray(vector).size)


def to_time(value: datetime) -> str:
    """Encode a datetime as a sortable UTC ISO string with microseconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def from_time(value: str | None) -> datetime | None:
    """Decode a stored ISO timestamp."""
    return None if value is None else datetime.fromisoformat(value)


def now_text() -> str:
    """Return the current UTC time as stored."""
    return to_time(datetime.now(UTC))


def dumps(value: Any) -> str:
    """Encode JSON compactly (non-JSON values become strings)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def document_row(document: Document, status: DocumentStatus, chunk_count: int) -> tuple[Any, ...]:
    """Return the ``documents`` row of a document (``updated_at`` is now)."""
    return (
        document.id,
        document.source,
        document.title,
        document.mime,
        document.content_hash,
        dumps(document.metadata),
        str(status),
        chunk_count,
        document.error,
        now_text(),
    )


def to_document(row: sqlite3.Row | tuple[Any, ...]) -> Document:
    """Build a :class:`Document` from a row of :data:`DOCUMENT_COLUMNS`."""
    updated = from_time(row[9])
    assert updated is not None
    return Document(
        id=row[0],
        source=row[1],
        title=row[2],
        mime=row[3],
        content_hash=row[4],
        metadata=json.loads(row[5]),
        status=DocumentStatus(row[6]),
        chunk_count=int(row[7]),
        error=row[8],
        updated_at=updated,
    )


def chunk_row(chunk: Chunk) -> tuple[Any, ...]:
    """Return the ``chunks`` row of a chunk (without the rowid)."""
    return (
        chunk.id,
        chunk.document_id,
        chunk.ordinal,
        chunk.text,
        chunk.start,
        chunk.end,
        chunk.token_count,
        to_blob(chunk.embedding),
        pack_extraction(chunk.extraction),
    )


def pack_extraction(extraction: ChunkExtraction | None) -> bytes | None:
    """Encode a chunk's extraction as zlib-compressed JSON (about a tenth of the JSON)."""
    if extraction is None:
        return None
    return zlib.compress(extraction.model_dump_json().encode("utf-8"), 6)


def unpack_extraction(value: bytes | str | None) -> ChunkExtraction | None:
    """Decode :func:`pack_extraction` (plain JSON text is accepted too)."""
    if value is None:
        return None
    text = zlib.decompress(value).decode("utf-8") if isinstance(value, bytes) else value
    return ChunkExtraction.model_validate_json(text)


def to_chunk(row: tuple[Any, ...]) -> Chunk:
    """Build a :class:`Chunk` from a row of :data:`CHUNK_COLUMNS`."""
    return Chunk(
        id=row[0],
        document_id=row[1],
        ordinal=int(row[2]),
        text=row[3],
        start=int(row[4]),
        end=int(row[5]),
        token_count=int(row[6]),
        embedding=from_blob(row[7]),
        extraction=unpack_extraction(row[8]),
    )


def merge_row(merge: MergeRecord) -> tuple[Any, ...]:
    """Return the ``merges`` row of a merge record."""
    return (
        merge.id,
        merge.alias_id,
        merge.alias_name,
        merge.alias_type,
        merge.canonical_id,
        merge.score,
        merge.method,
        to_time(merge.created_at),
        None if merge.undone_at is None else to_time(merge.undone_at),
    )


def to_merge(row: tuple[Any, ...]) -> MergeRecord:
    """Build a :class:`MergeRecord` from a row of :data:`MERGE_COLUMNS`."""
    created = from_time(row[7])
    assert created is not None
    return MergeRecord(
        id=row[0],
        alias_id=row[1],
        alias_name=row[2],
        alias_type=row[3],
        canonical_id=row[4],
        score=float(row[5]),
        method=row[6],
        created_at=created,
        undone_at=from_time(row[8]),
    )


def spans_from_json(text: str) -> list[tuple[int, int]]:
    """Decode stored mention spans."""
    return [(int(a), int(b)) for a, b in json.loads(text)]


def json_list(text: str | None) -> list[str]:
    """Decode a stored JSON list of strings (``None`` is empty)."""
    return [str(v) for v in json.loads(text)] if text else []
