"""Write transactions of the ArangoDB store (blocking; run in a worker thread).

A batch of document graphs is written in **one stream transaction**: documents that exist
are retracted (``retract_document.aql`` then ``delete_document.aql``, batched over the
document keys; the keys their chunks mentioned are queued for resolution), then documents,
chunks, ``part_of``, ``surfaces``, ``resolution_keys`` and ``mentions`` go through the
document API (``insert_many``: the import API does not take part in stream transactions),
entities and relations through one ``UPSERT`` query each (split by size), merge records
last. Any error aborts the transaction: nothing of the batch stays. A write conflict with a
concurrent writer (1200/1210) runs the whole transaction again (:func:`in_transaction`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from arango.database import StandardDatabase, TransactionDatabase

from graphrag.errors import NotFoundError, StoreQueryError
from graphrag.models import DeleteReport, WriteReport
from graphrag.stores.arango.batch import WritePlan, split_payload
from graphrag.stores.arango.mapping import Doc
from graphrag.stores.arango.names import (
    CHUNKS,
    DOCUMENTS,
    EVIDENCE,
    KEYS,
    MENTIONS,
    PART_OF,
    QUEUE,
    SURFACES,
    WRITE_COLLECTIONS,
)
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.retry import retry_write_conflicts

logger = logging.getLogger(__name__)

T = TypeVar("T")


Fence = Callable[[TransactionDatabase], None]
"""Run first in a transaction of the writer-lease holder: raises if the lease was lost."""


def _transaction_once(
    db: StandardDatabase,
    work: Callable[[TransactionDatabase], T],
    fence: Fence | None,
    write: Sequence[str],
) -> T:
    """Begin a stream transaction, run ``fence`` and ``work``, commit; abort on any error."""
    txn = db.begin_transaction(write=list(write))
    try:
        if fence is not None:
            fence(txn)
        result = work(txn)
        txn.commit_transaction()
    except BaseException:
        # stream transactions are not aborted by the server when an operation fails
        try:
            txn.abort_transaction()
        except Exception as exc:  # the server may have aborted it already
            logger.debug("aborting stream transaction %s failed: %s", txn.transaction_id, exc)
        raise
    return result


def in_transaction(
    db: StandardDatabase,
    work: Callable[[TransactionDatabase], T],
    fence: Fence | None = None,
    *,
    write: Sequence[str] = WRITE_COLLECTIONS,
    what: str = "the write transaction",
) -> T:
    """Run ``work`` in a stream transaction that writes ``write``, again on a conflict.

    The transaction is committed if ``work`` returns and aborted if it raises. ``fence``
    runs first (the lease check of :mod:`graphrag.stores.arango.resolution`). A write
    conflict with a concurrent writer (ArangoDB error 1200 or 1210, raised by any operation
    or by the commit) aborts the transaction and runs the whole unit again in a new one
    (:func:`~graphrag.stores.arango.retry.retry_write_conflicts`: jittered backoff, a few
    tries within a deadline), so ``work`` must only depend on what it reads through its
    transaction and on its arguments.

    Args:
        db: The store's database.
        work: The transaction's operations; returns the result.
        fence: The writer-lease check of the holder, if any.
        write: The collections the transaction writes (default :data:`WRITE_COLLECTIONS`).
        what: What the transaction does, for log and error messages.

    Returns:
        What ``work`` returned.

    Raises:
        StoreUnavailableError: If the last try still hit a write conflict.
    """
    return retry_write_conflicts(what, lambda: _transaction_once(db, work, fence, write))


def _insert(
    txn: TransactionDatabase,
    collection: str,
    items: list[Doc],
    batch_size: int,
    mode: str = "replace",
) -> None:
    for part in split_payload(collection, items, max_items=batch_size):
        txn.collection(collection).insert_many(
            part, overwrite_mode=mode, raise_on_document_error=True
        )


def _check_external(txn: TransactionDatabase, queries: Queries, plan: WritePlan) -> None:
    if not plan.external:
        return
    missing = queries.missing_entities(txn, plan.external)
    if missing:
        sources = ", ".join(repr(s) for s in list(plan.sources.values())[:3])
        msg = (
            f"documents {sources} were not written: mentions or relations reference unknown "
            f"entities {sorted(missing)[:5]}; list every referenced entity in the document "
            "graph (nothing of this batch was written)"
        )
        raise StoreQueryError(msg)


def _upsert(
    txn: TransactionDatabase,
    run: Callable[[TransactionDatabase, list[Doc]], Doc],
    kind: str,
    items: list[Doc],
    batch_size: int,
) -> int:
    written = 0
    for part in split_payload(kind, items, max_items=batch_size):
        written += int(run(txn, part).get("written") or 0)
    return written


def _write_raw(txn: TransactionDatabase, plan: WritePlan, batch_size: int) -> None:
    for collection, items in (
        (DOCUMENTS, plan.documents),
        (CHUNKS, plan.chunks),
        (PART_OF, plan.part_of),
        (SURFACES, plan.surfaces),
    ):
        _insert(txn, collection, items, batch_size)
    # a key that exists keeps its resolution; every key of the batch is resolved again
    _insert(txn, KEYS, plan.keys, batch_size, mode="ignore")
    _insert(txn, QUEUE, [{"_key": k["_key"]} for k in plan.keys], batch_size, mode="ignore")


def _write_derived(
    txn: TransactionDatabase, queries: Queries, plan: WritePlan, batch_size: int
) -> int:
    _check_external(txn, queries, plan)
    _insert(txn, MENTIONS, plan.mentions, batch_size)
    overwrite = plan.rederive

    def entities(db: TransactionDatabase, part: list[Doc]) -> Doc:
        return queries.upsert_entities(db, part, overwrite=overwrite)

    _upsert(txn, entities, "entity", plan.entities, batch_size)
    _insert(txn, EVIDENCE, plan.evidence, batch_size)
    _upsert(txn, queries.upsert_relations, "relation", plan.relations, batch_size)
    return sum(
        queries.insert_merges(txn, part)
        for part in split_payload("merge", plan.merges, max_items=batch_size)
    )


def write_one(
    txn: TransactionDatabase, queries: Queries, plan: WritePlan, batch_size: int
) -> WriteReport:
    """Write one plan inside the caller's transaction (see :func:`write_plans`)."""
    relation_keys = [r["_key"] for r in plan.relations]
    had = queries.count_existing(txn, plan.referenced, relation_keys)
    removed: Doc = {}
    if plan.retract:
        queries.retract_documents(txn, plan.doc_keys)
        removed = queries.delete_documents(txn, plan.doc_keys, keep_chunks=plan.rederive)
    if not plan.rederive:
        _write_raw(txn, plan, batch_size)
    merges = _write_derived(txn, queries, plan, batch_size) if plan.derived else 0
    if plan.rederive and plan.finish:
        queries.mark_documents_derived(txn, plan.doc_keys)
    return WriteReport(
        documents=0 if plan.rederive else len(plan.doc_keys),
        chunks=len(plan.chunks),
        # "new" means absent before this write, not re-created after a retraction
        entities_new=len(plan.referenced) - int(had.get("entities", 0)),
        relations_new=len(relation_keys) - int(had.get("relations", 0)),
        mentions=len(plan.mentions),
        merges=merges,
        replaced_documents=0 if plan.rederive else int(removed.get("replaced", 0)),
    )


