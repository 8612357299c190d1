"""Searches and graph reads of the ArangoDB store (a method group of ``ArangoGraphStore``).

Vector search goes through :class:`~graphrag.stores.arango.search.VectorSearch` (IVF indexes
when usable, else exact ``COSINE_SIMILARITY`` scans; communities always exactly), BM25
through the ``chunks_view`` search-alias view, and ``local``/``hybrid`` retrieval is one
round trip (:meth:`ArangoReads.candidates`). Every method is one idempotent query, retried
by the connection on transient failures.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from arango.database import StandardDatabase

from graphrag.config import ArangoSettings
from graphrag.errors import StoreQueryError
from graphrag.models import (
    CandidateRequest,
    Candidates,
    Chunk,
    Entity,
    Expansion,
    Hit,
    Subgraph,
    Vector,
)
from graphrag.ports import SearchTarget
from graphrag.stores.arango import mapping as m
from graphrag.stores.arango.connection import ArangoConnection
from graphrag.stores.arango.names import CHUNKS, COMMUNITIES, ENTITIES
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.search import VectorSearch

ALL_RELATIONS = 1_000_000
"""Relations returned by :meth:`ArangoGraphStore.expand` (the port has no cap)."""


def _check_target(target: str) -> None:
    if target not in (CHUNKS, ENTITIES, COMMUNITIES):
        msg = f"unknown search target {target!r}; use 'chunks', 'entities' or 'communities'"
        raise StoreQueryError(msg)


class ArangoReads:
    """Searches and graph reads over the store's connection (see the module docstring)."""

    _conn: ArangoConnection
    _queries: Queries
    _settings: ArangoSettings
    _vectors: VectorSearch

    async def _require_dim(self) -> int:
        raise NotImplementedError  # pragma: no cover - ArangoGraphStore defines it

    # ------------------------------------------------------------------ search

    async def vector_search(self, target: SearchTarget, vector: Vector, k: int) -> list[Hit]:
        """Return the ``k`` nearest chunks, entities or communities by cosine similarity.

        Communities are always scanned exactly (``search_communities_exact.aql``).

        Raises:
            StoreQueryError: On an unknown target or a vector of another dimension.
        """
        _check_target(target)
        query = m.query_vector(vector, await self._require_dim())
        if k <= 0:
            return []
        rows = await self._conn.run(
            f"vector search on {target}",
            lambda db: self._vectors.nearest(db, target, query, k),
            idempotent=True,
        )
        return m.hits(rows)

    async def vector_search_many(
        self, target: SearchTarget, vectors: Vector, k: int
    ) -> list[list[Hit]]:
        """Return the ``k`` nearest neighbours of each row of ``vectors`` (one query per batch).

        Raises:
            StoreQueryError: On an unknown target or vectors of another dimension.
        """
        _check_target(target)
        dim = await self._require_dim()
        queries = [m.query_vector(v, dim) for v in vectors]
        if k <= 0 or not queries:
            return [[] for _ in queries]
        out: list[list[Hit]] = []
        size = self._settings.batch_size
        for part in (queries[i : i + size] for i in range(0, len(queries), size)):

            def run(
                db: StandardDatabase, part: list[list[float]] = part
            ) -> list[list[dict[str, Any]]]:
                return self._vectors.nearest_many(db, target, part, k)

            rows = await self._conn.run(f"vector search on {target}", run, idempotent=True)
            out.extend(m.hits(r) for r in rows)
        return out

    async def keyword_search(self, text: str, k: int) -> list[Hit]:
        """Return the ``k`` best chunks by BM25 (any query word may match; stopwords dropped).

        The view is eventually consistent: chunks written in the last second or so (its
        commit interval) may not be found yet.
        """
        words = m.keyword_text(text)
        if not words or k <= 0:
            return []
        rows = await self._conn.run(
            "keyword search", lambda db: self._vectors.keyword(db, words, k), idempotent=True
        )
        return m.hits(rows)

    # ------------------------------------------------------------------ graph reads

    async def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        """Return chunks by id (unknown ids are skipped), in the order given."""
        keys = m.valid_keys(ids)
        if not keys:
            return []
        rows = await self._conn.run(
            "reading chunks", lambda db: self._queries.get_chunks(db, keys), idempotent=True
        )
        return m.in_order(list(ids), {r["_key"]: m.doc_to_chunk(r) for r in rows})

    async def get_entities(self, ids: Sequence[str], *, provenance: bool = True) -> list[Entity]:
        """Return entities by id (unknown skipped), in order.

        With provenance and embeddings by default; ``provenance=False`` reads neither
        (``get_entities_bare.aql``: no scan of a hub entity's mentions edges).
        """
        keys = m.valid_keys(ids)
        if not keys:
            return []
        rows = await self._conn.run(
            "reading entities",
            lambda db: self._queries.get_entities(db, keys, provenance=provenance),
            idempotent=True,
        )
        return m.in_order(
            list(ids),
            {r["_key"]: m.doc_to_entity(r, with_provenance=provenance) for r in rows},
        )

    async def find_entities(self, normalized_names: Sequence[str]) -> dict[str, list[str]]:
        """Map each normalised name to the ids of entities with that name or alias.

        Names that match nothing are absent; ids are most-mentioned first.
        """
        names = [n for n in dict.fromkeys(normalized_names) if n]
        if not names:
            return {}
        rows = await self._conn.run(
            "finding entities", lambda db: self._queries.find_entities(db, names), idempotent=True
        )
        return {str(r["name"]): [str(i) for i in r["ids"]] for r in rows}

    async def expand(
        self, seeds: Sequence[Hit], *, hops: int, degree_cap: int, max_entities: int
    ) -> Expansion:
        """Bounded BFS over relations from seed entities (see :class:`Expansion`).

        Each entity follows at most ``degree_cap`` neighbours (heaviest relations first);
        scores decay as ``seed.score / (1 + hops)``; known seeds are always kept.
        """
        rows = [{"id": h.id, "score": h.score} for h in seeds if m.valid_keys([h.id])]
        if not rows or max_entities <= 0:
            return Expansion(entities=[], relations=[], paths=[])
        row = await self._conn.run(
            "expanding entities",
            lambda db: self._queries.expand_entities(
                db,
                seeds=rows,
                hops=max(hops, 0),
                degree_cap=max(degree_cap, 0),
                max_entities=max_entities,
                max_relations=ALL_RELATIONS,
                graph=self._settings.graph_name,
            ),
            idempotent=True,
        )
        return m.expansion_from(row)

    def _candidate_binds(self, request: CandidateRequest, dim: int) -> dict[str, Any]:
        return {
            "query": m.query_vector(request.query_vector, dim),
            "text": m.keyword_text(request.query_text) if request.use_bm25 else "",
            "k_chunks": max(request.k_chunks, 0),
            "k_entities": max(request.k_entities, 0),
            "seed_ids": m.valid_keys(request.seed_entity_ids),
            "hops": max(request.hops, 0),
            "degree_cap": max(request.degree_cap, 0),
            "max_entities": max(request.max_entities, 0),
            "max_relations": max(request.max_relations, 0),
            "graph": self._settings.graph_name,
        }

    async def candidates(self, request: CandidateRequest) -> Candidates:
        """Vector seeds + BM25 + traversal + chunk collection in one AQL query.

        Explicit ``seed_entity_ids`` score 1.0 (or their vector score if higher); unknown
        ones are ignored.
        """
        binds = self._candidate_binds(request, await self._require_dim())
        row = await self._conn.run(
            "retrieving candidates",
            lambda db: self._vectors.candidates(db, binds),
            idempotent=True,
        )
        return m.candidates_from(row)

    async def subgraph(
        self,
        chunk_ids: Sequence[str],
        entity_ids: Sequence[str],
        *,
        degree_cap: int,
        include_relations: bool = True,
    ) -> Subgraph:
        """Return the entity-chunk graph within two hops of the given nodes (one query)."""
        chunks, entities = m.valid_keys(chunk_ids), m.valid_keys(entity_ids)
        if not chunks and not entities:
            return Subgraph(chunk_entity=[], entity_entity=[], entity_chunk_counts={})
        row = await self._conn.run(
            "fetching a subgraph",
            lambda db: self._queries.fetch_subgraph(
                db, chunks, entities, max(degree_cap, 0), include_relations
            ),
            idempotent=True,
        )
        return m.subgraph_from(row)
