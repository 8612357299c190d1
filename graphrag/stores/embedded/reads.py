"""Read side of the embedded store: documents, chunks, entities, relations, merges."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence

from graphrag.models import (
    Chunk,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Evidence,
    Mention,
    MergeRecord,
    Relation,
    RelationKind,
)
from graphrag.stores.embedded import rows
from graphrag.stores.embedded.rows import batched, marks

_ENTITY_COLUMNS = "id, name, type, aliases, description, rank, embedding"


def get_document(conn: sqlite3.Connection, document_id: str) -> Document | None:
    """Return a document row, or ``None``."""
    row = conn.execute(
        f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents WHERE id = ?",  # noqa: S608
        (document_id,),
    ).fetchone()
    return None if row is None else rows.to_document(row)


def get_documents(conn: sqlite3.Connection, ids: Sequence[str]) -> list[Document]:
    """Return the documents that exist among ``ids``, in the order given."""
    found: dict[str, Document] = {}
    for batch in batched(list(dict.fromkeys(ids))):
        sql = f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents WHERE id IN ({marks(len(batch))})"  # noqa: S608
        for row in conn.execute(sql, tuple(batch)):
            found[row[0]] = rows.to_document(row)
    return [found[i] for i in dict.fromkeys(ids) if i in found]


def list_documents(
    conn: sqlite3.Connection, status: DocumentStatus | None, limit: int | None
) -> list[Document]:
    """Return documents newest first, optionally filtered by status."""
    sql = f"SELECT {rows.DOCUMENT_COLUMNS} FROM documents"  # noqa: S608
    params: list[object] = []
    if status is not None:
        sql += " WHERE status = ?"
        params.append(str(status))
    sql += " ORDER BY updated_at DESC, rowid DESC"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(max(limit, 0))
    return [rows.to_document(r) for r in conn.execute(sql, params)]


def get_chunks(conn: sqlite3.Connection, ids: Sequence[str]) -> list[Chunk]:
    """Return chunks in the order of ``ids``; unknown ids are skipped."""
    found: dict[str, Chunk] = {}
    for batch in batched(list(dict.fromkeys(ids))):
        sql = f"SELECT {rows.CHUNK_COLUMNS} FROM chunks WHERE id IN ({marks(len(batch))})"  # noqa: S608
        for row in conn.execute(sql, tuple(batch)):
            found[row[0]] = rows.to_chunk(row)
    return [found[i] for i in ids if i in found]


def _entity_chunks(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, list[str]]:
    chunks: dict[str, list[str]] = defaultdict(list)
    for batch in batched(ids):
        sql = (
            "SELECT m.entity_id, m.chunk_id FROM mentions m JOIN chunks c ON c.id = m.chunk_id "  # noqa: S608
            f"WHERE m.entity_id IN ({marks(len(batch))}) ORDER BY c.rowid"
        )
        for entity_id, chunk_id in conn.execute(sql, tuple(batch)):
            chunks[entity_id].append(chunk_id)
    return chunks


def get_entities(
    conn: sqlite3.Connection, ids: Sequence[str], provenance: bool = True
) -> list[Entity]:
    """Return entities in the order of ``ids``; unknown ids are skipped.

    With ``provenance`` (the default) each entity has its chunks (in chunk order) and its
    embedding; without, neither (no mention rows are read).
    """
    unique = list(dict.fromkeys(ids))
    found: dict[str, Entity] = {}
    for batch in batched(unique):
        sql = f"SELECT {_ENTITY_COLUMNS} FROM entities WHERE id IN ({marks(len(batch))})"  # noqa: S608
        for eid, name, etype, aliases, desc, rank, blob in conn.execute(sql, tuple(batch)):
            found[eid] = Entity(
                id=eid,
                name=name,
                type=etype,
                aliases=rows.json_list(aliases),
                description=desc,
                rank=rank,
                embedding=rows.from_blob(blob) if provenance else None,
            )
    if provenance:
        chunks = _entity_chunks(conn, list(found))
        for eid, entity in found.items():
            entity.source_chunk_ids = chunks.get(eid, [])
            entity.mention_count = len(entity.source_chunk_ids)
    return [found[i] for i in ids if i in found]


def find_entities(conn: sqlite3.Connection, norms: Sequence[str]) -> dict[str, list[str]]:
    """Map normalised names (and aliases) to entity ids, most mentioned first.

    Names without a match are left out of the result.
    """
    result: dict[str, list[str]] = {}
    for batch in batched(list(dict.fromkeys(norms))):
        sql = (
            "SELECT n.norm, n.entity_id, (SELECT count(*) FROM mentions m "  # noqa: S608
            "WHERE m.entity_id = n.entity_id) AS cnt FROM entity_names n "
            f"WHERE n.norm IN ({marks(len(batch))}) ORDER BY n.norm, cnt DESC, n.entity_id"
        )
        for norm, entity_id, _ in conn.execute(sql, tuple(batch)):
            result.setdefault(norm, []).append(entity_id)
    return result


def _evidence(
    conn: sqlite3.Connection, ids: Sequence[str], chunk_filter: set[str] | None
) -> dict[str, list[Evidence]]:
    evidence: dict[str, list[Evidence]] = defaultdict(list)
    for batch in batched(ids):
        sql = (
            "SELECT relation_id, chunk_id, sentence, weight FROM evidence "  # noqa: S608
            f"WHERE relation_id IN ({marks(len(batch))}) ORDER BY rowid"
        )
        for rid, chunk_id, sentence, weight in conn.execute(sql, tuple(batch)):
            if chunk_filter is None or chunk_id in chunk_filter:
                evidence[rid].append(
                    Evidence.model_construct(chunk_id=chunk_id, sentence=sentence, weight=weight)
                )
    return evidence


def get_relations(
    conn: sqlite3.Connection, ids: Sequence[str], *, chunk_filter: set[str] | None = None
) -> list[Relation]:
    """Return relations with evidence (optionally only from some chunks), in order.

    ``weight`` and ``source_chunk_ids`` are derived from the evidence kept.
    """
    found: dict[str, Relation] = {}
    unique = list(dict.fromkeys(ids))
    evidence = _evidence(conn, unique, chunk_filter)
    for batch in batched(unique):
        sql = (
            "SELECT id, source_id, target_id, predicate, kind, description FROM relations "  # noqa: S608
            f"WHERE id IN ({marks(len(batch))})"
        )
        for rid, src, dst, predicate, kind, desc in conn.execute(sql, tuple(batch)):
            items = evidence.get(rid, [])
            found[rid] = Relation.model_construct(  # trusted rows: skip validation (hot path)
                id=rid,
                source_id=src,
                target_id=dst,
                predicate=predicate,
                kind=RelationKind(kind),
                weight=sum(e.weight for e in items),
                description=desc,
                evidence=items,
                source_chunk_ids=list(dict.fromkeys(e.chunk_id for e in items)),
            )
    return [found[i] for i in ids if i in found]


def all_relations(conn: sqlite3.Connection) -> list[Relation]:
    """Return every relation with weight and supporting chunks (no evidence text)."""
    chunks: dict[str, list[str]] = defaultdict(list)
    weights: dict[str, float] = defaultdict(float)
    for rid, chunk_id, weight in conn.execute(
        "SELECT relation_id, chunk_id, weight FROM evidence ORDER BY rowid"
    ):
        weights[rid] += weight
        if chunk_id not in chunks[rid]:
            chunks[rid].append(chunk_id)
    return [
        Relation.model_construct(  # trusted rows: skip validation (200k relations: seconds)
            id=rid,
            source_id=src,
            target_id=dst,
            predicate=predicate,
            kind=RelationKind(kind),
            weight=weights.get(rid, 0.0),
            description=desc,
            evidence=[],
            source_chunk_ids=chunks.get(rid, []),
        )
        for rid, src, dst, predicate, kind, desc in conn.execute(
            "SELECT id, source_id, target_id, predicate, kind, description FROM relations "
            "ORDER BY rowid"
        )
    ]


def list_merges(conn: sqlite3.Connection, alias_ids: Sequence[str] | None) -> list[MergeRecord]:
    """Return merge records (oldest first), optionally only for some alias ids."""
    if alias_ids is None:
        query = f"SELECT {rows.MERGE_COLUMNS} FROM merges ORDER BY created_at, id"  # noqa: S608
        return [rows.to_merge(r) for r in conn.execute(query)]
    found: list[MergeRecord] = []
    for batch in batched(list(dict.fromkeys(alias_ids))):
        sql = f"SELECT {rows.MERGE_COLUMNS} FROM merges WHERE alias_id IN ({marks(len(batch))})"  # noqa: S608
        found.extend(rows.to_merge(r) for r in conn.execute(sql, tuple(batch)))
    return sorted(found, key=lambda m: (m.created_at, m.id))


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Return object counts for :class:`~graphrag.models.StoreStats`."""
    tables = ("documents", "chunks", "entities", "relations", "mentions", "merges", "communities")
    result = {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}  # noqa: S608
    failed = conn.execute(
        "SELECT count(*) FROM documents WHERE status = ?", (str(DocumentStatus.FAILED),)
    ).fetchone()
    result["failed_documents"] = int(failed[0])
    return result


