"""Write side of the embedded store: atomic document upserts and exact retraction.

Every function here runs on the single write connection. The entry points open their own
transaction with :func:`transaction`: :func:`upsert` one per document (the store calls it
for each document of a batch, so the documents before a failing one stay written),
:func:`rederive` one per call (all its documents or none), and :func:`delete`,
:func:`set_status` and :func:`mark_undone` one each. The building blocks :func:`retract`,
:func:`insert` and :func:`write_merges` open none: they run inside their caller's
transaction (here, or in :mod:`.parts`).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
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
from graphrag.stores.embedded import keys, rows, schema
from graphrag.stores.embedded.plan import Plan, fail, prepare
from graphrag.stores.embedded.rows import batched, marks

logger = logging.getLogger(__name__)


@contextmanager
def transaction(conn: sqlite3.Connection, what: str, *, counter: bool = True) -> Iterator[None]:
    """Run a block in ``BEGIN IMMEDIATE ... COMMIT``; roll back on any error.

    Args:
        conn: The write connection (autocommit mode).
        what: What is being written, for error messages.
        counter: Bump the store's write counter, which invalidates the in-memory indexes
            (vectors, graph) of every process; writes that change no graph data (jobs, API
            keys) pass ``False`` so that they do not force a rebuild.

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
        if counter:
            conn.execute(
                "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = ?",
                ("write_counter",),
            )
        conn.execute("COMMIT")
    except BaseException as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            if isinstance(exc, sqlite3.DatabaseError) and schema.damaged(exc):
                path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
                raise schema.open_error(path, exc) from exc
            msg = f"{what} failed: {exc}; nothing of it was written"
            raise StoreQueryError(msg) from exc
        raise


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


def retract(
    conn: sqlite3.Connection, document_id: str, *, keep_chunks: bool = False
) -> DeleteReport:
    """Remove a document's chunks and exactly what only they supported (not the row).

    Entities left without mentions are removed together with every relation touching them;
    relations left without evidence are removed. The keys the chunks mentioned are marked
    dirty. With ``keep_chunks`` only the derived rows (mentions, evidence) go: the chunks,
    their extractions and key counts stay. Must run inside a transaction.

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
    if not keep_chunks:
        keys.retract_surfaces(conn, chunk_ids)
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


def _replace_entity(conn: sqlite3.Connection, entity: Entity) -> None:
    """Set a stored entity's name, aliases (and vector, description when given)."""
    conn.execute(
        "UPDATE entities SET name = ?, aliases = ?, embedding = coalesce(?, embedding), "
        "description = coalesce(?, description) WHERE id = ?",
        (entity.name, rows.dumps(entity.aliases), rows.to_blob(entity.embedding),
         entity.description, entity.id),
    )  # fmt: skip
    keys.replace_names(conn, entity.id, [entity.name, *entity.aliases])


def _write_entities(conn: sqlite3.Connection, plan: Plan, *, overwrite: bool = False) -> None:
    """Insert new entities; extend existing ones with aliases, or overwrite them.

    Without ``overwrite`` a stored entity keeps its name and vector and gains the new
    aliases (and a missing vector); with it, it takes the given name, aliases and vector
    (the derived view of :mod:`graphrag.resolution`).
    """
    stored = _stored_entities(conn, sorted(plan.referenced))
    missing = sorted(plan.referenced - stored.keys() - plan.entities.keys())
    if missing:
        raise fail(plan.graph, f"mentions or relations reference unknown entities {missing[:5]}")
    names: list[tuple[str, str]] = []
    for eid, entity in plan.entities.items():
        if eid in stored and overwrite:
            _replace_entity(conn, entity)
            continue
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


def _insert_document(conn: sqlite3.Connection, graph: DocumentGraph, *, derived: bool) -> None:
    conn.execute(
        f"INSERT INTO documents ({rows.DOCUMENT_COLUMNS}) VALUES ({marks(10)}) "  # noqa: S608
        "ON CONFLICT (id) DO UPDATE SET source = excluded.source, title = excluded.title, "
        "mime = excluded.mime, content_hash = excluded.content_hash, "
        "metadata = excluded.metadata, status = excluded.status, "
        "chunk_count = excluded.chunk_count, error = NULL, updated_at = excluded.updated_at",
        rows.document_row(graph.document, DocumentStatus.DONE, len(graph.chunks)),
    )
    conn.execute("UPDATE documents SET derived = ? WHERE id = ?", (int(derived), graph.document.id))


def _insert_derived(
    conn: sqlite3.Connection, plan: Plan, report: WriteReport, *, overwrite: bool
) -> None:
    graph = plan.graph
    _write_entities(conn, plan, overwrite=overwrite)
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


