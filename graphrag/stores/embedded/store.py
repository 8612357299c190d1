"""``EmbeddedGraphStore``: the default :class:`~graphrag.ports.GraphStore`, one SQLite file.

SQLite in WAL mode holds documents, chunks (with an FTS5 index for BM25), entities,
mentions, relations with their evidence, merge records, the graph analysis (entity ranks,
communities) and the operational records of the HTTP API (jobs, API keys). Vector search
and graph traversal run on numpy indexes kept in memory and rebuilt lazily after writes.

Blocking work runs in worker threads (``asyncio.to_thread``): one write connection guarded
by a lock, and one read connection per thread (WAL readers never block the writer).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence

import numpy as np

from graphrag.errors import StoreQueryError
from graphrag.models import (
    CandidateRequest,
    Candidates,
    Chunk,
    DeleteReport,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Expansion,
    Hit,
    MergeRecord,
    Relation,
    StoreStats,
    Subgraph,
    Vector,
    WriteReport,
)
from graphrag.ports import SearchTarget
from graphrag.stores.embedded import graph, keys, parts, reads, writes
from graphrag.stores.embedded.analysis import AnalysisMethods
from graphrag.stores.embedded.index import as_query_vector, fts_query
from graphrag.stores.embedded.records import RecordMethods
from graphrag.stores.embedded.resolution_methods import ResolutionMethods

logger = logging.getLogger(__name__)


class EmbeddedGraphStore(ResolutionMethods, RecordMethods, AnalysisMethods):
    """The embedded graph store: one SQLite file, no server.

    The method groups live beside it: resolution state (:mod:`.resolution_methods`), jobs and
    API keys (:mod:`.records`), the graph analysis and communities (:mod:`.analysis`).

    Example:
        ```python
        async def index_and_search(graphs: list[DocumentGraph], embedder: Embedder) -> list[Hit]:
            store = EmbeddedGraphStore(Path(".graphrag/graph.db"))
            await store.ensure_schema(embedding_model=embedder.model_name, dim=embedder.dim)
            await store.upsert_documents(graphs)
            hits = await store.keyword_search("radium institute", k=5)
            await store.close()
            return hits
        ```

    Args:
        path: The SQLite file (created with its parent folders by :meth:`ensure_schema`).
        writer_timeout: Seconds a writer waits for another process's writer lock.
    """

    async def stats(self) -> StoreStats:
        """Return object counts (with the resolution backlog)."""
        counts = await self._run(self._read, reads.counts)
        counts.update(await self._run(self._read, keys.resolution_counts))
        return StoreStats(
            backend="embedded", location=self.location, schema_version=self._version, **counts
        )

    # ------------------------------------------------------------------ documents

    async def get_document(self, document_id: str) -> Document | None:
        """Return a document by id, or ``None``."""
        return await self._run(self._read, reads.get_document, document_id)

    async def get_documents(self, ids: Sequence[str]) -> list[Document]:
        """Return the documents that exist among ``ids`` (one query per 500), in order."""
        return await self._run(self._read, reads.get_documents, list(ids))

    async def list_documents(
        self, *, status: DocumentStatus | None = None, limit: int | None = None
    ) -> list[Document]:
        """Return documents, newest first, optionally by status."""
        return await self._run(self._read, reads.list_documents, status, limit)

    def _upsert_all(self, graphs: Sequence[DocumentGraph], derived: bool) -> WriteReport:
        total = WriteReport()
        for position, doc_graph in enumerate(graphs):
            try:
                report = self._write(writes.upsert, doc_graph, self._dim, derived=derived)
            except StoreQueryError as exc:
                if position:
                    msg = f"{exc} (the {position} documents before it in the batch were written)"
                    raise type(exc)(msg) from exc
                raise
            for name, value in report:
                setattr(total, name, getattr(total, name) + value)
        return total

    async def upsert_documents(
        self, graphs: Sequence[DocumentGraph], *, derived: bool = True
    ) -> WriteReport:
        """Write documents and what they contribute; each document is one transaction.

        A document that exists is replaced: its old chunks, mentions and evidence are
        retracted first, and entities/relations left without support removed. Documents are
        written in order; the first invalid one stops the batch (earlier ones stay written).
        With ``derived=False`` only the document, its chunks and their extractions are
        written, and the document is pending (see :meth:`rederive_documents`).

        Raises:
            StoreQueryError: Naming the document that failed and why; nothing of it is written.
        """
        self._require_open()
        return await self._run(self._upsert_all, list(graphs), derived)

    async def append_chunks(
        self, document: Document, chunks: Sequence[Chunk], *, first: bool, last: bool
    ) -> WriteReport:
        """Write one part of a large document's raw facts (one transaction).

        Raises:
            StoreQueryError: If the part is invalid or no earlier part is being written.
        """
        self._require_open()
        graph = DocumentGraph(document=document, chunks=list(chunks))
        return await self._run(self._write, parts.append, graph, self._dim, first=first, last=last)

    async def delete_document(self, document_id: str) -> DeleteReport:
        """Remove a document and exactly what only it supported.

        Raises:
            NotFoundError: If the document does not exist.
        """
        return await self._run(self._write, writes.delete, document_id, self.location)

    async def set_document_status(
        self, document: Document, status: DocumentStatus, *, error: str | None = None
    ) -> None:
        """Record a document's processing state (creating a stub row if needed)."""
        await self._run(self._write, writes.set_status, document, status, error)

    # ------------------------------------------------------------------ search

    def _vector_search(self, target: SearchTarget, vector: Vector, k: int) -> list[Hit]:
        self._require_open()
        query = as_query_vector(vector, self._dim)
        return self._vectors(target).search(query, k)

    async def vector_search(self, target: SearchTarget, vector: Vector, k: int) -> list[Hit]:
        """Return the ``k`` nearest chunks, entities or communities by cosine similarity.

        Exact (numpy over the cached matrix); rows without an embedding are skipped.

        Raises:
            StoreQueryError: If the vector does not have the store's dimension.
        """
        return await self._run(self._vector_search, target, vector, k)

    def _vector_search_many(self, target: SearchTarget, vectors: Vector, k: int) -> list[list[Hit]]:
        self._require_open()
        rows = np.atleast_2d(np.asarray(vectors, dtype=np.float32))
        queries = np.stack([as_query_vector(v, self._dim) for v in rows]) if len(rows) else rows
        return self._vectors(target).search_many(queries, k)

    async def vector_search_many(
        self, target: SearchTarget, vectors: Vector, k: int
    ) -> list[list[Hit]]:
        """Return the ``k`` nearest neighbours of each row of ``vectors``.

        Raises:
            StoreQueryError: If the vectors do not have the store's dimension.
        """
        return await self._run(self._vector_search_many, target, vectors, k)

    def _keyword_search(self, text: str, k: int) -> list[Hit]:
        query = fts_query(text)
        if query is None or k <= 0:
            return []

        def run(conn: sqlite3.Connection) -> list[Hit]:
            found = conn.execute(
                "SELECT c.id, bm25(chunks_fts) AS s FROM chunks_fts "
                "JOIN chunks c ON c.rowid = chunks_fts.rowid "
                "WHERE chunks_fts MATCH ? ORDER BY s, c.rowid LIMIT ?",
                (query, k),
            )
            return [Hit(id=cid, score=-float(score)) for cid, score in found]

        return self._read(run)

    async def keyword_search(self, text: str, k: int) -> list[Hit]:
        """Return the ``k`` best chunks by BM25; any query word may match.

        The text is reduced to quoted words without stopwords, so FTS5 operators in it are
        matched as plain words, never interpreted.
        """
        return await self._run(self._keyword_search, text, k)

    # ------------------------------------------------------------------ graph reads

    async def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """Return chunks by id (unknown ids are skipped), in the order given."""
        return await self._run(self._read, reads.get_chunks, list(ids))

    async def get_entities(self, ids: Sequence[str], *, provenance: bool = True) -> list[Entity]:
        """Return entities (unknown skipped), in order.

        With provenance and embeddings by default; ``provenance=False`` leaves both out.
        """
        return await self._run(self._read, reads.get_entities, list(ids), provenance)

    async def find_entities(self, normalized_names: Sequence[str]) -> dict[str, list[str]]:
        """Map each normalised name to the ids of entities with that name or alias.

        Names that match nothing are absent from the result; ids are most-mentioned first.
        """
        return await self._run(self._read, reads.find_entities, list(normalized_names))

    def _expansion(
        self, seeds: Sequence[Hit], hops: int, degree_cap: int, max_entities: int,
        max_relations: int | None = None,
    ) -> Expansion:  # fmt: skip
        index = self._graph()
        reach = graph.expand(
            index, seeds, hops=hops, degree_cap=degree_cap, max_entities=max_entities
        )
        rel_pos = reach.relations if max_relations is None else reach.relations[:max_relations]
        relations = self._read(reads.get_relations, [index.rel_ids[i] for i in rel_pos.tolist()])
        ids = index.entity_ids
        return Expansion(
            entities=[
                Hit(id=ids[e], score=s)
                for e, s in zip(reach.entities.tolist(), reach.scores.tolist(), strict=True)
            ],
            relations=relations,
            paths=[[ids[p] for p in path] for path in reach.paths],
        )

    async def expand(
        self, seeds: Sequence[Hit], *, hops: int, degree_cap: int, max_entities: int
    ) -> Expansion:
        """Bounded BFS over relations from seed entities (see :class:`Expansion`).

        Each entity follows at most ``degree_cap`` neighbours (heaviest relations first);
        scores decay as ``seed.score / (1 + hops)``; known seeds are always kept.
        """
        return await self._run(self._expansion, list(seeds), hops, degree_cap, max_entities)

    def _candidates(self, request: CandidateRequest) -> Candidates:
        vector_chunks = self._vector_search("chunks", request.query_vector, request.k_chunks)
        bm25 = (
            self._keyword_search(request.query_text, request.k_chunks) if request.use_bm25 else []
        )
        seeds: dict[str, float] = {
            h.id: h.score
            for h in self._vector_search("entities", request.query_vector, request.k_entities)
        }
        index = self._graph()
        for seed_id in request.seed_entity_ids:
            if seed_id in index.entity_pos:
                seeds[seed_id] = max(seeds.get(seed_id, 1.0), 1.0)
        entity_seeds = [
            Hit(id=i, score=s) for i, s in sorted(seeds.items(), key=lambda x: (-x[1], x[0]))
        ]
        expansion = self._expansion(
            entity_seeds, request.hops, request.degree_cap, request.max_entities,
            request.max_relations,
        )  # fmt: skip
        positions = index.entity_positions([h.id for h in expansion.entities])
        scores = np.array([h.score for h in expansion.entities], dtype=float)
        graph_hits, chunk_entities = graph.graph_chunks(
            index, positions, scores, request.k_chunks, request.degree_cap
        )
        return Candidates(
            vector_chunks=vector_chunks,
            bm25_chunks=bm25,
            entity_seeds=entity_seeds,
            expansion=expansion,
            graph_chunks=graph_hits,
            chunk_entities=chunk_entities,
        )

    async def candidates(self, request: CandidateRequest) -> Candidates:
        """Vector seeds + BM25 + traversal + chunk collection in one call.

        Explicit ``seed_entity_ids`` score 1.0 (or their vector score if higher); unknown
        ones are ignored. Each kept entity adds at most ``degree_cap`` chunks, its strongest
        mentions (most spans) first, then by chunk id.
        """
        return await self._run(self._candidates, request)

    def _subgraph(
        self,
        chunk_ids: Sequence[str],
        entity_ids: Sequence[str],
        degree_cap: int,
        include_relations: bool,
    ) -> Subgraph:
        return graph.subgraph(
            self._graph(), chunk_ids, entity_ids, degree_cap, include_relations=include_relations
        )

    async def subgraph(
        self,
        chunk_ids: Sequence[str],
        entity_ids: Sequence[str],
        *,
        degree_cap: int,
        include_relations: bool = True,
    ) -> Subgraph:
        """Return the entity-chunk graph within two hops of the given nodes."""
        return await self._run(
            self._subgraph, list(chunk_ids), list(entity_ids), degree_cap, include_relations
        )

    # ------------------------------------------------------------------ merges, export

    async def merges(self, *, alias_ids: Sequence[str] | None = None) -> list[MergeRecord]:
        """Return merge records (active and undone), oldest first, optionally by alias."""
        wanted = None if alias_ids is None else list(alias_ids)
        return await self._run(self._read, reads.list_merges, wanted)

    async def mark_merge_undone(self, merge_id: str) -> MergeRecord:
        """Mark a merge as undone (idempotent: an undone merge keeps its first time).

        Raises:
            NotFoundError: If there is no such merge.
        """
        return await self._run(self._write, writes.mark_undone, merge_id, self.location)

    async def _document_graphs(self) -> AsyncIterator[DocumentGraph]:
        ids = await self._run(self._read, reads.done_document_ids)
        first = True
        for document_id in ids:
            found = await self._run(
                self._read, reads.document_graph, document_id, include_merges=first
            )
            if found is not None:
                first = False
                yield found

    def iter_document_graphs(self) -> AsyncIterator[DocumentGraph]:
        """Yield every written document as the graph that rebuilds it, oldest first.

        Relations carry only that document's evidence; all merge records come with the first
        document. Documents that are not ``done`` (failed, processing) are not yielded.
        """
        return self._document_graphs()

    async def all_relations(self) -> list[Relation]:
        """Return every relation with weight and supporting chunks (no evidence text)."""
        return await self._run(self._read, reads.all_relations)
