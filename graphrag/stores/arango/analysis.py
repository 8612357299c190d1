"""Graph analysis results on ArangoDB: entity ranks and communities.

:func:`save_analysis` writes everything in **one stream transaction** over ``entities``,
``communities`` and ``member_of``: ranks not in the new set are cleared
(``clear_entity_ranks.aql``), the new ranks are set in batches (``save_entity_ranks.aql``),
every community and ``member_of`` edge is removed (``remove_communities.aql``), then the new
communities and their edges are inserted in batches (``insert_communities.aql``,
``insert_community_members.aql``). Each query modifies a collection at most once and
returns one row. Any error aborts the transaction: the previous analysis stays.

``delete_document.aql`` removes the ``member_of`` edges of the entities it deletes, so
:func:`list_communities` (``list_communities.aql``) only lists live members.

The ArangoGraphStore delegates to these functions with its connection and queries; the
small ``query_*`` helpers run one file each and take any database handle.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence

from arango.database import Database, StandardDatabase, TransactionDatabase

from graphrag.errors import StoreQueryError
from graphrag.models import Community
from graphrag.stores.arango.batch import split_payload
from graphrag.stores.arango.connection import ArangoConnection
from graphrag.stores.arango.mapping import (
    Doc,
    check_key,
    list_to_vector,
    valid_keys,
    vector_to_list,
)
from graphrag.stores.arango.names import COMMUNITIES, ENTITIES, MEMBER_OF
from graphrag.stores.arango.queries import Queries

logger = logging.getLogger(__name__)

ANALYSIS_COLLECTIONS = (ENTITIES, COMMUNITIES, MEMBER_OF)
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
        embedding=list_to_vector(doc.get("embedding")),
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


def _in_transaction(db: StandardDatabase, work: Callable[[TransactionDatabase], Doc]) -> Doc:
    txn = db.begin_transaction(write=list(ANALYSIS_COLLECTIONS))
    try:
        result: Doc = work(txn)
        txn.commit_transaction()
    except BaseException:
        try:
            txn.abort_transaction()
        except Exception as exc:  # the server may have aborted it already
            logger.debug("aborting stream transaction %s failed: %s", txn.transaction_id, exc)
        raise
    return result


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
        return {"cleared": cleared, "ranked": ranked, "communities": inserted, "members": linked}

    return _in_transaction(db, work)


# --------------------------------------------------------------------------- async entry points


async def save_analysis(
    conn: ArangoConnection,
    queries: Queries,
    ranks: Mapping[str, float],
    communities: Sequence[Community],
    *,
    dim: int,
    batch_size: int,
) -> None:
    """Store entity ranks and replace all communities atomically (one stream transaction).

    Entities not in ``ranks`` get no rank; unknown entity ids (in ranks or members) are
    ignored.

    Args:
        conn: The store's connection.
        queries: The store's AQL queries.
        ranks: Entity id to rank.
        communities: The communities that replace the stored ones.
        dim: The store's embedding dimension (community embeddings must match it).
        batch_size: Items per query (``settings.batch_size``).

    Raises:
        StoreQueryError: On a non-finite rank, an invalid or repeated community id, a
            community embedding of another dimension, or a server error (nothing written).
    """
    items = rank_items(ranks)
    payload = community_payload(communities, dim)
    counts = await conn.run(
        "saving the graph analysis",
        lambda db: write_analysis(db, queries, items, payload, batch_size),
    )
    logger.debug("saved the graph analysis: %s", counts)


async def list_communities(conn: ArangoConnection, queries: Queries) -> list[Community]:
    """Return the stored communities (level, then ordinal), members in saved order."""
    rows = await conn.run(
        "listing communities", lambda db: query_list_communities(queries, db), idempotent=True
    )
    return [doc_to_community(r) for r in rows]
