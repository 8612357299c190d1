"""Copy a whole knowledge graph from one store to another (embedded <-> ArangoDB).

The source yields every written document as the graph that rebuilds it
(``iter_document_graphs``); the target writes them in batches (``upsert_documents``), so a
re-run is idempotent (documents are replaced, never duplicated). When the target has a
``finalize_load`` method (the ArangoDB store: it rebuilds the vector indexes, which are
trained on the data present), it is called once at the end.

Both stores must be opened by the caller (``ensure_schema`` with the same embedding model).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import cast

from pydantic import BaseModel

from graphrag.config import Settings, StoreKind
from graphrag.errors import ConfigError
from graphrag.models import DocumentGraph
from graphrag.ports import Embedder, GraphStore

logger = logging.getLogger(__name__)


class MigrateReport(BaseModel):
    """What a migration copied.

    Attributes:
        source: Location of the source store.
        target: Location of the target store.
        documents: Documents written to the target.
        chunks: Chunks written.
        entities_new: Entities that were new in the target.
        relations_new: Relations that were new in the target.
        mentions: Mention edges written.
        merges: Merge records that were new in the target.
        batches: ``upsert_documents`` calls.
        finalized: Whether the target's ``finalize_load`` ran.
        seconds: Wall time.
    """

    source: str
    target: str
    documents: int = 0
    chunks: int = 0
    entities_new: int = 0
    relations_new: int = 0
    mentions: int = 0
    merges: int = 0
    batches: int = 0
    finalized: bool = False
    seconds: float = 0.0


async def _write(target: GraphStore, batch: list[DocumentGraph], report: MigrateReport) -> None:
    written = await target.upsert_documents(batch)
    report.batches += 1
    report.documents += written.documents
    report.chunks += written.chunks
    report.entities_new += written.entities_new
    report.relations_new += written.relations_new
    report.mentions += written.mentions
    report.merges += written.merges
    logger.info("migrated %d documents so far", report.documents)


async def migrate(
    source: GraphStore,
    target: GraphStore,
    *,
    batch_size: int = 100,
    progress: Callable[[int], None] | None = None,
) -> MigrateReport:
    """Copy every document graph of ``source`` into ``target``.

    Args:
        source: The store to read (unchanged).
        target: The store to write; documents that exist there are replaced.
        batch_size: Documents per ``upsert_documents`` call.
        progress: Called after each batch with the number of documents copied so far.

    Returns:
        What was copied.

    Raises:
        ConfigError: If ``batch_size`` is below 1 or both stores are the same.
        StoreError: If reading or writing fails; batches written before stay written and a
            re-run resumes safely.
    """
    if batch_size < 1:
        msg = f"migrate batch_size must be at least 1 (got {batch_size})"
        raise ConfigError(msg)
    if source.location == target.location:
        msg = f"source and target are the same store ({source.location}); pick another target"
        raise ConfigError(msg)
    start = time.perf_counter()
    report = MigrateReport(source=source.location, target=target.location)
    batch: list[DocumentGraph] = []
    async for graph in source.iter_document_graphs():
        batch.append(graph)
        if len(batch) >= batch_size:
            await _write(target, batch, report)
            batch = []
            if progress is not None:
                progress(report.documents)
    if batch:
        await _write(target, batch, report)
        if progress is not None:
            progress(report.documents)
    finalize = getattr(target, "finalize_load", None)
    if callable(finalize):
        logger.info("finalizing the load into %s", target.location)
        await cast(Callable[[], Awaitable[None]], finalize)()
        report.finalized = True
    report.seconds = time.perf_counter() - start
    logger.info(
        "migrated %d documents from %s to %s in %.1f s",
        report.documents, report.source, report.target, report.seconds,
    )  # fmt: skip
    return report


def same_store(a: Settings, b: Settings) -> bool:
    """Return whether two settings trees point at the same store."""
    if a.store is not b.store:
        return False
    if a.store is StoreKind.EMBEDDED:
        return a.embedded.path.expanduser().resolve() == b.embedded.path.expanduser().resolve()
    return (a.arango.url, a.arango.database) == (b.arango.url, b.arango.database)


async def export_to_store(
    source: GraphStore,
    embedder: Embedder,
    target: Settings,
    *,
    batch_size: int = 100,
    progress: Callable[[int, int], None] | None = None,
) -> MigrateReport:
    """Copy every document graph of ``source`` into the store ``target`` configures.

    The target schema is ensured with ``embedder``'s model name and dimension (the vectors are
    copied, not recomputed), then :func:`migrate` does the copy.

    Args:
        source: The open source store.
        embedder: The embedder the source was built with.
        target: Settings of the target store.
        batch_size: Documents per write.
        progress: Called with ``(documents copied, documents to copy)``.

    Returns:
        The migration report.

    Raises:
        GraphRAGError: If either store fails or the target holds another embedding model.
    """
    from graphrag.stores import create_store

    stats = await source.stats()
    total = stats.documents - stats.failed_documents
    target_store = create_store(target)
    try:
        await target_store.ensure_schema(embedding_model=embedder.model_name, dim=embedder.dim)
        return await migrate(
            source,
            target_store,
            batch_size=batch_size,
            progress=None if progress is None else (lambda done: progress(done, total)),
        )
    finally:
        await target_store.close()
