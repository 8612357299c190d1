"""Graph building: load -> chunk -> extract -> embed -> write -> resolve.

:class:`GraphBuilder` turns loaded :class:`~graphrag.models.Document` objects into
:class:`~graphrag.models.DocumentGraph` units and writes them through the
:class:`~graphrag.ports.GraphStore` port. Each stage works on a whole batch (spaCy and the
embedding model are fastest on large batches); each document is still written atomically, and
a document that fails is isolated, recorded as ``failed`` and reported, while the rest of the
batch goes on. Entity resolution runs after the write, over what the store holds (see
:mod:`graphrag.resolution`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from graphrag.config import ResolutionSettings
from graphrag.errors import GraphRAGError
from graphrag.llm.errors import BudgetExceededError, LLMConfigError, LLMTransientError
from graphrag.models import Chunk, Document, DocumentGraph, DocumentStatus, StoreStats, Vector
from graphrag.ports import Chunker, Embedder, EmbedKind, Extractor, GraphStore
from graphrag.resolution.keys import embeddable, surface_rows
from graphrag.resolution.reconcile import Reconciler, ReconcileReport

logger = logging.getLogger(__name__)

STAGES = ("chunk", "extract", "resolve", "embed_chunks", "write")


RUN_STOPS: tuple[type[Exception], ...] = (BudgetExceededError, LLMConfigError, LLMTransientError)
"""LLM errors that stop the whole run instead of failing one document: no other document
would fare better (the budget is spent, the key, model or cache is wrong, the endpoint is
down after the stack's retries). Malformed replies never get here: the extractor records
them as failed chunks."""


@dataclass
class IngestReport:
    """What one ingest run did.

    Attributes:
        seen: Documents handed to the builder.
        unchanged: Skipped because their content hash is already stored.
        written: Documents written (new or replaced).
        replaced: Of ``written``, documents that existed with other content.
        failed: ``(source, reason)`` per failed document.
        entities_new, relations_new, mentions, merges: Net change of the store's counts
            while this run held the writer lock (a replaced document can make them fall).
        interrupted: Partly written documents of an interrupted run that were removed.
        stage_seconds: Wall seconds per stage (see ``STAGES``).
        model_seconds: Seconds spent inside spaCy and the embedding model.
        stopped: Why the run stopped early, if it did (:data:`RUN_STOPS`: the LLM budget,
            a wrong LLM configuration or cache, an endpoint still failing after its retries):
            the documents not reached were left as they were (not failed); a rerun continues.
    """

    seen: int = 0
    unchanged: int = 0
    written: int = 0
    replaced: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    chunks: int = 0
    entities_new: int = 0
    relations_new: int = 0
    mentions: int = 0
    merges: int = 0
    interrupted: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    model_seconds: float = 0.0
    stopped: str | None = None

    def merge(self, other: IngestReport) -> IngestReport:
        """Return the sum of two reports (for batched runs)."""
        stages = {
            k: self.stage_seconds.get(k, 0.0) + other.stage_seconds.get(k, 0.0)
            for k in set(self.stage_seconds) | set(other.stage_seconds)
        }
        return IngestReport(
            seen=self.seen + other.seen,
            unchanged=self.unchanged + other.unchanged,
            written=self.written + other.written,
            replaced=self.replaced + other.replaced,
            failed=[*self.failed, *other.failed],
            chunks=self.chunks + other.chunks,
            entities_new=self.entities_new + other.entities_new,
            relations_new=self.relations_new + other.relations_new,
            mentions=self.mentions + other.mentions,
            merges=self.merges + other.merges,
            interrupted=self.interrupted + other.interrupted,
            seconds=self.seconds + other.seconds,
            stage_seconds=stages,
            model_seconds=self.model_seconds + other.model_seconds,
            stopped=self.stopped or other.stopped,
        )


class TimedEmbedder:
    """An :class:`Embedder` wrapper that adds up the seconds spent embedding."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.seconds = 0.0

    @property
    def model_name(self) -> str:
        """The wrapped model's name."""
        return self.inner.model_name

    @property
    def dim(self) -> int:
        """The wrapped model's dimension."""
        return self.inner.dim

    async def embed(self, texts: Sequence[str], *, kind: EmbedKind = "passage") -> Vector:
        """Embed through the wrapped model, timing the call."""
        start = time.perf_counter()
        try:
            return await self.inner.embed(texts, kind=kind)
        finally:
            self.seconds += time.perf_counter() - start


class GraphBuilder:
    """Builds document graphs and writes them to a store.

    A batch is chunked, extracted and embedded without any lock; then, holding the store's
    writer lock, the documents' raw facts (chunks with their extractions) are written and
    :class:`~graphrag.resolution.reconcile.Reconciler` resolves their entities and derives
    their mentions and relations. The graph therefore depends only on the stored documents,
    not on batch size, order or concurrent writers.

    Example:
        ```python
        builder = GraphBuilder(store=store, embedder=embedder, extractor=extractor,
                               chunker=chunker, resolution=ResolutionSettings())
        report = await builder.ingest(documents)
        ```
    """

    def __init__(
        self,
        *,
        store: GraphStore,
        embedder: Embedder,
        extractor: Extractor,
        chunker: Chunker,
        resolution: ResolutionSettings,
        chunk_batch: int = 512,
    ) -> None:
        self.store = store
        self.chunk_batch = chunk_batch
        self.on_chunks: Callable[[int], None] | None = None
        """Called with the number of chunks each extraction + embedding step finished."""
        self.embedder = TimedEmbedder(embedder)
        self.extractor = extractor
        self.chunker = chunker
        self.settings = resolution
        self.reconciler = Reconciler(store, self.embedder, resolution, part_chunks=chunk_batch)

    async def ingest(self, documents: Sequence[Document], *, force: bool = False) -> IngestReport:
        """Write the documents that are new or changed; skip unchanged ones.

        Whatever an earlier, interrupted run left to resolve is finished too.

        Args:
            documents: Loaded documents (with ``text``).
            force: Rebuild documents even if their content hash is unchanged.

        Returns:
            The report; documents that failed are listed in ``failed`` and stored with status
            ``failed`` (the store keeps no partial data of them).
        """
        start = time.perf_counter()
        report = IngestReport(seen=len(documents))
        todo, replaced = await self._select(documents, force=force, report=report)
        embed_before = self.embedder.seconds
        chunked = await self._chunk(todo, report)
        large = [d for d in todo if len(chunked.get(d.id, ())) > self.chunk_batch]
        small = [d for d in todo if d.id in chunked and d not in large]
        graphs, vectors = await self._prepare(small, chunked, report)
        async with self.store.writer_lock():
            before = await self.store.stats()
            written = await self._write(graphs, replaced, report)
            with _stage(report, "resolve"):
                cache = {g.document.id: g.chunks for g in written}
                outcome = await self.reconciler.run(vectors=vectors, chunks=cache)
            _add_change(report, before, await self.store.stats(), outcome)
        for doc in large:
            if report.stopped:
                break
            await self._stream(doc, chunked[doc.id], doc.id in replaced, report)
        report.model_seconds += self.embedder.seconds - embed_before
        report.seconds = time.perf_counter() - start
        return report

    async def _select(
        self, documents: Sequence[Document], *, force: bool, report: IngestReport
    ) -> tuple[list[Document], set[str]]:
        unique: dict[str, Document] = {}
        for doc in documents:
            unique[doc.id] = doc  # the last version of a repeated source wins
        stored = {d.id: d for d in await self.store.get_documents(list(unique))}
        todo: list[Document] = []
        replaced: set[str] = set()
        for doc in unique.values():
            old = stored.get(doc.id)
            if old is not None and old.status is DocumentStatus.DONE:
                if old.content_hash == doc.content_hash and not force:
                    report.unchanged += 1
                    continue
                replaced.add(doc.id)
            elif old is not None and old.chunk_count > 0:
                # a failed rebuild keeps the previous version's chunks: writing replaces them
                replaced.add(doc.id)
            todo.append(doc)
        report.unchanged += len(documents) - len(unique)
        return todo, replaced

    async def _chunk(
        self, documents: list[Document], report: IngestReport
    ) -> dict[str, list[Chunk]]:
        """Chunk every document; one that chunks to nothing is recorded as failed."""
        with _stage(report, "chunk"):
            chunked = await asyncio.to_thread(
                lambda: {d.id: self.chunker.chunk(d.id, d.text) for d in documents}
            )
        for doc in documents:
            if not chunked[doc.id]:
                del chunked[doc.id]
                reason = f"{doc.source}: no text left after chunking; the document is empty"
                await self._fail(doc, reason, report)
        return chunked

    async def _prepare(
        self, documents: list[Document], chunked: dict[str, list[Chunk]], report: IngestReport
    ) -> tuple[list[DocumentGraph], dict[str, Vector]]:
        """Extract and embed (no lock held); isolate documents that fail."""
        if not documents:
            return [], {}
        try:
            graphs = await self._build(documents, chunked, report)
        except RUN_STOPS as exc:
            if len(documents) == 1:
                report.stopped = str(exc)
                return [], {}
            graphs = await self._one_by_one(documents, chunked, report)  # done chunks: cached
        except GraphRAGError as exc:
            if len(documents) == 1:
                await self._fail(documents[0], str(exc), report)
                return [], {}
            logger.warning(
                "batch of %d documents failed (%s); retrying one by one", len(documents), exc
            )
            graphs = await self._one_by_one(documents, chunked, report)
        with _stage(report, "resolve"):
            vectors = await self._key_vectors(graphs, {})
        return graphs, vectors

    async def _one_by_one(
        self, documents: list[Document], chunked: dict[str, list[Chunk]], report: IngestReport
    ) -> list[DocumentGraph]:
        """Prepare the documents one at a time, until a run stop (see :data:`RUN_STOPS`)."""
        graphs: list[DocumentGraph] = []
        for doc in documents:
            if report.stopped:
                break
            graphs += (await self._prepare([doc], chunked, report))[0]
        return graphs

    async def _build(
        self, documents: list[Document], chunked: dict[str, list[Chunk]], report: IngestReport
    ) -> list[DocumentGraph]:
        all_chunks = [c for doc in documents for c in chunked[doc.id]]
        for start in range(0, len(all_chunks), self.chunk_batch):
            await self._process(all_chunks[start : start + self.chunk_batch], report)
        return [_raw_graph(doc, chunked[doc.id]) for doc in documents]

    async def _process(self, chunks: list[Chunk], report: IngestReport) -> None:
        """Extract and embed one step of chunks (in place)."""
        with _stage(report, "extract"):
            ex_start = time.perf_counter()
            extractions = await self.extractor.extract(chunks)
            report.model_seconds += time.perf_counter() - ex_start
        for chunk, extraction in zip(chunks, extractions, strict=True):
            chunk.extraction = extraction
        with _stage(report, "embed_chunks"):
            vectors = await self.embedder.embed([c.text for c in chunks], kind="passage")
        for chunk, vector in zip(chunks, vectors, strict=True):
            chunk.embedding = vector
        if self.on_chunks is not None:
            self.on_chunks(len(chunks))

    async def _stream(
        self, doc: Document, chunks: list[Chunk], replaced: bool, report: IngestReport
    ) -> None:
        """A large document, part by part: extract, embed, write raw facts, free memory.

        Memory stays bounded by ``chunk_batch`` chunks. The writer lock is held for the whole
        document, so a ``processing`` document that another writer finds under the lock was
        left by an interrupted run (the reconciler removes it); the document is resolved and
        derived in parts as well.
        """
        status = {"chunk_count": len(chunks), "status": DocumentStatus.DONE}
        document = doc.model_copy(update=status)
        parts = [chunks[i : i + self.chunk_batch] for i in range(0, len(chunks), self.chunk_batch)]
        norms: dict[str, Vector] = {}
        async with self.store.writer_lock():
            before = await self.store.stats()
            written = 0
            try:
                for n, part in enumerate(parts):
                    await self._process(part, report)
                    with _stage(report, "resolve"):
                        graph = DocumentGraph(document=document, chunks=part)
                        await self._key_vectors([graph], norms)
                    with _stage(report, "write"):
                        await self.store.append_chunks(
                            document, part, first=n == 0, last=n == len(parts) - 1
                        )
                    written += 1
                    for chunk in part:  # written: let the part's extraction and vectors go
                        chunk.extraction, chunk.embedding = None, None
            except GraphRAGError as exc:
                if written:  # parts were written: remove them, the document is not there
                    await self._remove_partial(doc)
                if isinstance(exc, RUN_STOPS):
                    report.stopped = str(exc)
                else:
                    await self._fail(doc, str(exc), report)
                return
            report.written += 1
            report.replaced += int(replaced)
            report.chunks += len(chunks)
            with _stage(report, "resolve"):
                outcome = await self.reconciler.run(vectors=norms)
            _add_change(report, before, await self.store.stats(), outcome)

    async def _remove_partial(self, doc: Document) -> None:
        """Remove the parts of ``doc`` written before a failure (the writer lock is held)."""
        try:
            await self.store.delete_document(doc.id)
            await self.reconciler.run()
        except GraphRAGError as exc:  # the next writer removes the processing document
            logger.warning("could not remove the parts written of %s: %s", doc.source, exc)

    async def _key_vectors(
        self, graphs: list[DocumentGraph], norms: dict[str, Vector]
    ) -> dict[str, Vector]:
        """Embed, outside the writer lock, the batch's names the store has no vector for.

        One vector per normalised name (keys of one name share it, see the reconciler);
        ``norms`` holds names embedded earlier in this run and receives the new ones.

        Returns:
            ``norms``: normalised name -> vector.
        """
        wanted: set[str] = set()
        for graph in graphs:
            for chunk in graph.chunks:
                for row in surface_rows(chunk.extraction):
                    if embeddable(row.type, embed_concepts=self.settings.embed_concepts):
                        wanted.add(row.norm)
        wanted -= norms.keys()
        if not wanted:
            return norms
        same = await self.store.keys_by_norm(sorted(wanted))
        stored = [k for keys in same.values() for k in keys]
        known = {i.norm for i in await self.store.key_infos(stored) if i.embedding is not None}
        todo = sorted(wanted - known)
        if todo:
            vectors = await self.embedder.embed(todo, kind="name")
            norms.update({norm: vectors[i] for i, norm in enumerate(todo)})
        return norms

    async def _write(
        self, graphs: list[DocumentGraph], replaced: set[str], report: IngestReport
    ) -> list[DocumentGraph]:
        """Write the raw facts; return the graphs written (failed documents are recorded)."""
        if not graphs:
            return []
        with _stage(report, "write"):
            try:
                written = await self.store.upsert_documents(graphs, derived=False)
            except GraphRAGError as exc:
                if len(graphs) == 1:
                    await self._fail(graphs[0].document, str(exc), report)
                    return []
                logger.warning("batch write failed (%s); writing one by one", exc)
                done: list[DocumentGraph] = []
                for graph in graphs:
                    done += await self._write([graph], replaced, report)
                return done
        report.written += written.documents
        report.replaced += sum(1 for g in graphs if g.document.id in replaced)
        report.chunks += written.chunks
        return graphs

    async def _fail(self, document: Document, reason: str, report: IngestReport) -> None:
        logger.info("%s: %s", document.source, reason)  # the summary lists it
        report.failed.append((document.source, reason))
        try:
            await self.store.set_document_status(document, DocumentStatus.FAILED, error=reason)
        except GraphRAGError as exc:  # the store itself is failing; the report still says so
            logger.error("could not record the failure of %s: %s", document.source, exc)


@contextmanager
def _stage(report: IngestReport, name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        report.stage_seconds[name] = report.stage_seconds.get(name, 0.0) + (
            time.perf_counter() - start
        )


def _add_change(
    report: IngestReport, before: StoreStats, after: StoreStats, outcome: ReconcileReport
) -> None:
    """Count what the store gained under the writer lock (net: re-derived rows count once)."""
    report.entities_new += after.entities - before.entities
    report.relations_new += after.relations - before.relations
    report.mentions += after.mentions - before.mentions
    report.merges += after.merges - before.merges
    report.interrupted += outcome.interrupted


def _raw_graph(doc: Document, chunks: list[Chunk]) -> DocumentGraph:
    """A document with its chunks (extractions and embeddings attached), not yet derived."""
    document = doc.model_copy(update={"chunk_count": len(chunks), "status": DocumentStatus.DONE})
    return DocumentGraph(document=document, chunks=chunks)