def write_plans(
    db: StandardDatabase,
    queries: Queries,
    plans: Sequence[WritePlan],
    batch_size: int,
    fence: Fence | None = None,
) -> WriteReport:
    """Write validated plans, one after the other, in one stream transaction.

    A plain plan replaces whole documents (raw facts, and derived rows when
    ``plan.derived``); a ``rederive`` plan keeps the chunks and replaces only the mentions,
    entities and relations, then marks the documents derived (one plan per document, so an
    entity another document of the call still mentions is never retracted meanwhile).

    Args:
        db: The store's database.
        queries: The AQL queries.
        plans: Plans from :func:`~graphrag.stores.arango.batch.plan_batch`.
        batch_size: Items per bulk request.
        fence: The writer-lease check of the holder, if any.

    Returns:
        What the plans wrote.

    Raises:
        StoreQueryError: If an entity is referenced but neither given nor stored.
    """

    def work(txn: TransactionDatabase) -> WriteReport:
        total = WriteReport()
        for plan in plans:
            for name, value in write_one(txn, queries, plan, batch_size):
                setattr(total, name, getattr(total, name) + value)
        return total

    count = sum(len(plan.doc_keys) for plan in plans)
    report = in_transaction(db, work, fence, what=f"writing {count} documents")
    logger.debug("wrote %d documents (%d chunks)", report.documents, report.chunks)
    return report


def write_plan(
    db: StandardDatabase,
    queries: Queries,
    plan: WritePlan,
    batch_size: int,
    fence: Fence | None = None,
) -> WriteReport:
    """Write one validated batch atomically (see :func:`write_plans`)."""
    return write_plans(db, queries, [plan], batch_size, fence)


def delete_document(
    db: StandardDatabase, queries: Queries, document_id: str, where: str, fence: Fence | None = None
) -> DeleteReport:
    """Delete one document and exactly what only it supported, in one transaction.

    Raises:
        NotFoundError: If the document does not exist.
    """

    def work(txn: TransactionDatabase) -> DeleteReport:
        if not queries.get_documents(txn, [document_id]):
            msg = (
                f"document {document_id} does not exist in the store at {where}; "
                "list documents to find its id"
            )
            raise NotFoundError(msg)
        pruned = queries.retract_documents(txn, [document_id])
        removed = queries.delete_documents(txn, [document_id], keep_chunks=False)
        return DeleteReport(
            document_id=document_id,
            chunks=int(removed.get("chunks", 0)),
            mentions=int(removed.get("mentions", 0)),
            entities_removed=int(removed.get("entities_removed", 0)),
            entities_updated=int(pruned.get("entities_updated", 0)),
            relations_removed=int(removed.get("relations_removed", 0)),
            relations_updated=int(pruned.get("relations_updated", 0)),
        )

    return in_transaction(db, work, fence, what=f"deleting document {document_id}")
