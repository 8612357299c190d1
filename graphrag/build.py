"""Graph building: load -> chunk -> extract -> resolve -> embed -> write.

:class:`GraphBuilder` turns loaded :class:`~graphrag.models.Document` objects into
:class:`~graphrag.models.DocumentGraph` units and writes them through the
:class:`~graphrag.ports.GraphStore` port. Each stage works on a whole batch (spaCy and the
embedding model are fastest on large batches); each document is still written atomically, and
a document that fails is isolated, recorded as ``failed`` and reported, while the rest of the
batch goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from graphrag.config import ResolutionSettings
from graphrag.errors import GraphRAGError
from graphrag.ids import entity_id, normalize_name, relation_id
from graphrag.models import (
    Chunk,
    ChunkExtraction,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Evidence,
    Mention,
    MergeRecord,
    RawMention,
    Relation,
    RelationKind,
    Vector,
)
from graphrag.ports import Chunker, Embedder, EmbedKind, Extractor, GraphStore
from graphrag.resolve import EntityResolver, Resolution, build_candidates

logger = logging.getLogger(__name__)

STAGES = ("chunk", "extract", "resolve", "embed_chunks", "write")


@dataclass
class IngestReport:
    """What one ingest run did.

    Attributes:
        seen: Documents handed to the builder.
        unchanged: Skipped because their content hash is already stored.
        written: Documents written (new or replaced).
        replaced: Of ``written``, documents that existed with other content.
        failed: ``(source, reason)`` per failed document.
        stage_seconds: Wall seconds per stage (see ``STAGES``).
        model_seconds: Seconds spent inside spaCy and the embedding model.
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
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    model_seconds: float = 0.0

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
            seconds=self.seconds + other.seconds,
            stage_seconds=stages,
            model_seconds=self.model_seconds + other.model_seconds,
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


@dataclass
class _Batch:
    """Intermediate state of one batch."""

    documents: list[Document]
    chunks: dict[str, list[Chunk]] = field(default_factory=dict)
    extractions: dict[str, ChunkExtraction] = field(default_factory=dict)


class GraphBuilder:
    """Builds document graphs and writes them to a store.

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
    ) -> None:
        self.store = store
        self.embedder = TimedEmbedder(embedder)
        self.extractor = extractor
        self.chunker = chunker
        self.resolver = EntityResolver(resolution, store, self.embedder)

    async def ingest(self, documents: Sequence[Document], *, force: bool = False) -> IngestReport:
        """Write the documents that are new or changed; skip unchanged ones.

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
        if todo:
            embed_before = self.embedder.seconds
            await self._run_batch(todo, replaced, report)
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

    async def _run_batch(
        self,
        documents: list[Document],
        replaced: set[str],
        report: IngestReport,
    ) -> None:
        try:
            graphs = await self._build(documents, report)
        except GraphRAGError as exc:
            if len(documents) == 1:
                await self._fail(documents[0], str(exc), report)
                return
            logger.warning(
                "batch of %d documents failed (%s); retrying one by one", len(documents), exc
            )
            for doc in documents:
                await self._run_batch([doc], replaced, report)
            return
        await self._write(graphs, replaced, report)

    async def _build(self, documents: list[Document], report: IngestReport) -> list[DocumentGraph]:
        batch = _Batch(documents)
        with _stage(report, "chunk"):
            batch.chunks = await asyncio.to_thread(self._chunk_all, documents)
        all_chunks = [c for doc in documents for c in batch.chunks[doc.id]]
        with _stage(report, "extract"):
            ex_start = time.perf_counter()
            extractions = await self.extractor.extract(all_chunks)
            report.model_seconds += time.perf_counter() - ex_start
        batch.extractions = {e.chunk_id: e for e in extractions}
        with _stage(report, "resolve"):
            resolution = await self._resolve(batch)
        with _stage(report, "embed_chunks"):
            vectors = await self.embedder.embed([c.text for c in all_chunks], kind="passage")
        for chunk, vector in zip(all_chunks, vectors, strict=True):
            chunk.embedding = vector
        return [_assemble(doc, batch, resolution) for doc in documents]

    def _chunk_all(self, documents: list[Document]) -> dict[str, list[Chunk]]:
        out: dict[str, list[Chunk]] = {}
        for doc in documents:
            chunks = self.chunker.chunk(doc.id, doc.text)
            if not chunks:
                msg = f"{doc.source}: no text left after chunking; the document is empty"
                raise GraphRAGError(msg)
            out[doc.id] = chunks
        return out

    async def _resolve(self, batch: _Batch) -> Resolution:
        items = [
            (doc.id, mention)
            for doc in batch.documents
            for chunk in batch.chunks[doc.id]
            for mention in batch.extractions[chunk.id].mentions
        ]
        return await self.resolver.resolve(build_candidates(items))

    async def _write(
        self, graphs: list[DocumentGraph], replaced: set[str], report: IngestReport
    ) -> None:
        with _stage(report, "write"):
            try:
                written = await self.store.upsert_documents(graphs)
            except GraphRAGError as exc:
                if len(graphs) == 1:
                    await self._fail(graphs[0].document, str(exc), report)
                    return
                logger.warning("batch write failed (%s); writing one by one", exc)
                for graph in graphs:
                    await self._write([graph], replaced, report)
                return
        report.written += written.documents
        report.replaced += sum(1 for g in graphs if g.document.id in replaced)
        report.chunks += written.chunks
        report.entities_new += written.entities_new
        report.relations_new += written.relations_new
        report.mentions += written.mentions
        report.merges += written.merges

    async def _fail(self, document: Document, reason: str, report: IngestReport) -> None:
        logger.error("%s: %s", document.source, reason)
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


