"""Write side of the embedded store: atomic document upserts and exact retraction.

Every function here runs on the single write connection, inside a transaction the caller
opens with :func:`transaction`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from graphrag.errors import NotFoundError, StoreQueryError
from graphrag.ids import normalize_name
from graphrag.models import (
    DeleteReport,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    MergeRecord,
    WriteReport,
)
from graphrag.stores.embedded import rows
from graphrag.stores.embedded.rows import batched, marks

logger = logging.getLogger(__name__)


@contextmanager
def transaction(conn: sqlite3.Connection, what: str) -> Iterator[None]:
    """Run a block in ``BEGIN IMMEDIATE ... COMMIT``; roll back on any error.

    Args:
        conn: The write connection (autocommit mode).
        what: What is being written, for error messages.

    Raises:
        StoreQueryError: If SQLite fails; nothing of the block stays written.
    """
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        msg = f"{what} failed: could not start a write transaction ({exc}); retry later"
        raise StoreQueryError(msg) from exc
    try:
        yield
        conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?", ("write_counter",)
        )
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            msg = f"{what} failed: {exc}; nothing of it was written"
            raise StoreQueryError(msg) from exc
        raise


# --------------------------------------------------------------------------- validation


@dataclass
class _Plan:
    """A validated document graph, reduced to the rows to write."""

    graph: DocumentGraph
    entities: dict[str, Entity] = field(default_factory=dict)
    referenced: set[str] = field(default_factory=set)
    mentions: dict[tuple[str, str], tuple[list[str], list[tuple[int, int]]]] = field(
        default_factory=dict
    )
    evidence: list[tuple[str, str, str, float]] = field(default_factory=list)


def _fail(graph: DocumentGraph, problem: str) -> StoreQueryError:
    msg = (
        f"document {graph.document.source!r} was not written: {problem}; fix the document "
        "graph (nothing of this document was written)"
    )
    return StoreQueryError(msg)


def _check_chunks(graph: DocumentGraph, dim: int) -> set[str]:
    doc_id = graph.document.id
    if not doc_id or not graph.document.source:
        raise _fail(graph, "the document needs a non-empty id and source")
    chunk_ids: set[str] = set()
    for chunk in graph.chunks:
        if chunk.document_id != doc_id:
            raise _fail(graph, f"chunk {chunk.id} belongs to document {chunk.document_id}")
        if chunk.id in chunk_ids:
            raise _fail(graph, f"chunk id {chunk.id} appears twice")
        if chunk.embedding is not None and rows.vector_size(chunk.embedding) != dim:
            size = rows.vector_size(chunk.embedding)
            raise _fail(graph, f"chunk {chunk.id} has a {size}-d embedding, the store uses {dim}")
        chunk_ids.add(chunk.id)
    return chunk_ids


def _collect_entities(graph: DocumentGraph, dim: int) -> dict[str, Entity]:
    entities: dict[str, Entity] = {}
    for entity in graph.entities:
        if entity.embedding is not None and rows.vector_size(entity.embedding) != dim:
            size = rows.vector_size(entity.embedding)
            raise _fail(graph, f"entity {entity.id} has a {size}-d embedding, the store uses {dim}")
        if entity.id in entities:
            first = entities[entity.id]
            extra = [a for a in [entity.name, *entity.aliases] if a not in first.aliases]
            entities[entity.id] = first.model_copy(update={"aliases": first.aliases + extra})
        else:
            entities[entity.id] = entity
    return entities


def _collect_relations(graph: DocumentGraph, chunk_ids: set[str], plan: _Plan) -> None:
    for relation in graph.relations:
        plan.referenced.update((relation.source_id, relation.target_id))
        evidence = [(e.chunk_id, e.sentence, e.weight) for e in relation.evidence]
        if not evidence and relation.source_chunk_ids:
            share = relation.weight / len(relation.source_chunk_ids)
            evidence = [(c, "", share) for c in relation.source_chunk_ids]
        if not evidence:
            raise _fail(
                graph, f"relation {relation.id} has no evidence (relations need provenance)"
            )
        for chunk_id, sentence, weight in evidence:
            if chunk_id not in chunk_ids:
                raise _fail(
                    graph, f"relation {relation.id} cites chunk {chunk_id} of another document"
                )
            plan.evidence.append((relation.id, chunk_id, sentence, float(weight)))


def prepare(graph: DocumentGraph, dim: int) -> _Plan:
    """Validate a document graph without touching the database.

    Args:
        graph: The document graph to write.
        dim: The store's embedding dimension.

    Returns:
        The rows to write.

    Raises:
        StoreQueryError: Naming the document source and what is wrong.
    """
    chunk_ids = _check_chunks(graph, dim)
    plan = _Plan(graph=graph)
    for mention in graph.mentions:
        if mention.chunk_id not in chunk_ids:
            raise _fail(graph, f"a mention cites chunk {mention.chunk_id} of another document")
        plan.referenced.add(mention.entity_id)
        forms, spans = plan.mentions.setdefault((mention.chunk_id, mention.entity_id), ([], []))
        forms.extend(f for f in mention.surface_forms if f not in forms)
        spans.extend(s for s in mention.spans if s not in spans)
    _collect_relations(graph, chunk_ids, plan)
    entities = _collect_entities(graph, dim)
    plan.entities = {k: v for k, v in entities.items() if k in plan.referenced}
    return plan


# --------------------------------------------------------------------------- retraction


def _ids(conn: sqlite3.Connection, sql: str, ids: list[str], *extra: Any) -> set[str]:
    found: set[str] = set()
    for batch in batched(ids):
        query = sql.format(marks=marks(len(batch)))
        found.update(str(r[0]) for r in conn.execute(query, (*batch, *extra)))
    return found


def _delete(conn: sqlite3.Connection, sql: str, ids: list[str]) -> int:
    count = 0
    for batch in batched(ids):
        count += conn.execute(sql.format(marks=marks(len(batch))), tuple(batch)).rowcount
    return count


def _supported(
    conn: sqlite3.Connection, chunk_ids: list[str]
) -> tuple[set[str], set[str], set[str]]:
    """Return what the chunks support: mentioned entities, relation endpoints, relations."""
    mentioned = _ids(
        conn, "SELECT DISTINCT entity_id FROM mentions WHERE chunk_id IN ({marks})", chunk_ids
    )
    endpoints: set[str] = set()
    rels = _ids(
        conn, "SELECT DISTINCT relation_id FROM evidence WHERE chunk_id IN ({marks})", chunk_ids
    )
    for batch in batched(sorted(rels)):
        sql = f"SELECT source_id, target_id FROM relations WHERE id IN ({marks(len(batch))})"  # noqa: S608
        for source_id, target_id in conn.execute(sql, tuple(batch)):
            endpoints.update((str(source_id), str(target_id)))
    return mentioned, endpoints, rels


def _remove_unsupported(
    conn: sqlite3.Connection, entities: set[str], relations: set[str]
) -> tuple[list[str], set[str]]:
    """Delete entities without mentions (and their relations) and relations without evidence."""
    orphans = sorted(
        _ids(
            conn,
            "SELECT id FROM entities WHERE id IN ({marks}) AND NOT EXISTS "
            "(SELECT 1 FROM mentions m WHERE m.entity_id = entities.id)",
            sorted(entities),
        )
    )
    doomed = _ids(conn, "SELECT id FROM relations WHERE source_id IN ({marks})", orphans)
    doomed |= _ids(conn, "SELECT id FROM relations WHERE target_id IN ({marks})", orphans)
    doomed |= _ids(
        conn,
        "SELECT id FROM relations WHERE id IN ({marks}) AND NOT EXISTS "
        "(SELECT 1 FROM evidence e WHERE e.relation_id = relations.id)",
        sorted(relations),
    )
    _delete(conn, "DELETE FROM evidence WHERE relation_id IN ({marks})", sorted(doomed))
    _delete(conn, "DELETE FROM relations WHERE id IN ({marks})", sorted(doomed))
    _delete(conn, "DELETE FROM entity_names WHERE entity_id IN ({marks})", orphans)
    _delete(conn, "DELETE FROM entities WHERE id IN ({marks})", orphans)
    return orphans, doomed


def retract(conn: sqlite3.Connection, document_id: str) -> DeleteReport:
    """Remove a document's chunks and exactly what only they supported (not the row).

    Entities left without mentions are removed together with every relation touching them;
    relations left without evidence are removed. Must run inside a transaction.

    Returns:
        Counts of what was removed or updated.
    """
    report = DeleteReport(document_id=document_id)
    chunk_ids = [
        str(r[0])
        for r in conn.execute("SELECT id FROM chunks WHERE document_id = ?", (document_id,))
    ]
    if not chunk_ids:
        return report
    mentioned, endpoints, rels = _supported(conn, chunk_ids)
    report.mentions = _delete(conn, "DELETE FROM mentions WHERE chunk_id IN ({marks})", chunk_ids)
    _delete(conn, "DELETE FROM evidence WHERE chunk_id IN ({marks})", chunk_ids)
    report.chunks = conn.execute(
        "DELETE FROM chunks WHERE document_id = ?", (document_id,)
    ).rowcount
    orphans, doomed = _remove_unsupported(conn, mentioned | endpoints, rels)
    report.entities_removed = len(orphans)
    report.relations_removed = len(doomed)
    report.entities_updated = len(mentioned - set(orphans))
    report.relations_updated = len(rels - doomed)
    return report


# --------------------------------------------------------------------------- insertion


def _aliases(name: str, current: list[str], extra: list[str]) -> list[str]:
    merged = list(current)
    for alias in extra:
        if alias and alias != name and alias not in merged:
            merged.append(alias)
    return merged


_StoredEntity = tuple[str, list[str], bool, str | None]


def _stored_entities(conn: sqlite3.Connection, ids: list[str]) -> dict[str, _StoredEntity]:
    stored: dict[str, _StoredEntity] = {}
    for batch in batched(ids):
        sql = (
            "SELECT id, name, aliases, embedding IS NULL, description FROM entities "  # noqa: S608
            f"WHERE id IN ({marks(len(batch))})"
        )
        for eid, name, aliases, no_vec, desc in conn.execute(sql, tuple(batch)):
            stored[str(eid)] = (str(name), rows.json_list(aliases), bool(no_vec), desc)
    return stored


def _extend_entity(conn: sqlite3.Connection, entity: Entity, stored: _StoredEntity) -> list[str]:
    """Add new aliases (and a missing embedding/description); return the new names."""
    name, current, no_vec, desc = stored
    aliases = _aliases(name, current, [entity.name, *entity.aliases])
    if aliases != current:
        conn.execute(
            "UPDATE entities SET aliases = ? WHERE id = ?", (rows.dumps(aliases), entity.id)
        )
    if no_vec and entity.embedding is not None:
        conn.execute(
            "UPDATE entities SET embedding = ? WHERE id = ?",
            (rows.to_blob(entity.embedding), entity.id),
        )
    if desc is None and entity.description:
        conn.execute(
            "UPDATE entities SET description = ? WHERE id = ?", (entity.description, entity.id)
        )
    return aliases[len(current) :]


def _write_entities(conn: sqlite3.Connection, plan: _Plan) -> None:
    """Insert new entities and extend existing ones with aliases (and missing vectors)."""
    stored = _stored_entities(conn, sorted(plan.referenced))
    missing = sorted(plan.referenced - stored.keys() - plan.entities.keys())
    if missing:
        raise _fail(plan.graph, f"mentions or relations reference unknown entities {missing[:5]}")
    names: list[tuple[str, str]] = []
    for eid, entity in plan.entities.items():
        if eid in stored:
            names.extend(
                (normalize_name(n), eid) for n in _extend_entity(conn, entity, stored[eid])
            )
            continue
        aliases = _aliases(entity.name, [], entity.aliases)
        conn.execute(
            "INSERT INTO entities (id, name, type, aliases, description, rank, embedding) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (eid, entity.name, entity.type, rows.dumps(aliases), entity.description,
             entity.rank, rows.to_blob(entity.embedding)),
        )  # fmt: skip
        names.extend((normalize_name(n), eid) for n in [entity.name, *aliases])
    conn.executemany(
        "INSERT OR IGNORE INTO entity_names (norm, entity_id) VALUES (?, ?)",
        [(n, e) for n, e in names if n],
    )


def _write_relations(conn: sqlite3.Connection, graph: DocumentGraph) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO relations (id, source_id, target_id, predicate, kind, "
        "description) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (r.id, r.source_id, r.target_id, r.predicate, str(r.kind), r.description)
            for r in graph.relations
        ],
    )


def insert(conn: sqlite3.Connection, plan: _Plan) -> WriteReport:
    """Write a validated document graph (after :func:`retract`), inside a transaction.

    Returns:
        Documents, chunks, mentions and merges written (the caller fills ``*_new``).
    """
    graph = plan.graph
    conn.execute(
        f"INSERT INTO documents ({rows.DOCUMENT_COLUMNS}) VALUES ({marks(10)}) "  # noqa: S608
        "ON CONFLICT (id) DO UPDATE SET source = excluded.source, title = excluded.title, "
        "mime = excluded.mime, content_hash = excluded.content_hash, "
        "metadata = excluded.metadata, status = excluded.status, "
        "chunk_count = excluded.chunk_count, error = NULL, updated_at = excluded.updated_at",
        rows.document_row(graph.document, DocumentStatus.DONE, len(graph.chunks)),
    )
    conn.executemany(
        f"INSERT INTO chunks ({rows.CHUNK_COLUMNS}) VALUES ({marks(8)})",  # noqa: S608
        [rows.chunk_row(c) for c in graph.chunks],
    )
    report = WriteReport(documents=1, chunks=len(graph.chunks))
    _write_entities(conn, plan)
    conn.executemany(
        "INSERT INTO mentions (chunk_id, entity_id, surface_forms, spans) VALUES (?, ?, ?, ?)",
        [(c, e, rows.dumps(f), rows.dumps(s)) for (c, e), (f, s) in plan.mentions.items()],
    )
    report.mentions = len(plan.mentions)
    _write_relations(conn, graph)
    conn.executemany(
        "INSERT INTO evidence (relation_id, chunk_id, sentence, weight) VALUES (?, ?, ?, ?)",
        plan.evidence,
    )
    report.merges = write_merges(conn, graph.merges)
    return report


def write_merges(conn: sqlite3.Connection, merges: list[MergeRecord]) -> int:
    """Insert merge records that are not stored yet; return how many were new."""
    count = 0
    for merge in merges:
        count += conn.execute(
            f"INSERT OR IGNORE INTO merges ({rows.MERGE_COLUMNS}) VALUES ({marks(9)})",  # noqa: S608
            rows.merge_row(merge),
        ).rowcount
    return count


def upsert(conn: sqlite3.Connection, graph: DocumentGraph, dim: int) -> WriteReport:
    """Validate and write one document graph atomically, replacing an older version.

    Raises:
        StoreQueryError: If the graph is invalid or SQLite fails; nothing is written.
    """
    plan = prepare(graph, dim)
    with transaction(conn, f"writing document {graph.document.source!r}"):
        row = conn.execute(
            "SELECT status, chunk_count FROM documents WHERE id = ?", (graph.document.id,)
        ).fetchone()
        relation_ids = sorted({r.id for r in graph.relations})
        had_entities = _ids(
            conn, "SELECT id FROM entities WHERE id IN ({marks})", sorted(plan.referenced)
        )
        had_relations = _ids(conn, "SELECT id FROM relations WHERE id IN ({marks})", relation_ids)
        retracted = retract(conn, graph.document.id)
        report = insert(conn, plan)
    # "new" means absent before this write, not re-created after retracting the old version
    report.entities_new = len(plan.referenced - had_entities)
    report.relations_new = len(set(relation_ids) - had_relations)
    replaced = row is not None and (row[0] == DocumentStatus.DONE or retracted.chunks > 0)
    report.replaced_documents = int(replaced)
    logger.debug("wrote document %s (%d chunks)", graph.document.id, report.chunks)
    return report


def delete(conn: sqlite3.Connection, document_id: str, location: str) -> DeleteReport:
    """Delete a document and retract exactly what only it supported.

    Raises:
        NotFoundError: If the document does not exist.
    """
    with transaction(conn, f"deleting document {document_id}"):
        if conn.execute("SELECT 1 FROM documents WHERE id = ?", (document_id,)).fetchone() is None:
            msg = (
                f"document {document_id} does not exist in the store at {location}; "
                "list documents to find its id"
            )
            raise NotFoundError(msg)
        report = retract(conn, document_id)
        conn.execute("DELETE FROM documents WHERE id = ?", (document_id,))
    return report


def set_status(
    conn: sqlite3.Connection, document: Document, status: DocumentStatus, error: str | None
) -> None:
    """Upsert a document's row with a status (chunks and their count are kept)."""
    row = rows.document_row(document, status, 0)
    with transaction(conn, f"recording the status of document {document.source!r}"):
        conn.execute(
            f"INSERT INTO documents ({rows.DOCUMENT_COLUMNS}) VALUES ({marks(10)}) "  # noqa: S608
            "ON CONFLICT (id) DO UPDATE SET source = excluded.source, title = excluded.title, "
            "mime = excluded.mime, content_hash = excluded.content_hash, "
            "metadata = excluded.metadata, status = excluded.status, error = ?, "
            "updated_at = excluded.updated_at",
            (*row[:8], error, row[9], error),
        )


def mark_undone(conn: sqlite3.Connection, merge_id: str, location: str) -> MergeRecord:
    """Set ``undone_at`` on a merge unless already set; return the record.

    Raises:
        NotFoundError: If there is no such merge.
    """
    with transaction(conn, f"undoing merge {merge_id}"):
        conn.execute(
            "UPDATE merges SET undone_at = ? WHERE id = ? AND undone_at IS NULL",
            (rows.now_text(), merge_id),
        )
        sql = f"SELECT {rows.MERGE_COLUMNS} FROM merges WHERE id = ?"  # noqa: S608
        found = conn.execute(sql, (merge_id,)).fetchone()
        if found is None:
            msg = f"merge {merge_id} does not exist in the store at {location}; list merges first"
            raise NotFoundError(msg)
    return rows.to_merge(found)
