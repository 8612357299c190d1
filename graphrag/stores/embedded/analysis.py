"""Graph analysis results in the embedded store: entity ranks and communities.

:func:`save` replaces everything in one transaction: ranks are cleared and set, every
community and membership row is replaced, and the save is recorded in ``meta`` (key
``analysis``: time, counts and the store's write counter after the save). Member rows
reference their entity with ``ON DELETE CASCADE``, so a deleted entity leaves its communities
at once; a community whose members were all deleted stays (with no members) until the next
analysis replaces it. :func:`analysis_state` calls the analysis stale as soon as the write
counter moved on: any later document write, delete, merge or undo bumps it.

:class:`AnalysisMethods` is the store's method group over these functions.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from graphrag.errors import StoreQueryError
from graphrag.models import AnalysisState, Community
from graphrag.stores.embedded import rows
from graphrag.stores.embedded.base import SQLiteStoreBase
from graphrag.stores.embedded.rows import batched, marks
from graphrag.stores.embedded.writes import transaction

logger = logging.getLogger(__name__)

_CommunityRow = tuple[str, int, int, str, str | None, bytes | None, str]

ANALYSIS_KEY = "analysis"
"""``meta`` key of the last saved analysis (JSON: ``analyzed_at``, ``communities``,
``embedded``, ``counter``)."""

_COMMUNITY_COLUMNS = "id, level, ordinal, title, summary, embedding, chunk_ids"


@dataclass
class AnalysisRows:
    """Validated rows of one analysis, ready to write."""

    ranks: list[tuple[float, str]]
    communities: list[_CommunityRow]
    members: list[tuple[str, str, int, str]]
    embedded: int = 0


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
             community.summary, rows.to_blob(embedding),
             rows.dumps(list(dict.fromkeys(community.chunk_ids))))
        )  # fmt: skip
        members = dict.fromkeys(community.member_ids)
        member_rows.extend(
            (community.id, entity_id, position, entity_id)
            for position, entity_id in enumerate(members)
        )
    embedded = sum(c.embedding is not None for c in communities)
    return AnalysisRows(
        ranks=_rank_rows(ranks), communities=community_rows, members=member_rows, embedded=embedded
    )


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
            f"INSERT INTO communities ({_COMMUNITY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            analysis.communities,
        )
        conn.executemany(
            "INSERT INTO community_members (community_id, entity_id, position) "
            "SELECT ?, ?, ? WHERE EXISTS (SELECT 1 FROM entities WHERE id = ?)",
            analysis.members,
        )
        state = {
            "analyzed_at": datetime.now(UTC).isoformat(timespec="microseconds"),
            "communities": len(analysis.communities),
            "embedded": analysis.embedded,
        }
        # the transaction bumps the write counter once more when it commits
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) SELECT ?, json_set(?, '$.counter', "
            "CAST(value AS INTEGER) + 1) FROM meta WHERE key = 'write_counter'",
            (ANALYSIS_KEY, rows.dumps(state)),
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


def _community(row: tuple[Any, ...], members: list[str]) -> Community:
    cid, level, ordinal, title, summary, blob, chunk_ids = row
    return Community(
        id=cid,
        level=int(level),
        ordinal=int(ordinal),
        member_ids=members,
        title=title,
        summary=summary,
        chunk_ids=json.loads(chunk_ids or "[]"),
        embedding=rows.from_blob(blob),
    )


def _communities(conn: sqlite3.Connection) -> list[Community]:
    members: dict[str, list[str]] = defaultdict(list)
    for community_id, entity_id in conn.execute(
        "SELECT community_id, entity_id FROM community_members "
        "ORDER BY community_id, position, entity_id"
    ):
        members[community_id].append(entity_id)
    return [
        _community(row, members.get(str(row[0]), []))
        for row in conn.execute(
            f"SELECT {_COMMUNITY_COLUMNS} FROM communities ORDER BY level, ordinal, id"  # noqa: S608
        )
    ]


def get_communities(conn: sqlite3.Connection, ids: Sequence[str]) -> list[Community]:
    """Return communities by id in the order of ``ids`` (unknown ids skipped), one snapshot."""
    unique = list(dict.fromkeys(ids))
    conn.execute("BEGIN")
    try:
        members: dict[str, list[str]] = defaultdict(list)
        found: dict[str, tuple[Any, ...]] = {}
        for batch in batched(unique):
            for row in conn.execute(
                f"SELECT {_COMMUNITY_COLUMNS} FROM communities WHERE id IN ({marks(len(batch))})",  # noqa: S608
                tuple(batch),
            ):
                found[str(row[0])] = tuple(row)
            for community_id, entity_id in conn.execute(
                "SELECT community_id, entity_id FROM community_members "  # noqa: S608
                f"WHERE community_id IN ({marks(len(batch))}) "
                "ORDER BY community_id, position, entity_id",
                tuple(batch),
            ):
                members[community_id].append(entity_id)
    finally:
        conn.execute("COMMIT")
    return [_community(found[i], members.get(i, [])) for i in ids if i in found]


def communities_of(conn: sqlite3.Connection, entity_ids: Sequence[str]) -> dict[str, list[str]]:
    """Map entity ids to the ids of their communities (entities in none are absent)."""
    result: dict[str, list[str]] = defaultdict(list)
    for batch in batched(list(dict.fromkeys(entity_ids))):
        for entity_id, community_id in conn.execute(
            "SELECT m.entity_id, m.community_id FROM community_members m "  # noqa: S608
            "JOIN communities c ON c.id = m.community_id "
            f"WHERE m.entity_id IN ({marks(len(batch))}) ORDER BY c.level, c.ordinal",
            tuple(batch),
        ):
            result[entity_id].append(community_id)
    return dict(result)


def analysis_state(conn: sqlite3.Connection) -> AnalysisState | None:
    """Return the last saved analysis, stale when the write counter moved on since."""
    found = dict(
        conn.execute(
            "SELECT key, value FROM meta WHERE key IN (?, 'write_counter')", (ANALYSIS_KEY,)
        ).fetchall()
    )
    if ANALYSIS_KEY not in found:
        return None
    state = json.loads(found[ANALYSIS_KEY])
    counter = int(found.get("write_counter", 0))
    return AnalysisState(
        analyzed_at=datetime.fromisoformat(state["analyzed_at"]),
        communities=int(state.get("communities", 0)),
        embedded=int(state.get("embedded", 0)),
        stale=counter != int(state.get("counter", -1)),
    )


class AnalysisMethods(SQLiteStoreBase):
    """Entity ranks, communities and the record of the last analysis."""

    def _save_analysis(self, ranks: Mapping[str, float], communities: list[Community]) -> None:
        self._require_open()
        self._write(save, prepare(ranks, communities, self._dim))

    async def save_analysis(
        self, ranks: Mapping[str, float], communities: Sequence[Community]
    ) -> None:
        """Store entity ranks and replace all communities in one transaction.

        Entities not in ``ranks`` get no rank (``None``); unknown entity ids (in ranks or
        members) are ignored. A member leaves its community when its entity is deleted. The
        save is recorded for :meth:`analysis_state`.

        Raises:
            StoreQueryError: On a non-finite rank, a repeated community id or a community
                embedding of another dimension (nothing is written).
        """
        await self._run(self._save_analysis, dict(ranks), list(communities))

    async def list_communities(self) -> list[Community]:
        """Return the stored communities (level, then ordinal), members in saved order."""
        return await self._run(self._read, list_communities)

    async def get_communities(self, ids: Sequence[str]) -> list[Community]:
        """Return communities by id with members, chunk ids and embedding, in order."""
        return await self._run(self._read, get_communities, list(ids))

    async def communities_of(self, entity_ids: Sequence[str]) -> dict[str, list[str]]:
        """Map entity ids to the ids of their communities (by level, then ordinal)."""
        return await self._run(self._read, communities_of, list(entity_ids))

    async def analysis_state(self) -> AnalysisState | None:
        """Return the last saved analysis; ``stale`` once the graph was written since."""
        return await self._run(self._read, analysis_state)
