"""Tabular export for data teams: one Parquet file per kind of object (pandas/pyarrow).

``graphrag export --format parquet --output DIR`` writes ``documents``, ``chunks``,
``entities``, ``relations``, ``mentions``, ``merges`` and ``communities`` as
``DIR/<name>.parquet``, with fixed column types (also for empty tables), so
``pandas.read_parquet(DIR / "chunks.parquet")`` or any Parquet reader gets the same columns
every time. Chunks carry their embeddings only with ``with_embeddings`` (a ``list<float32>``
column). Chunks and mentions are streamed document by document, so memory stays bounded on
large stores; each file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from graphrag.errors import ConfigError, GraphRAGError
from graphrag.models import Chunk, Community, Document, DocumentGraph, Entity, MergeRecord, Relation
from graphrag.ports import GraphStore

TABLES = ("documents", "chunks", "entities", "relations", "mentions", "merges", "communities")
_ROWS_PER_GROUP = 2000
_ENTITY_BATCH = 500


@dataclass
class TableFile:
    """One written table."""

    name: str
    path: Path
    rows: int


@dataclass
class TablesSummary:
    """What a Parquet export wrote."""

    path: Path
    format: str = "parquet"
    with_embeddings: bool = False
    tables: list[TableFile] = field(default_factory=list)


def _arrow() -> Any:
    try:
        import pyarrow as pa
        import pyarrow.parquet  # the writer, used as pa.parquet
    except ImportError as exc:
        msg = (
            "Parquet export needs pyarrow, which is not installed; install it "
            "(pip install pyarrow) or export with --format graphml or json"
        )
        raise ConfigError(msg) from exc
    return pa


COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "documents": (
        ("id", "text"),
        ("source", "text"),
        ("title", "text"),
        ("mime", "text"),
        ("content_hash", "text"),
        ("status", "text"),
        ("chunk_count", "int"),
        ("error", "text"),
        ("updated_at", "time"),
        ("metadata", "text"),
    ),
    "chunks": (
        ("id", "text"),
        ("document_id", "text"),
        ("ordinal", "int"),
        ("text", "text"),
        ("start", "int"),
        ("end", "int"),
        ("token_count", "int"),
    ),
    "entities": (
        ("id", "text"),
        ("name", "text"),
        ("type", "text"),
        ("aliases", "texts"),
        ("description", "text"),
        ("mention_count", "int"),
        ("rank", "float"),
    ),
    "relations": (
        ("id", "text"),
        ("source_id", "text"),
        ("target_id", "text"),
        ("predicate", "text"),
        ("kind", "text"),
        ("weight", "float"),
        ("description", "text"),
        ("source_chunk_ids", "texts"),
    ),
    "mentions": (
        ("document_id", "text"),
        ("chunk_id", "text"),
        ("entity_id", "text"),
        ("surface_forms", "texts"),
        ("spans", "spans"),
    ),
    "merges": (
        ("id", "text"),
        ("alias_id", "text"),
        ("alias_name", "text"),
        ("alias_type", "text"),
        ("canonical_id", "text"),
        ("score", "float"),
        ("method", "text"),
        ("created_at", "time"),
        ("undone_at", "time"),
    ),
    "communities": (
        ("id", "text"),
        ("level", "int"),
        ("ordinal", "int"),
        ("title", "text"),
        ("summary", "text"),
        ("size", "int"),
        ("member_ids", "texts"),
    ),
}
"""The columns of every table and their kinds (see :func:`schemas` for the Arrow types)."""


def schemas(pa: Any, *, with_embeddings: bool) -> dict[str, Any]:
    """Return the Arrow schema of every table (``chunks`` has ``embedding`` on request)."""
    kinds = {
        "text": pa.string(),
        "int": pa.int64(),
        "float": pa.float64(),
        "texts": pa.list_(pa.string()),
        "time": pa.timestamp("us", tz="UTC"),
        "spans": pa.list_(pa.list_(pa.int64())),
        "vector": pa.list_(pa.float32()),
    }
    columns = dict(COLUMNS)
    if with_embeddings:
        columns["chunks"] = (*COLUMNS["chunks"], ("embedding", "vector"))
    return {
        name: pa.schema([(column, kinds[kind]) for column, kind in fields])
        for name, fields in columns.items()
    }


class _Table:
    """A Parquet file written in row groups under a temporary name."""

    def __init__(self, pa: Any, name: str, folder: Path, schema: Any) -> None:
        self.name, self.path = name, folder / f"{name}.parquet"
        self._pa, self._schema = pa, schema
        self._rows: list[Mapping[str, Any]] = []
        self._partial = self.path.with_name(f".{self.path.name}.partial")
        self._writer = pa.parquet.ParquetWriter(self._partial, schema)
        self.count = 0

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self._rows.append(row)
            self.count += 1
        if len(self._rows) >= _ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            table = self._pa.Table.from_pylist(self._rows, schema=self._schema)
            self._writer.write_table(table)
            self._rows = []

    def close(self) -> TableFile:
        self._flush()
        self._writer.close()
        os.replace(self._partial, self.path)
        return TableFile(self.name, self.path, self.count)

    def abandon(self) -> None:
        self._writer.close()
        self._partial.unlink(missing_ok=True)


def document_row(document: Document) -> dict[str, Any]:
    """Return a document's row (metadata as a JSON string)."""
    row = document.model_dump(exclude={"metadata"})
    row["status"] = str(document.status)
    row["metadata"] = json.dumps(document.metadata, ensure_ascii=False, default=str)
    return row


