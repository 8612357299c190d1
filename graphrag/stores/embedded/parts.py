"""Large documents written in parts (see the port's ``append_chunks``)."""

from __future__ import annotations

import sqlite3

from graphrag.models import Document, DocumentGraph, DocumentStatus, WriteReport
from graphrag.stores.embedded import keys, rows
from graphrag.stores.embedded.plan import fail, prepare
from graphrag.stores.embedded.rows import marks
from graphrag.stores.embedded.writes import retract, transaction


def _start_document(conn: sqlite3.Connection, document: Document) -> int:
    """First part: retract the previous version, record the document as processing."""
    row = conn.execute("SELECT status FROM documents WHERE id = ?", (document.id,)).fetchone()
    retracted = retract(conn, document.id)
    conn.execute(
        f"INSERT INTO documents ({rows.DOCUMENT_COLUMNS}) VALUES ({marks(10)}) "  # noqa: S608
        "ON CONFLICT (id) DO UPDATE SET source = excluded.source, title = excluded.title, "
        "mime = excluded.mime, content_hash = excluded.content_hash, "
        "metadata = excluded.metadata, status = excluded.status, "
        "chunk_count = excluded.chunk_count, error = NULL, updated_at = excluded.updated_at",
        rows.document_row(document, DocumentStatus.PROCESSING, 0),
    )
    conn.execute("UPDATE documents SET derived = 0 WHERE id = ?", (document.id,))
    return int(row is not None and (row[0] == DocumentStatus.DONE or retracted.chunks > 0))


def append(
    conn: sqlite3.Connection, graph: DocumentGraph, dim: int, *, first: bool, last: bool
) -> WriteReport:
    """Write one part of a large document's raw facts (see the port's ``append_chunks``).

    Raises:
        StoreQueryError: If the part is invalid, a later part finds no document being
            written, or SQLite fails; nothing of the part is written.
    """
    plan = prepare(graph, dim)
    document = graph.document
    with transaction(conn, f"writing part of document {document.source!r}"):
        report = WriteReport(chunks=len(graph.chunks))
        if first:
            report.replaced_documents = _start_document(conn, document)
        elif (
            conn.execute(
                "SELECT 1 FROM documents WHERE id = ? AND status = ?",
                (document.id, str(DocumentStatus.PROCESSING)),
            ).fetchone()
            is None
        ):
            raise fail(graph, "no earlier part of it is being written; write it from its start")
        conn.executemany(
            f"INSERT INTO chunks ({rows.CHUNK_COLUMNS}) VALUES ({marks(9)})",  # noqa: S608
            [rows.chunk_row(c) for c in plan.graph.chunks],
        )
        keys.write_surfaces(conn, plan.graph.chunks)
        if last:
            conn.execute(
                "UPDATE documents SET status = ?, chunk_count = ?, derived = 0 WHERE id = ?",
                (str(DocumentStatus.DONE), document.chunk_count, document.id),
            )
            report.documents = 1
    return report