def done_document_ids(conn: sqlite3.Connection) -> list[str]:
    """Return the ids of written documents, oldest first."""
    sql = "SELECT id FROM documents WHERE status = ? ORDER BY updated_at, rowid"
    return [str(r[0]) for r in conn.execute(sql, (str(DocumentStatus.DONE),))]


def _document_mentions(conn: sqlite3.Connection, document_id: str) -> list[Mention]:
    return [
        Mention(
            chunk_id=chunk_id,
            entity_id=entity_id,
            surface_forms=rows.json_list(forms),
            spans=rows.spans_from_json(spans),
        )
        for chunk_id, entity_id, forms, spans in conn.execute(
            "SELECT m.chunk_id, m.entity_id, m.surface_forms, m.spans FROM mentions m "
            "JOIN chunks c ON c.id = m.chunk_id WHERE c.document_id = ? ORDER BY c.rowid, m.rowid",
            (document_id,),
        )
    ]


def document_graph(
    conn: sqlite3.Connection, document_id: str, *, include_merges: bool
) -> DocumentGraph | None:
    """Rebuild the graph a document contributed (its evidence only), or ``None``."""
    document = get_document(conn, document_id)
    if document is None:
        return None
    chunks = [
        rows.to_chunk(r)
        for r in conn.execute(
            f"SELECT {rows.CHUNK_COLUMNS} FROM chunks WHERE document_id = ? "  # noqa: S608
            "ORDER BY ordinal, rowid",
            (document_id,),
        )
    ]
    mentions = _document_mentions(conn, document_id)
    relation_ids = [
        str(r[0])
        for r in conn.execute(
            "SELECT DISTINCT e.relation_id FROM evidence e JOIN chunks c ON c.id = e.chunk_id "
            "WHERE c.document_id = ? ORDER BY e.relation_id",
            (document_id,),
        )
    ]
    relations = get_relations(conn, relation_ids, chunk_filter={c.id for c in chunks})
    entity_ids = list(dict.fromkeys([m.entity_id for m in mentions]))
    entity_ids += [i for r in relations for i in (r.source_id, r.target_id)]
    entities = get_entities(conn, list(dict.fromkeys(entity_ids)))
    for entity in entities:
        entity.source_chunk_ids, entity.mention_count = [], 0
    merges = list_merges(conn, None) if include_merges else []
    return DocumentGraph(
        document=document,
        chunks=chunks,
        entities=entities,
        mentions=mentions,
        relations=relations,
        merges=merges,
    )
