"""Graph analysis results in the embedded store: entity ranks and communities.

:func:`save` replaces everything in one transaction: ranks are cleared and set, every
community and membership row is replaced. Member rows reference their entity with
``ON DELETE CASCADE``, so a deleted entity leaves its communities at once; a community whose
members were all deleted stays (with no members) until the next analysis replaces it.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from graphrag.errors import StoreQueryError
from graphrag.models import Community
from graphrag.stores.embedded import rows
from graphrag.stores.embedded.writes import transaction

logger = logging.getLogger(__name__)

_CommunityRow = tuple[str, int, int, str, str | None, bytes | None]


@dataclass
class AnalysisRows:
    """Validated rows of one analysis, ready to write."""

    ranks: list[tuple[float, str]]
    communities: list[_CommunityRow]
    members: list[tuple[str, str, int, str]]


def _fail(problem: str) -> StoreQueryError:
    return StoreQueryError(
        f"the graph analysis was not saved: {problem}; nothing of it was written "
        "(fix the analysis input and save again)"
    )


def _rank_rows(ranks: Mapping[str, float]) -> list[tuple[float, str]]:
    result: list[tuple[float, str]] = []
    for entity_id, value in ranks.items():
        rank = float(value)
        if not math.isfinite(rank):
            raise _fail(f"entity {entity_id} has the rank {value!r} (ranks must be finite)")
        result.append((rank, entity_id))
    return result


def prepare(ranks: Mapping[str, float], communities: Sequence[Community], dim: int) -> AnalysisRows:
    """Validate ranks and communities without touching the database.

    Args:
        ranks: Entity id to rank.
        communities: The communities that replace the stored ones.
        dim: The store's embedding dimension (community embeddings must match it).

    Returns:
        The rows to write (duplicate member ids of a community are kept once).

    Raises:
        StoreQueryError: On a non-finite rank, an empty or repeated community id, or a
            community embedding of another dimension.
    """
    community_rows: list[_CommunityRow] = []
    member_rows: list[tuple[str, str, int, str]] = []
    seen: set[str] = set()
    for community in communities:
        if not community.id or community.id in seen:
            raise _fail(f"community id {community.id!r} is empty or appears twice")
        seen.add(community.id)
        embedding = community.embedding
        if embedding is not None and rows.vector_size(embedding) != dim:
            size = rows.vector_size(embedding)
            raise _fail(f"community {community.id} has a {size}-d embedding, the store uses {dim}")
        community_rows.append(
            (community.id, community.level, community.ordinal, community.title,
             community.summary, rows.to_blob(embedding))
        )  # fmt: skip
        members = dict.fromkeys(community.member_ids)
        member_rows.extend(
            (community.id, entity_id, position, entity_id)
            for position, entity_id in enumerate(members)
        )
    return AnalysisRows(ranks=_rank_rows(ranks), communities=community_rows, members=member_rows)


def save(conn: sqlite3.Connection, analysis: AnalysisRows) -> None:
    """Replace ranks and communities in one transaction (unknown entity ids are ignored).

    Raises:
        StoreQueryError: If SQLite fails; nothing is written.
    """
    with transaction(conn, "saving the graph analysis"):
        conn.execute("UPDATE entities SET rank = NULL WHERE rank IS NOT NULL")
        conn.executemany("UPDATE entities SET rank = ? WHERE id = ?", analysis.ranks)
        conn.execute("DELETE FROM community_members")
        conn.execute("DELETE FROM communities")
        conn.executemany(
            "INSERT INTO communities (id, level, ordinal, title, summary, embedding) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            analysis.communities,
        )
        conn.executemany(
            "INSERT INTO community_members (community_id, entity_id, position) "
            "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM entities WHERE id = ?)",
            analysis.members,
        )
    logger.debug(
        "saved %d entity ranks and %d communities", len(analysis.ranks), len(analysis.communities)
    )


def list_communities(conn: sqlite3.Connection) -> list[Community]:
    """Return the stored communities by level then ordinal, members in their saved order.

    Both tables are read from one snapshot (a save in between cannot mix two analyses).
    """
    conn.execute("BEGIN")
    try:
        return _communities(conn)
    finally:
        conn.execute("COMMIT")


def _communities(conn: sqlite3.Connection) -> list[Community]:
    members: dict[str, list[str]] = defaultdict(list)
    for community_id, entity_id in conn.execute(
        "SELECT community_id, entity_id FROM community_members "
        "ORDER BY community_id, position, entity_id"
    ):
        members[community_id].append(entity_id)
    return [
        Community(
            id=cid,
            level=int(level),
            ordinal=int(ordinal),
            member_ids=members.get(cid, []),
            title=title,
            summary=summary,
            embedding=rows.from_blob(blob),
        )
        for cid, level, ordinal, title, summary, blob in conn.execute(
            "SELECT id, level, ordinal, title, summary, embedding FROM communities "
            "ORDER BY level, ordinal, id"
        )
    ]
