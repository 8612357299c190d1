"""Writes that change resolution: deleting a document, undoing a merge, finishing a run.

Each holds the store's writer lock for the whole unit and leaves the graph exactly as a
fresh ingest of the remaining documents (with the undone merges) would build it.
"""

from __future__ import annotations

from collections.abc import Sequence

from graphrag.models import DeleteReport, MergeRecord
from graphrag.ports import GraphStore
from graphrag.resolution.reconcile import Reconciler, ReconcileReport


async def delete_documents(
    store: GraphStore, reconciler: Reconciler, document_ids: Sequence[str]
) -> tuple[list[DeleteReport], ReconcileReport]:
    """Delete documents, then resolve again what they supported (one writer-lock hold).

    Entities they alone made typed lose the type, merges they alone justified come apart,
    canonical names they made most frequent change: every derived attribute is recomputed
    from the remaining documents.

    Raises:
        NotFoundError: If a document does not exist (the ones before it are deleted and
            resolved).
    """
    reports: list[DeleteReport] = []
    async with store.writer_lock():
        try:
            for document_id in document_ids:
                reports.append(await store.delete_document(document_id))
        finally:
            outcome = await reconciler.run()
    return reports, outcome


async def delete_document(
    store: GraphStore, reconciler: Reconciler, document_id: str
) -> tuple[DeleteReport, ReconcileReport]:
    """Delete one document (see :func:`delete_documents`).

    Raises:
        NotFoundError: If the document does not exist.
    """
    reports, outcome = await delete_documents(store, reconciler, [document_id])
    return reports[0], outcome


async def undo_merge(
    store: GraphStore, reconciler: Reconciler, merge: str
) -> tuple[MergeRecord, ReconcileReport]:
    """Undo a merge for good and derive the affected documents again.

    The pair (alias, canonical) is never merged again; the alias becomes an entity of its
    own (or joins another entity), from the stored chunk extractions: no source file is
    read again.

    Raises:
        NotFoundError: If there is no such merge.
    """
    async with store.writer_lock():
        before = [m for m in await store.merges() if m.id == merge]
        record = await store.mark_merge_undone(merge)
        await store.mark_dirty([record.alias_id, record.canonical_id])
        outcome = await reconciler.run()
    outcome.already_undone = bool(before and before[0].undone_at is not None)
    return record, outcome


async def finish_pending(store: GraphStore, reconciler: Reconciler) -> ReconcileReport:
    """Resolve whatever an interrupted writer left dirty or pending."""
    async with store.writer_lock():
        return await reconciler.run()
