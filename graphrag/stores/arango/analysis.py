"""Graph analysis results on ArangoDB: entity ranks and communities.

:func:`save_analysis` writes everything in **one stream transaction** over ``entities``,
``communities``, ``member_of`` and ``meta``: ranks not in the new set are cleared
(``clear_entity_ranks.aql``), the new ranks are set in batches (``save_entity_ranks.aql``),
every community and ``member_of`` edge is removed (``remove_communities.aql``), then the new
communities and their edges are inserted in batches (``insert_communities.aql``,
``insert_community_members.aql``), and the save is recorded in ``meta/analysis``
(``save_analysis_state.aql``). Each query modifies a collection at most once and returns one
row. Any error aborts the transaction: the previous analysis stays.

``delete_document.aql`` removes the ``member_of`` edges of the entities it deletes, so
:func:`list_communities` (``list_communities.aql``) only lists live members.

Community summaries are searched by **exact** ``COSINE_SIMILARITY`` scans
(``search_communities_exact.aql``), never through a vector index: there are few communities
(804 for the 17k entities of musique_train), and every analysis removes and re-inserts all of
them, while an IVF index is trained once, on the vectors present when it is built.

:class:`ArangoAnalysis` is the store's method group over these functions; the small
``query_*`` helpers run one file each and take any database handle.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from arango.database import Database, StandardDatabase, TransactionDatabase

from graphrag.config import ArangoSettings
from graphrag.errors import StoreQueryError
from graphrag.models import AnalysisState, Community, DocumentStatus
from graphrag.stores.arango.batch import split_payload
from graphrag.stores.arango.connection import ArangoConnection
from graphrag.stores.arango.mapping import (
    Doc,
    check_key,
    from_time,
    list_to_vector,
    now_text,
    valid_keys,
    vector_to_list,
)
from graphrag.stores.arango.names import ANALYSIS_KEY, COMMUNITIES, ENTITIES, MEMBER_OF, META
from graphrag.stores.arango.queries import Queries
from graphrag.stores.arango.writes import in_transaction

logger = logging.getLogger(__name__)

ANALYSIS_COLLECTIONS = (ENTITIES, COMMUNITIES, MEMBER_OF, META)
"""Collections the analysis transaction writes."""


# --------------------------------------------------------------------------- one query each


def query_clear_entity_ranks(queries: Queries, db: Database, keep: Sequence[str]) -> int:
    """Clear the rank of ranked entities whose key is not in ``keep``; returns how many."""
    found: Doc = queries.one(db, "clear_entity_ranks", {"keep": list(keep)})
    return int(found.get("cleared") or 0)


def query_save_entity_ranks(queries: Queries, db: Database, items: Sequence[Doc]) -> int:
    """Set ``rank`` for ``[{key, rank}]`` (unknown keys skipped); returns how many were set."""
    found: Doc = queries.one(db, "save_entity_ranks", {"ranks": list(items)})
    return int(found.get("updated") or 0)


def query_remove_communities(queries: Queries, db: Database) -> Doc:
    """Remove every community and ``member_of`` edge; returns ``{member_of, communities}``."""
    found: Doc = queries.one(db, "remove_communities", {})
    return found


def query_insert_communities(queries: Queries, db: Database, docs: Sequence[Doc]) -> int:
    """Insert community documents; returns how many."""
    found: Doc = queries.one(db, "insert_communities", {"communities": list(docs)})
    return int(found.get("inserted") or 0)


def query_insert_community_members(queries: Queries, db: Database, items: Sequence[Doc]) -> int:
    """Insert ``member_of`` edges for ``[{entity, community, position}]`` of live entities."""
    found: Doc = queries.one(db, "insert_community_members", {"members": list(items)})
    return int(found.get("inserted") or 0)


def query_list_communities(queries: Queries, db: Database) -> list[Doc]:
    """Community documents by level and ordinal, each with ``member_ids``."""
    return queries.rows(db, "list_communities", {})


def query_get_communities(queries: Queries, db: Database, keys: Sequence[str]) -> list[Doc]:
    """Community documents by key (any order), each with ``member_ids``."""
    return queries.rows(db, "get_communities", {"keys": list(keys)})


def query_entity_communities(queries: Queries, db: Database, keys: Sequence[str]) -> list[Doc]:
    """``{entity, community}`` rows for the entities of ``keys``, by level then ordinal."""
    return queries.rows(db, "list_entity_communities", {"keys": list(keys)})


def query_save_analysis_state(queries: Queries, db: Database, state: Doc) -> None:
    """Record the analysis (``{analyzed_at, communities, embedded}``) in ``meta``."""
    queries.one(db, "save_analysis_state", {"key": ANALYSIS_KEY, "state": dict(state)})


def query_analysis_state(queries: Queries, db: Database) -> Doc | None:
    """The recorded analysis with its ``stale`` flag, or ``None``."""
    statuses = [str(status) for status in DocumentStatus]
    found: Doc | None = queries.one(
        db, "get_analysis_state", {"key": ANALYSIS_KEY, "statuses": statuses}
    )
    return found


# --------------------------------------------------------------------------- mapping


def community_to_doc(community: Community) -> Doc:
    """Return the ``communities`` document of a community (members go to ``member_of``)."""
    return {
        "_key": community.id,
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
        id=doc["_key"],
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


def community_payload(communities: Sequence[Community], dim: int) -> tuple[list[Doc], list[Doc]]:
    """Validate communities; return their documents and ``member_of`` items.

    Raises:
        StoreQueryError: On an invalid or repeated community id, or an embedding of
            another dimension than ``dim``.
    """
    docs: list[Doc] = []
    members: list[Doc] = []
    seen: set[str] = set()
    for community in communities:
        check_key("community", community.id)
        if community.id in seen:
            raise _fail(f"community id {community.id!r} appears twice")
        seen.add(community.id)
        doc = community_to_doc(community)
        if doc["embedding"] is not None and len(doc["embedding"]) != dim:
            size = len(doc["embedding"])
            raise _fail(f"community {community.id} has a {size}-d embedding, the store uses {dim}")
        docs.append(doc)
        members.extend(
            {"entity": entity, "community": community.id, "position": position}
            for position, entity in enumerate(valid_keys(community.member_ids))
        )
    return docs, members


# --------------------------------------------------------------------------- transaction


def write_analysis(
    db: StandardDatabase,
    queries: Queries,
    ranks: list[Doc],
    payload: tuple[list[Doc], list[Doc]],
    batch_size: int,
) -> Doc:
    """Replace ranks and communities in one stream transaction (blocking).

    Args:
        db: The store's database.
        queries: The AQL queries.
        ranks: ``[{key, rank}]`` from :func:`rank_items`.
        payload: Community documents and ``member_of`` items from :func:`community_payload`.
        batch_size: Items per query.

    Returns:
        Counts ``{cleared, ranked, communities, members}``.
    """
    docs, members = payload

    def work(txn: TransactionDatabase) -> Doc:
        cleared = query_clear_entity_ranks(queries, txn, [r["key"] for r in ranks])
        ranked = sum(
            query_save_entity_ranks(queries, txn, part)
            for part in split_payload("rank", ranks, max_items=batch_size)
        )
        query_remove_communities(queries, txn)
        inserted = sum(
            query_insert_communities(queries, txn, part)
            for part in split_payload("community", docs, max_items=batch_size)
        )
        linked = sum(
            query_insert_community_members(queries, txn, part)
            for part in split_payload("member", members, max_items=batch_size)
        )
        embedded = sum(doc["embedding"] is not None for doc in docs)
        state = {"analyzed_at": now_text(), "communities": inserted, "embedded": embedded}
        query_save_analysis_state(queries, txn, state)
        return {"cleared": cleared, "ranked": ranked, "communities": inserted, "members": linked}

    return in_transaction(db, work, write=ANALYSIS_COLLECTIONS, what="saving the graph analysis")


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
        """Store entity ranks and replace all communities atomically (one stream transaction).

        Entities not in ``ranks`` get no rank; unknown entity ids (in ranks or members) are
        ignored. The save is recorded in ``meta/analysis`` (see :meth:`analysis_state`).

        Raises:
            StoreQueryError: On a non-finite rank, an invalid or repeated community id, a
                community embedding of another dimension, or a server error (nothing
                written).
        """
        items = rank_items(ranks)
        payload = community_payload(communities, await self._require_dim())
        batch_size = self._settings.batch_size
        counts = await self._conn.run(
            "saving the graph analysis",
            lambda db: write_analysis(db, self._queries, items, payload, batch_size),
            admin=True,  # meta and communities are read-only for the least-privilege writer
        )
        logger.debug("saved the graph analysis: %s", counts)

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
        found = {str(r["_key"]): doc_to_community(r) for r in rows}
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
