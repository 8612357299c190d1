"""Graph analysis results on ArangoDB: entity ranks and communities, stored by generation.

Each :meth:`ArangoAnalysis.save_analysis` writes a new **generation** next to the current one
and switches to it with one small write; nothing is rewritten in place, so no statement grows
beyond one batch and entity documents (with their embeddings) are not written (but once, see
the migration below). Ingestion and the analysis write the same documents only when a
document delete removes a ``member_of`` edge that the cleanup is removing too (or, once, an
entity whose old rank is being removed); such write conflicts are retried per statement.
The save is run by :mod:`graphrag.stores.arango.generations`.

Where the results live (:mod:`graphrag.stores.arango.names`):

- ``entity_ranks``: one ``{generation, entity, rank}`` document per ranked entity, keyed
  ``<generation>_<entity key>``. Entity reads (``get_entities.aql``, ``export_document.aql``)
  take the rank with a primary-key ``DOCUMENT()`` lookup of that key and merge it into the
  row, so saving ranks never writes entity documents. An entity key longer than 254 - 22
  characters cannot be ranked (:func:`~graphrag.stores.arango.generations.rank_payload`;
  :mod:`graphrag.ids` keys have 34).
- ``communities``: keyed ``<generation>_<id>``, with ``id`` and ``generation``; community ids
  may have at most 254 - 22 characters. ``member_of`` edges (entity -> community) carry the
  ``generation`` and are keyed ``<generation>_<n>``.
- ``analysis``: ``analysis/current`` ``{generation, previous, analyzed_at, communities,
  embedded, documents, entities}`` is the record readers follow; ``analysis/lease``
  ``{generation, expires}`` names the one analysis being saved.
- Persistent indexes on ``generation`` (``idx_entity_ranks_generation``,
  ``idx_communities_generation`` with level and ordinal, ``idx_member_of_generation``)
  serve the per-generation reads, the batched removals and the listing of generations.

The save (:func:`~graphrag.stores.arango.generations.save_generation`): take the lease, list
the generations present, write ranks, communities and edges in batches (one AQL statement
each, retried on write conflicts), then **switch**: ``save_analysis_state.aql`` replaces
``analysis/current`` and releases the lease in one statement, only if the lease is still
held. Afterwards the generations listed at the start (the previous one, and any left by an
interrupted save) are removed in batches, outside any transaction. A crash or error before
the switch changes nothing readers see; the lease expires (or is released) and the next
analysis removes the orphaned generation. Only one analysis saves at a time: a second one is
refused while the lease is held (:data:`~graphrag.stores.arango.generations.LEASE_SECONDS`).

Readers filter by the current generation: ``list_communities.aql``, ``get_communities.aql``
(primary keys ``<generation>_<id>``), ``list_entity_communities.aql``,
``search_communities_exact*.aql``, ``stats.aql`` and the analysts'
``analyst/top_entities_by_rank.aql`` read ``DOCUMENT("analysis", "current").generation``;
``get_analysis_state.aql`` reads the record.
``delete_document.aql`` removes the ``member_of`` edges out of the entities it deletes, of
every generation (edge index on ``_from``), so listings only show live members; a deleted
entity's rank documents stay, unread, until their generation is removed.

Migration from schema version 3 (ranks on entity documents, the record in ``meta/analysis``,
communities and edges without generation): ``ensure_schema`` creates the new collections
and indexes; nothing is converted. Until the first new analysis, readers find no
``analysis/current``, so the generation they filter by is ``null``, which selects the old
communities and edges (they have no ``generation``); ranks come from the entity documents and
the record from ``meta/analysis``. The first new analysis removes the old communities and
edges (generation ``null``) after its switch and the old ``rank`` attributes (once, in
batches); ``meta/analysis`` stays as an inert leftover (the writer may not write ``meta``).

Privileges: the analysis writes ``entity_ranks``, ``communities``, ``member_of``,
``analysis`` and (once) ``entities``, all ``rw`` for the least-privilege writer
(:data:`~graphrag.stores.arango.users.WRITER_COLLECTIONS`), so it runs as
``GRAPHRAG_ARANGO__USERNAME`` instead of the admin: it no longer writes ``meta``, needs no
database-level right, and a long series of small data writes should not hold credentials
that can drop collections. Run ``create_users`` (or ``create-users.js``) again after the
upgrade so the writer gets ``rw`` on the new collections.

Community summaries are searched by **exact** ``COSINE_SIMILARITY`` scans of the current
generation (``search_communities_exact.aql``), never through a vector index: there are few
communities (804 for the 17k entities of musique_train), and every analysis writes a new
generation, while an IVF index is trained once, on the vectors present when it is built.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from arango.database import Database

from graphrag.config import ArangoSettings
from graphrag.errors import StoreQueryError
from graphrag.models import AnalysisState, Community, DocumentStatus
from graphrag.stores.arango.connection import ArangoConnection
from graphrag.stores.arango.generations import (
    GenerationPlan,
    Lease,
    key_room,
    new_generation,
    rank_payload,
    save_generation,
)
from graphrag.stores.arango.mapping import (
    Doc,
    check_key,
    from_time,
    list_to_vector,
    valid_keys,
    vector_to_list,
)
from graphrag.stores.arango.queries import Queries

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------- readers


def query_list_communities(queries: Queries, db: Database) -> list[Doc]:
    """Communities of the current generation by level and ordinal, with ``member_ids``."""
    return queries.rows(db, "list_communities", {})


def query_get_communities(queries: Queries, db: Database, keys: Sequence[str]) -> list[Doc]:
    """Communities of the current generation by id (any order), with ``member_ids``."""
    return queries.rows(db, "get_communities", {"keys": list(keys)})


def query_entity_communities(queries: Queries, db: Database, keys: Sequence[str]) -> list[Doc]:
    """``{entity, community}`` rows for the entities of ``keys``, by level then ordinal."""
    return queries.rows(db, "list_entity_communities", {"keys": list(keys)})


def query_analysis_state(queries: Queries, db: Database) -> Doc | None:
    """The record of the current analysis with its ``stale`` flag, or ``None``."""
    statuses = [str(status) for status in DocumentStatus]
    found: Doc | None = queries.one(db, "get_analysis_state", {"statuses": statuses})
    return found


# --------------------------------------------------------------------------- mapping


def community_to_doc(community: Community, generation: str) -> Doc:
    """Return the ``communities`` document of a community in ``generation``.

    Members go to ``member_of`` edges (:func:`community_payload`).
    """
    return {
        "_key": f"{generation}_{community.id}",
        "id": community.id,
        "generation": generation,
        "level": community.level,
        "ordinal": community.ordinal,
        "title": community.title,
        "summary": community.summary,
        "size": len(dict.fromkeys(community.member_ids)),
        "chunk_ids": list(dict.fromkeys(community.chunk_ids)),
        "embedding": vector_to_list(community.embedding),
    }


def doc_to_community(doc: Doc) -> Community:
    """Build a :class:`Community` from a row of ``list_communities.aql``."""
    return Community(
        id=str(doc.get("id") or doc["_key"]),
        level=int(doc["level"]),
        ordinal=int(doc["ordinal"]),
        member_ids=list(doc.get("member_ids") or []),
        title=doc.get("title") or "",
        summary=doc.get("summary"),
        chunk_ids=list(doc.get("chunk_ids") or []),
        embedding=list_to_vector(doc.get("embedding")),
    )


def doc_to_state(doc: Doc) -> AnalysisState:
    """Build an :class:`AnalysisState` from a row of ``get_analysis_state.aql``."""
    return AnalysisState(
        analyzed_at=from_time(doc.get("analyzed_at")) or datetime.now(UTC),
        communities=int(doc.get("communities") or 0),
        embedded=int(doc.get("embedded") or 0),
        stale=bool(doc.get("stale")),
    )


def _fail(problem: str) -> StoreQueryError:
    return StoreQueryError(
        f"the graph analysis was not saved: {problem}; nothing of it was written "
        "(fix the analysis input and save again)"
    )


def rank_items(ranks: Mapping[str, float]) -> list[Doc]:
    """Return ``[{key, rank}]`` for the ranks of ids that can be entity keys.

    Raises:
        StoreQueryError: If a rank is not a finite number.
    """
    items: list[Doc] = []
    for key in valid_keys(ranks):
        rank = float(ranks[key])
        if not math.isfinite(rank):
            raise _fail(f"entity {key} has the rank {ranks[key]!r} (ranks must be finite)")
        items.append({"key": key, "rank": rank})
    return items


def _check_community(community: Community, generation: str, seen: set[str]) -> None:
    check_key("community", community.id)
    if community.id in seen:
        raise _fail(f"community id {community.id!r} appears twice")
    if len(community.id) > key_room(generation):
        size = len(community.id)
        raise _fail(f"community id {community.id!r} has {size} characters, over the "
                    f"{key_room(generation)} that fit in a key with its generation")  # fmt: skip
    seen.add(community.id)


def community_payload(
    communities: Sequence[Community], dim: int, generation: str
) -> tuple[list[Doc], list[Doc]]:
    """Validate communities; return their documents and ``member_of`` items in ``generation``.

    Raises:
        StoreQueryError: On an invalid, too long or repeated community id, or an embedding
            of another dimension than ``dim``.
    """
    docs: list[Doc] = []
    members: list[Doc] = []
    seen: set[str] = set()
    for community in communities:
        _check_community(community, generation, seen)
        doc = community_to_doc(community, generation)
        if doc["embedding"] is not None and len(doc["embedding"]) != dim:
            size = len(doc["embedding"])
            raise _fail(f"community {community.id} has a {size}-d embedding, the store uses {dim}")
        docs.append(doc)
        members.extend(
            {"entity": entity, "community": community.id, "position": position}
            for position, entity in enumerate(valid_keys(community.member_ids))
        )
    for n, item in enumerate(members):
        item["key"] = f"{generation}_{n}"
    return docs, members


def analysis_plan(
    ranks: Mapping[str, float], communities: Sequence[Community], dim: int, batch_size: int
) -> GenerationPlan:
    """Validate an analysis and return what its new generation writes (no I/O).

    Raises:
        StoreQueryError: See :func:`rank_items` and :func:`community_payload`.
    """
    generation = new_generation()
    items = rank_payload(rank_items(ranks), generation)
    docs, members = community_payload(communities, dim, generation)
    return GenerationPlan(generation, items, docs, members, batch_size)


# --------------------------------------------------------------------------- store methods


class ArangoAnalysis:
    """Entity ranks, communities and the record of the last analysis on ArangoDB."""

    _conn: ArangoConnection
    _queries: Queries
    _settings: ArangoSettings

    async def _require_dim(self) -> int:
        raise NotImplementedError  # pragma: no cover - provided by the store

    async def save_analysis(
        self, ranks: Mapping[str, float], communities: Sequence[Community]
    ) -> None:
        """Store entity ranks and replace all communities atomically (a new generation).

        Entities not in ``ranks`` get no rank; unknown entity ids (in ranks or members) are
        ignored. Readers switch from the previous analysis to this one at once, when its
        record ``analysis/current`` is written (see :meth:`analysis_state`).

        Raises:
            StoreQueryError: On a non-finite rank, an invalid or repeated community id, a
                community embedding of another dimension, or a server error (the previous
                analysis stays current).
            StoreUnavailableError: If another analysis is being saved.
        """
        plan = analysis_plan(
            ranks, communities, await self._require_dim(), self._settings.batch_size
        )
        lease = Lease(self._queries, plan.generation)
        counts = await self._conn.run(
            "saving the graph analysis",
            lambda db: save_generation(db, self._queries, plan, lease),
        )  # as the writer: every collection it writes is rw for kg_writer (module docstring)
        logger.debug("saved the graph analysis %s: %s", plan.generation, counts)

    async def list_communities(self) -> list[Community]:
        """Return the stored communities (level, then ordinal), members in saved order."""
        rows = await self._conn.run(
            "listing communities",
            lambda db: query_list_communities(self._queries, db),
            idempotent=True,
        )
        return [doc_to_community(r) for r in rows]

    async def get_communities(self, ids: Sequence[str]) -> list[Community]:
        """Return communities by id with members, chunk ids and embedding, in order."""
        keys = valid_keys(ids)
        if not keys:
            return []
        rows = await self._conn.run(
            "reading communities",
            lambda db: query_get_communities(self._queries, db, keys),
            idempotent=True,
        )
        found = {c.id: c for c in (doc_to_community(r) for r in rows)}
        return [found[i] for i in ids if i in found]

    async def communities_of(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        """Map entity ids to the ids of their communities (by level, then ordinal)."""
        keys = valid_keys(entity_ids)
        if not keys:
            return {}
        rows = await self._conn.run(
            "reading the communities of entities",
            lambda db: query_entity_communities(self._queries, db, keys),
            idempotent=True,
        )
        result: dict[str, list[str]] = {}
        for row in rows:
            result.setdefault(str(row["entity"]), []).append(str(row["community"]))
        return result

    async def analysis_state(self) -> AnalysisState | None:
        """Return the last saved analysis; ``stale`` once documents changed since.

        Stale means: a document was written after the analysis, or the number of documents
        or entities differs from what the analysis saw.
        """
        await self._require_dim()
        row = await self._conn.run(
            "reading the analysis state",
            lambda db: query_analysis_state(self._queries, db),
            idempotent=True,
        )
        return None if row is None else doc_to_state(row)