def chunk_row(chunk: Chunk, *, with_embeddings: bool) -> dict[str, Any]:
    """Return a chunk's row (its vector only ``with_embeddings``)."""
    row = chunk.model_dump()
    if with_embeddings:
        vector = chunk.embedding
        row["embedding"] = None if vector is None else np.asarray(vector, np.float32).tolist()
    return row


def entity_row(entity: Entity) -> dict[str, Any]:
    """Return an entity's row."""
    return entity.model_dump(exclude={"source_chunk_ids"})


def relation_row(relation: Relation) -> dict[str, Any]:
    """Return a relation's row (evidence sentences are not exported)."""
    row = relation.model_dump(exclude={"evidence"})
    row["kind"] = str(relation.kind)
    return row


def merge_row(merge: MergeRecord) -> dict[str, Any]:
    """Return a merge record's row."""
    return merge.model_dump()


def community_row(community: Community) -> dict[str, Any]:
    """Return a community's row (with its size)."""
    return {**community.model_dump(), "size": len(community.member_ids)}


def mention_rows(graph: DocumentGraph) -> list[dict[str, Any]]:
    """Return the mention rows of one document graph."""
    return [
        {"document_id": graph.document.id, **m.model_dump(), "spans": [list(s) for s in m.spans]}
        for m in graph.mentions
    ]


def _check_folder(output: Path) -> None:
    if output.exists() and not output.is_dir():
        msg = (
            f"--output {output} is a file; a Parquet export writes one file per table into a "
            "folder: pass a folder path"
        )
        raise ConfigError(msg)


async def _stream_graphs(
    store: GraphStore, chunks: _Table, mentions: _Table, *, with_embeddings: bool
) -> dict[str, None]:
    """Write chunks and mentions document by document; return the entity ids seen."""
    entity_ids: dict[str, None] = {}
    async for graph in store.iter_document_graphs():
        chunks.add(chunk_row(c, with_embeddings=with_embeddings) for c in graph.chunks)
        mentions.add(mention_rows(graph))
        entity_ids.update(dict.fromkeys(e.id for e in graph.entities))
        entity_ids.update(dict.fromkeys(m.entity_id for m in graph.mentions))
    return entity_ids


async def _fill(store: GraphStore, tables: Mapping[str, _Table], *, with_embeddings: bool) -> None:
    tables["documents"].add(document_row(d) for d in await store.list_documents())
    entity_ids = await _stream_graphs(
        store, tables["chunks"], tables["mentions"], with_embeddings=with_embeddings
    )
    relations = await store.all_relations()
    tables["relations"].add(relation_row(r) for r in relations)
    for relation in relations:
        entity_ids.update(dict.fromkeys((relation.source_id, relation.target_id)))
    ids: Sequence[str] = list(entity_ids)
    for start in range(0, len(ids), _ENTITY_BATCH):
        found = await store.get_entities(ids[start : start + _ENTITY_BATCH])
        tables["entities"].add(entity_row(e) for e in found)
    tables["merges"].add(merge_row(m) for m in await store.merges())
    tables["communities"].add(community_row(c) for c in await store.list_communities())


async def export_tables(
    store: GraphStore, output: Path, *, with_embeddings: bool = False
) -> TablesSummary:
    """Write every table of ``store`` as ``output/<name>.parquet``.

    Args:
        store: The graph store to read.
        output: The folder to write into (created if missing; the seven files are replaced).
        with_embeddings: Add the chunk vectors to ``chunks.parquet``.

    Returns:
        The folder and each file with its row count.

    Raises:
        ConfigError: If pyarrow is missing or ``output`` is a file.
        GraphRAGError: If a file cannot be written.
    """
    _check_folder(output)
    pa = _arrow()
    folder = output
    shapes = schemas(pa, with_embeddings=with_embeddings)
    tables: dict[str, _Table] = {}
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            tables[name] = _Table(pa, name, folder, shapes[name])
        await _fill(store, tables, with_embeddings=with_embeddings)
        written = [table.close() for table in tables.values()]
    except OSError as exc:
        for table in tables.values():
            table.abandon()
        msg = f"cannot write the export to {folder}: {exc.strerror or exc}; check the path"
        raise GraphRAGError(msg) from exc
    except BaseException:
        for table in tables.values():
            table.abandon()
        raise
    return TablesSummary(path=folder, with_embeddings=with_embeddings, tables=written)
