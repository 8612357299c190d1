"""Bring the derived graph in line with the stored facts (under the store's writer lock).

Writes and deletes mark the keys whose counts changed as *dirty*. :class:`Reconciler`
resolves the dirty keys: it embeds and links new keys, collects every key connected to them
(their *region*: same name, acronym partners, similarity links, transitively), groups the
region with :func:`~graphrag.resolution.cluster.cluster`, applies the outcome (assignments,
merge records, entity views) in one transaction and marks the documents whose keys changed
entity as *pending*; then it derives every pending document again from its stored chunk
extractions. Each step is idempotent and its state is stored, so a pass interrupted at any
point (``kill -9``) is finished by the next one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from graphrag.config import ResolutionSettings
from graphrag.errors import StoreQueryError
from graphrag.ids import chunk_id
from graphrag.models import Chunk, Document, DocumentGraph, Entity, Vector, WriteReport
from graphrag.ports import Embedder, GraphStore
from graphrag.resolution.assemble import assemble, chunk_keys
from graphrag.resolution.cluster import (
    acronym_edges,
    acronym_pairs,
    cluster,
    entity_view,
    link_edges,
    merge_records,
    type_edges,
)
from graphrag.resolution.keys import acronym_norm, embeddable, initials, linkable
from graphrag.resolution.models import KeyInfo, KeyLink, ResolutionChange

logger = logging.getLogger(__name__)

DIRTY_BATCH = 20_000
"""Dirty keys resolved per pass."""
PENDING_BATCH = 64
"""Documents derived again per store call."""
MAX_LINKS = 32
"""Most similarity links searched per new key."""
SCORE_DECIMALS = 4
"""Link scores are rounded: a name embedded in another batch differs by about 1e-7, which
must not reorder near-equal links (the grouping would then depend on batch composition)."""
LARGE_REGION = 50_000


@dataclass
class ReconcileReport:
    """What a reconciliation did."""

    keys: int = 0
    region: int = 0
    interrupted: int = 0
    already_undone: bool = False
    removed: int = 0
    merges: int = 0
    documents: int = 0
    written: WriteReport = field(default_factory=WriteReport)
    seconds: float = 0.0


class Reconciler:
    """Resolves dirty keys and derives pending documents (see the module docstring).

    The caller holds ``store.writer_lock()`` while :meth:`run` works.

    Args:
        store: The graph store.
        embedder: Embeds the names of new keys.
        settings: Threshold and switches of the resolution rules.
    """

    def __init__(
        self,
        store: GraphStore,
        embedder: Embedder,
        settings: ResolutionSettings,
        *,
        part_chunks: int = 512,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._settings = settings
        self._part = part_chunks

    async def run(
        self,
        *,
        vectors: Mapping[str, Vector] | None = None,
        chunks: Mapping[str, Sequence[Chunk]] | None = None,
    ) -> ReconcileReport:
        """Resolve every dirty key, then derive every pending document.

        Args:
            vectors: Name embeddings already computed, by normalised name.
            chunks: Chunks (with extractions) already in memory, by document id.

        Returns:
            What was done.

        Raises:
            StoreError: If the store fails; what was done so far stays consistent.
            EmbeddingError: If new names cannot be embedded.
        """
        start = time.perf_counter()
        report = ReconcileReport()
        await self._remove_interrupted(report)
        while dirty := await self._store.dirty_keys(DIRTY_BATCH):
            infos = {i.key: i for i in await self._store.key_infos(dirty)}
            await self._link(list(infos.values()), vectors or {})
            region, links = await self._region(infos)
            change = await self._plan(region, links)
            report.merges += await self._store.apply_resolution(change)
            await self._derive_pending(chunks or {}, report)
            await self._store.clear_dirty(dirty)
            report.keys += len(dirty)
            report.region += len(region)
            report.removed += len(change.removed)
        await self._derive_pending(chunks or {}, report)
        report.seconds = time.perf_counter() - start
        if report.keys or report.documents:
            logger.info(
                "resolved %d keys (region %d, %d removed, %d new merges) and derived %d "
                "documents in %.2f s",
                report.keys, report.region, report.removed, report.merges, report.documents,
                report.seconds,
            )  # fmt: skip
        return report

    async def _remove_interrupted(self, report: ReconcileReport) -> None:
        """Remove documents a run interrupted while writing them in parts.

        A large document is ``processing`` while its parts are written, under the writer
        lock the caller holds now; so one found here was left by a run that stopped.
        """
        from graphrag.models import DocumentStatus

        for doc in await self._store.list_documents(status=DocumentStatus.PROCESSING):
            logger.warning(
                "removing %s: an interrupted run left it partly written; ingest it again",
                doc.source,
            )
            await self._store.delete_document(doc.id)
            report.interrupted += 1

    # ------------------------------------------------------------------ new keys

    async def _link(self, infos: list[KeyInfo], vectors: Mapping[str, Vector]) -> None:
        """Embed new keys and link them to every key with a similar name."""
        todo = [i for i in infos if not i.linked and i.support > 0]
        if not todo:
            return
        concepts = self._settings.embed_concepts
        named = [i for i in todo if embeddable(i.type, embed_concepts=concepts)]
        await self._embed(named, vectors)
        links: dict[tuple[str, str], KeyLink] = {}
        if self._settings.enabled and named:
            matrix = np.stack([np.asarray(i.embedding, dtype=np.float32) for i in named])
            threshold = self._settings.similarity_threshold
            hits = await self._store.similar_keys(matrix, threshold, MAX_LINKS)
            known = {i.key: i for i in infos}
            wanted = sorted({h.id for row in hits for h in row} - known.keys())
            known.update({i.key: i for i in await self._store.key_infos(wanted)} if wanted else {})
            for info, row in zip(named, hits, strict=True):
                for hit in row:
                    other = known.get(hit.id)
                    if other is None or other.key == info.key:
                        continue
                    if linkable(info.norm, info.type, other.norm, other.type):
                        a, b = sorted((info.key, other.key))
                        score = round(min(float(hit.score), 1.0), SCORE_DECIMALS)
                        if score >= threshold:
                            links[(a, b)] = KeyLink(a=a, b=b, score=score)
        await self._store.add_key_links(list(links.values()), [i.key for i in todo])

    async def _embed(self, infos: list[KeyInfo], vectors: Mapping[str, Vector]) -> None:
        """Give keys their name vector; keys with the same normalised name share one."""
        missing = [i for i in infos if i.embedding is None]
        if not missing:
            return
        by_norm = await self._shared_vectors(sorted({i.norm for i in missing}))
        for info in missing:
            if info.norm not in by_norm and info.norm in vectors:
                by_norm[info.norm] = vectors[info.norm]
        rest = sorted({i.norm for i in missing} - by_norm.keys())
        if rest:
            embedded = await self._embedder.embed(rest, kind="name")
            by_norm.update({norm: embedded[n] for n, norm in enumerate(rest)})
        await self._store.set_key_embeddings({i.key: by_norm[i.norm] for i in missing})
        for info in missing:
            info.embedding = by_norm[info.norm]

    async def _shared_vectors(self, norms: list[str]) -> dict[str, Vector]:
        """The stored vector of each name that another key (another type) already has."""
        same = await self._store.keys_by_norm(norms)
        keys = sorted({k for found in same.values() for k in found})
        found: dict[str, Vector] = {}
        for info in await self._store.key_infos(keys) if keys else []:
            if info.embedding is not None:
                found.setdefault(info.norm, info.embedding)
        return found

    # ------------------------------------------------------------------ regions

    async def _region(
        self, infos: dict[str, KeyInfo]
    ) -> tuple[dict[str, KeyInfo], dict[tuple[str, str], KeyLink]]:
        """Every key connected to the dirty ones, with the links among them."""
        region = dict(infos)
        links: dict[tuple[str, str], KeyLink] = {}
        frontier = list(region)
        while frontier:
            found: set[str] = set()
            for link in await self._store.key_links(frontier):
                links[(link.a, link.b)] = link
                found.update((link.a, link.b))
            norms = {region[k].norm for k in frontier}
            long_forms = {initials(n) for n in norms} - {None}
            names = sorted(norms | {str(a).lower() for a in long_forms})
            for keys in (await self._store.keys_by_norm(names)).values():
                found.update(keys)
            acronyms = sorted({n.upper() for n in norms if acronym_norm(n)})
            if acronyms:
                for keys in (await self._store.keys_by_initials(acronyms)).values():
                    found.update(keys)
            new = sorted(found - region.keys())
            fetched = await self._store.key_infos(new) if new else []
            region.update({i.key: i for i in fetched})
            frontier = [i.key for i in fetched]
        if len(region) > LARGE_REGION:
            logger.warning("a resolution region holds %d keys; this pass is slow", len(region))
        return region, links

    async def _plan(
        self, region: dict[str, KeyInfo], links: Mapping[tuple[str, str], KeyLink]
    ) -> ResolutionChange:
        """Group the region's live keys and decide what changes."""
        live = {k: i for k, i in region.items() if i.support > 0}
        removed = sorted(k for k, i in region.items() if i.support == 0)
        pairs = acronym_pairs(live) if self._settings.acronyms else []
        shared = await self._store.shared_documents(pairs) if pairs else set()
        edges = type_edges(live) + acronym_edges(pairs, shared)
        if self._settings.enabled:
            edges += link_edges(links.values(), live, self._settings.similarity_threshold)
        records = await self._store.merges(alias_ids=sorted(live)) if live else []
        blocked = {
            frozenset((r.alias_id, r.canonical_id)) for r in records if r.undone_at is not None
        }
        clustering = cluster(live, edges, blocked)
        entities = [
            entity_view(live[canonical], [live[m] for m in members])
            for canonical, members in clustering.groups().items()
        ]
        changed = sorted(k for k, i in live.items() if i.entity_id != clustering.canonical[k])
        documents = await self._store.documents_of_keys(changed) if changed else []
        return ResolutionChange(
            region=sorted(region),
            assignments=clustering.canonical,
            removed=removed,
            merges=merge_records(clustering, live),
            entities=entities,
            documents=documents,
        )

    # ------------------------------------------------------------------ documents

    async def _derive_pending(
        self, cache: Mapping[str, Sequence[Chunk]], report: ReconcileReport
    ) -> None:
        """Derive every pending document again from its stored chunks."""
        previous: list[str] = []
        while ids := await self._store.pending_documents(PENDING_BATCH):
            if ids == previous:
                msg = (
                    f"documents {ids[:3]} stay pending after being derived again; the store "
                    "did not record the write. Check the store's logs and rerun the ingest"
                )
                raise StoreQueryError(msg)
            previous = ids
            documents = await self._store.get_documents(ids)
            small = [d for d in documents if d.chunk_count <= self._part or d.id in cache]
            if small:
                graphs = await self._graphs(small, cache)
                _add(report, await self._store.rederive_documents(graphs), len(graphs))
            done = {d.id for d in small}
            for doc in documents:
                if doc.id not in done:
                    await self._derive_in_parts(doc, report)

    async def _derive_in_parts(self, doc: Document, report: ReconcileReport) -> None:
        """A large document, part by part (bounded memory); pending until its last part."""
        ids = [chunk_id(doc.id, n) for n in range(doc.chunk_count)]
        parts = [ids[i : i + self._part] for i in range(0, len(ids), self._part)]
        for n, part in enumerate(parts):
            chunks = await self._store.get_chunks(part)
            [graph] = await self._graphs([doc], {doc.id: chunks})
            written = await self._store.rederive_documents(
                [graph], replace=n == 0, finish=n == len(parts) - 1
            )
            _add(report, written, 1 if n == len(parts) - 1 else 0)

    async def _graphs(
        self, documents: list[Document], cache: Mapping[str, Sequence[Chunk]]
    ) -> list[DocumentGraph]:
        chunks = await self._chunks(documents, cache)
        keys = chunk_keys([c for doc in documents for c in chunks[doc.id]])
        infos = {i.key: i for i in await self._store.key_infos(keys)} if keys else {}
        assignments = {k: (i.entity_id or k) for k, i in infos.items()}
        views = await self._views(sorted(set(assignments.values())), infos)
        return [assemble(doc, chunks[doc.id], assignments, views) for doc in documents]

    async def _chunks(
        self, documents: list[Document], cache: Mapping[str, Sequence[Chunk]]
    ) -> dict[str, list[Chunk]]:
        out = {d.id: list(cache[d.id]) for d in documents if d.id in cache}
        wanted = [
            chunk_id(d.id, n) for d in documents if d.id not in out for n in range(d.chunk_count)
        ]
        stored: dict[str, list[Chunk]] = {}
        for chunk in await self._store.get_chunks(wanted) if wanted else []:
            stored.setdefault(chunk.document_id, []).append(chunk)
        for doc in documents:
            out.setdefault(doc.id, sorted(stored.get(doc.id, []), key=lambda c: c.ordinal))
        return out

    async def _views(self, entity_ids: list[str], infos: dict[str, KeyInfo]) -> dict[str, Entity]:
        """The derived view of each entity, from the keys that resolve to it."""
        members = await self._store.keys_of_entities(entity_ids) if entity_ids else {}
        wanted = sorted({k for keys in members.values() for k in keys} - infos.keys())
        if wanted:
            infos = {**infos, **{i.key: i for i in await self._store.key_infos(wanted)}}
        views: dict[str, Entity] = {}
        for eid in entity_ids:
            group = [infos[k] for k in members.get(eid, []) if k in infos]
            canonical = infos.get(eid)
            if canonical is None:  # only an unresolved key points here: it stands alone
                continue
            views[eid] = entity_view(canonical, group or [canonical])
        return views


def _add(report: ReconcileReport, written: WriteReport, documents: int) -> None:
    report.documents += documents
    for name, value in written:
        setattr(report.written, name, getattr(report.written, name) + value)