def _assemble(doc: Document, batch: _Batch, resolution: Resolution) -> DocumentGraph:
    """Build the :class:`DocumentGraph` of one document from the batch results."""
    chunks = batch.chunks[doc.id]
    entities: dict[str, Entity] = {}
    mentions: dict[tuple[str, str], Mention] = {}
    relations: dict[str, Relation] = {}
    used_keys: set[str] = set()
    for chunk in chunks:
        extraction = batch.extractions[chunk.id]
        ids: list[str | None] = []
        for raw in extraction.mentions:
            key = mention_key(raw)
            entity = resolution.canonical.get(key) if key else None
            if key is None or entity is None:  # unusable surface (empty after normalising)
                ids.append(None)
                continue
            used_keys.add(key)
            entities[entity.id] = entity
            ids.append(entity.id)
            _add_mention(mentions, chunk.id, entity.id, raw.surface, (raw.start, raw.end))
        for raw_rel in extraction.relations:
            src, dst = ids[raw_rel.subject], ids[raw_rel.object]
            if src is None or dst is None or src == dst:
                continue
            _add_relation(
                relations,
                chunk.id,
                src,
                dst,
                raw_rel.predicate,
                raw_rel.kind,
                raw_rel.sentence,
                raw_rel.weight,
            )
    merges = _merges_for(resolution.merges, used_keys)
    document = doc.model_copy(update={"chunk_count": len(chunks), "status": DocumentStatus.DONE})
    return DocumentGraph(
        document=document,
        chunks=chunks,
        entities=list(entities.values()),
        mentions=list(mentions.values()),
        relations=list(relations.values()),
        merges=merges,
    )


def mention_key(raw: RawMention) -> str | None:
    """Return the candidate key of a raw mention (``None`` if its name normalises to nothing)."""
    norm = normalize_name(raw.surface)
    return entity_id(norm, raw.type) if norm else None


def _add_mention(
    mentions: dict[tuple[str, str], Mention],
    chunk_id: str,
    entity_id: str,
    surface: str,
    span: tuple[int, int],
) -> None:
    mention = mentions.get((chunk_id, entity_id))
    if mention is None:
        mentions[(chunk_id, entity_id)] = Mention(
            chunk_id=chunk_id, entity_id=entity_id, surface_forms=[surface], spans=[span]
        )
        return
    if surface not in mention.surface_forms:
        mention.surface_forms.append(surface)
    mention.spans.append(span)


def _add_relation(
    relations: dict[str, Relation],
    chunk_id: str,
    src: str,
    dst: str,
    predicate: str,
    kind: RelationKind,
    sentence: str,
    weight: float,
) -> None:
    if kind is RelationKind.COOCCURRENCE and dst < src:
        src, dst = dst, src  # co-occurrence is undirected: one canonical direction
    rid = relation_id(src, predicate, dst)
    relation = relations.get(rid)
    if relation is None:
        relation = Relation(
            id=rid, source_id=src, target_id=dst, predicate=predicate, kind=kind, weight=0.0
        )
        relations[rid] = relation
    relation.weight += weight
    for evidence in relation.evidence:
        if evidence.chunk_id == chunk_id and evidence.sentence == sentence:
            evidence.weight += weight
            return
    relation.evidence.append(Evidence(chunk_id=chunk_id, sentence=sentence, weight=weight))


def _merges_for(merges: Sequence[MergeRecord], used_keys: set[str]) -> list[MergeRecord]:
    """The merge records whose alias appears in this document."""
    return [m for m in merges if m.alias_id in used_keys]