def insert(conn: sqlite3.Connection, plan: Plan, *, derived: bool = True) -> WriteReport:
    """Write a validated document graph (after :func:`retract`), in the caller's transaction.

    The chunks' extractions are counted by key (their keys become dirty). Without
    ``derived`` only the raw facts are written and the document is left pending.

    Returns:
        Documents, chunks, mentions and merges written (the caller fills ``*_new``).
    """
    graph = plan.graph
    _insert_document(conn, graph, derived=derived)
    conn.executemany(
        f"INSERT INTO chunks ({rows.CHUNK_COLUMNS}) VALUES ({marks(9)})",  # noqa: S608
        [rows.chunk_row(c) for c in graph.chunks],
    )
    keys.write_surfaces(conn, graph.chunks)
    report = WriteReport(documents=1, chunks=len(graph.chunks))
    if derived:
        _insert_derived(conn, plan, report, overwrite=False)
    return report


def write_merges(conn: sqlite3.Connection, merges: list[MergeRecord]) -> int:
    """Insert merge records that are not stored yet (in the caller's transaction).

    Returns:
        How many records were new.
    """
    count = 0
    for merge in merges:
        count += conn.execute(
            f"INSERT OR IGNORE INTO merges ({rows.MERGE_COLUMNS}) VALUES ({marks(9)})",  # noqa: S608
            rows.merge_row(merge),
        ).rowcount
    return count


def _existing(conn: sqlite3.Connection, plan: Plan) -> tuple[set[str], set[str]]:
    relation_ids = sorted({r.id for r in plan.graph.relations})
    entities = _ids(conn, "SELECT id FROM entities WHERE id IN ({marks})", sorted(plan.referenced))
    relations = _ids(conn, "SELECT id FROM relations WHERE id IN ({marks})", relation_ids)
    return entities, relations


def _count_new(report: WriteReport, plan: Plan, had: tuple[set[str], set[str]]) -> None:
    # "new" means absent before this write, not re-created after retracting the old version
    report.entities_new = len(plan.referenced - had[0])
    report.relations_new = len({r.id for r in plan.graph.relations} - had[1])


def upsert(
    conn: sqlite3.Connection, graph: DocumentGraph, dim: int, *, derived: bool = True
) -> WriteReport:
    """Validate and write one document graph in one transaction, replacing an older version.

    Raises:
        StoreQueryError: If the graph is invalid or SQLite fails; nothing is written.
    """
    plan = prepare(graph, dim)
    with transaction(conn, f"writing document {graph.document.source!r}"):
        row = conn.execute(
            "SELECT status, chunk_count FROM documents WHERE id = ?", (graph.document.id,)
        ).fetchone()
        had = _existing(conn, plan) if derived else (set(), set())
        retracted = retract(conn, graph.document.id)
        report = insert(conn, plan, derived=derived)
    if derived:
        _count_new(report, plan, had)
    replaced = row is not None and (row[0] == DocumentStatus.DONE or retracted.chunks > 0)
    report.replaced_documents = int(replaced)
    logger.debug("wrote document %s (%d chunks)", graph.document.id, report.chunks)
    return report


def rederive(
    conn: sqlite3.Connection,
    graphs: Sequence[DocumentGraph],
    dim: int,
    *,
    replace: bool = True,
    finish: bool = True,
) -> WriteReport:
    """Replace stored documents' mentions and relations (their chunks stay), in one transaction.

    Entities are written as given (see :func:`_write_entities` with ``overwrite``). A
    document that no longer exists is skipped. For a document derived in parts, ``replace``
    (first part) removes its previous derived rows and ``finish`` (last part) marks it
    derived; a part holds some of its stored chunks.

    Raises:
        StoreQueryError: If a graph is invalid or SQLite fails; nothing is written.
    """
    plans = [prepare(graph, dim) for graph in graphs]
    total = WriteReport()
    with transaction(conn, f"deriving {len(plans)} documents again"):
        for plan in plans:
            report = _rederive_one(conn, plan, replace=replace, finish=finish)
            for name, value in report:
                setattr(total, name, getattr(total, name) + value)
    return total


def _rederive_one(
    conn: sqlite3.Connection, plan: Plan, *, replace: bool, finish: bool
) -> WriteReport:
    graph = plan.graph
    doc_id = graph.document.id
    if conn.execute("SELECT 1 FROM documents WHERE id = ?", (doc_id,)).fetchone() is None:
        return WriteReport()
    found = conn.execute("SELECT id FROM chunks WHERE document_id = ?", (doc_id,))
    stored, given = {str(r[0]) for r in found}, {c.id for c in graph.chunks}
    whole = replace and finish
    if (whole and given != stored) or not given <= stored:
        raise fail(graph, "its chunks differ from the stored ones; write the document again")
    had = _existing(conn, plan)
    if replace:
        retract(conn, doc_id, keep_chunks=True)
    report = WriteReport()
    _insert_derived(conn, plan, report, overwrite=True)
    if finish:
        conn.execute(
            "UPDATE documents SET derived = 1, status = ?, error = NULL WHERE id = ?",
            (str(DocumentStatus.DONE), doc_id),
        )
    _count_new(report, plan, had)
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
