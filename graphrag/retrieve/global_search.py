"""The ``global`` retrieval mode: rank the community summaries of ``graphrag analyze``.

``graphrag analyze`` groups the entities into communities and saves, for each, an extractive
summary, its embedding and its best supporting chunks (:mod:`graphrag.analyze`). This mode
ranks those communities against the question:

```text
score = (1 - w) x cosine(question, summary) + w x member share
member share = sum of the link scores of the question's entities that are members
               / sum of the link scores of all the question's linked entities
```

with ``w`` = ``retrieval.global_member_weight``. The question's entities are found by spaCy as in
the other graph-aware modes and linked by exact name or alias only (on musique_train a
nearest-embedding link cost time and moved R@10 by half a point). A question that names no
entity is ranked by the cosine alone; with ``w = 0`` the question is only embedded, not
analysed. The context holds the best ``retrieval.global_communities`` communities
(``RetrievedContext.communities``) and their supporting chunks as ``chunks`` (chunk score =
community score / (1 + the chunk's position in the community), so the first chunks of several
communities come before the second chunks of one), so answers can cite them.

Before any analysis, or when the communities have no summary embeddings, the context is empty
and a note says to run ``graphrag analyze``; when documents changed after the analysis, the
context is built as usual and a note says the communities are stale.

Without an LLM this is the whole of global search: the best summaries are the context. With
one, :class:`graphrag.retrieve.global_answer.GlobalAnswerer` is where the map-reduce over
these summaries goes.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np

from graphrag.config import RetrievalSettings
from graphrag.models import AnalysisState, Community, Hit, ScoredCommunity, Vector
from graphrag.ports import Embedder, GraphStore
from graphrag.retrieve.base import Ranking, StageTimer
from graphrag.retrieve.question import QuestionAnalyzer
from graphrag.retrieve.seeds import analyze_question

__all__ = [
    "NOTE_NO_ANALYSIS",
    "NOTE_NO_COMMUNITIES",
    "NOTE_NO_EMBEDDINGS",
    "GlobalSearch",
    "community_chunks",
    "member_shares",
    "score_communities",
    "stale_note",
]

logger = logging.getLogger(__name__)

_DEFAULTS = RetrievalSettings()

NOTE_NO_ANALYSIS = (
    "No communities yet: the global mode ranks the community summaries that `graphrag "
    "analyze` writes; run `graphrag analyze` (after ingesting) and ask again."
)
NOTE_NO_COMMUNITIES = (
    "The last `graphrag analyze` found no communities (no relations between entities); "
    "ingest more documents and run `graphrag analyze` again."
)
NOTE_NO_EMBEDDINGS = (
    "The stored communities have no summary embeddings (saved by an older version or "
    "without an embedder); run `graphrag analyze` again."
)


def stale_note(analyzed_at: datetime) -> str:
    """Return the note of a context built from communities older than the graph."""
    when = analyzed_at.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"The communities come from `graphrag analyze` of {when}; documents were added, "
        "changed or deleted since, and what changed is missing from them until `graphrag "
        "analyze` runs again."
    )


def member_shares(
    links: Mapping[str, float], membership: Mapping[str, Sequence[str]]
) -> dict[str, float]:
    """Return each community's share of the question's linked entities (0-1).

    Args:
        links: Linked entity id to its link score (1.0 for an exact name match).
        membership: Entity id to the ids of its communities.

    Returns:
        Community id to ``sum of its members' link scores / sum of all link scores``.
    """
    total = sum(score for score in links.values() if score > 0)
    if total <= 0:
        return {}
    shares: dict[str, float] = {}
    for entity_id, score in links.items():
        if score <= 0:
            continue
        for community_id in dict.fromkeys(membership.get(entity_id, ())):
            shares[community_id] = shares.get(community_id, 0.0) + score / total
    return shares


def score_communities(
    similarity: Mapping[str, float],
    shares: Mapping[str, float],
    *,
    member_weight: float = _DEFAULTS.global_member_weight,
    limit: int = _DEFAULTS.global_communities,
) -> list[Hit]:
    """Blend summary cosine and member share; return the best ``limit`` communities.

    Args:
        similarity: Community id to the cosine between question and summary (communities
            missing here but present in ``shares`` count a cosine of 0).
        shares: Community id to its member share (:func:`member_shares`).
        member_weight: ``w`` in ``(1 - w) x cosine + w x share``.
        limit: Communities returned.

    Returns:
        Community hits, best first (ties by id).
    """
    ids = set(similarity) | set(shares)
    scored = [
        Hit(
            id=cid,
            score=(1.0 - member_weight) * similarity.get(cid, 0.0)
            + member_weight * shares.get(cid, 0.0),
        )
        for cid in ids
    ]
    scored.sort(key=lambda h: (-h.score, h.id))
    return scored[: max(limit, 0)]


def community_chunks(communities: Sequence[ScoredCommunity]) -> list[Hit]:
    """Return the supporting chunks of ranked communities, best first.

    A chunk scores ``community score / (1 + its position in the community)``; a chunk of
    several communities keeps its best score.
    """
    best: dict[str, float] = {}
    for community in communities:
        for position, chunk_id in enumerate(community.chunk_ids):
            score = community.score / (1.0 + position)
            if score > best.get(chunk_id, -np.inf):
                best[chunk_id] = score
    return [Hit(id=c, score=s) for c, s in sorted(best.items(), key=lambda x: (-x[1], x[0]))]


def _cosine(vector: Vector, embedding: Vector | None) -> float:
    if embedding is None:
        return 0.0
    a = np.asarray(vector, dtype=np.float32).reshape(-1)
    b = np.asarray(embedding, dtype=np.float32).reshape(-1)
    norms = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norms if norms > 0 else 0.0


def _notes(state: AnalysisState | None) -> tuple[bool, list[str]]:
    """Whether the communities can be searched, and the notes about them."""
    if state is None:
        return False, [NOTE_NO_ANALYSIS]
    if state.communities == 0:
        return False, [NOTE_NO_COMMUNITIES]
    if state.embedded == 0:
        return False, [NOTE_NO_EMBEDDINGS]
    return True, [stale_note(state.analyzed_at)] if state.stale else []


class GlobalSearch:
    """Ranks community summaries against a question (the ``global`` mode).

    Args:
        store: The graph store holding the analysis.
        embedder: The embedder the summaries were embedded with.
        analyzer: Finds the question's entities (``None``: cosine only).
        communities: Communities returned per question.
        member_weight: Weight of the member share (see :func:`score_communities`).
    """

    def __init__(
        self,
        store: GraphStore,
        embedder: Embedder,
        analyzer: QuestionAnalyzer | None,
        *,
        communities: int = _DEFAULTS.global_communities,
        member_weight: float = _DEFAULTS.global_member_weight,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._analyzer = analyzer
        self._communities = communities
        self._member_weight = member_weight

    async def rank(self, question: str, timer: StageTimer) -> Ranking:
        """Rank the communities for a validated question.

        Returns:
            The best communities, their supporting chunks as hits, and notes; empty (with a
            note) before ``graphrag analyze`` has saved embedded communities.

        Raises:
            StoreError: If the store fails.
            EmbeddingError: If the embedder fails.
        """
        with timer.stage("store"):
            state = await self._store.analysis_state()
        usable, notes = _notes(state)
        if not usable:
            return Ranking(hits=[], notes=notes)
        seeds = await analyze_question(
            question,
            store=self._store,
            embedder=self._embedder,
            analyzer=self._analyzer if self._member_weight > 0 else None,
            timer=timer,
            exact_only=True,
        )
        links = seeds.seed_scores()
        with timer.stage("store"):
            dense = await self._store.vector_search("communities", seeds.vector, self._communities)
            membership = await self._store.communities_of(list(links)) if links else {}
        shares = member_shares(links, membership)
        wanted = list(dict.fromkeys([h.id for h in dense] + sorted(shares)))
        with timer.stage("store"):
            rows = {c.id: c for c in await self._store.get_communities(wanted)}
        with timer.stage("rank"):
            similarity = {h.id: float(h.score) for h in dense}
            for cid, row in rows.items():
                if cid not in similarity:
                    similarity[cid] = _cosine(seeds.vector, row.embedding)
            best = score_communities(
                {c: s for c, s in similarity.items() if c in rows},
                {c: s for c, s in shares.items() if c in rows},
                member_weight=self._member_weight,
                limit=self._communities,
            )
            ranked = [_scored(rows[h.id], h.score, similarity.get(h.id, 0.0)) for h in best]
            hits = community_chunks(ranked)
        if not ranked:  # embedded communities were listed but none came back (a race)
            notes.append(NOTE_NO_EMBEDDINGS)
        logger.debug("global: %d communities, %d chunks", len(ranked), len(hits))
        return Ranking(hits=hits, communities=ranked, notes=notes)


def _scored(community: Community, score: float, similarity: float) -> ScoredCommunity:
    return ScoredCommunity(
        id=community.id,
        level=community.level,
        title=community.title,
        summary=community.summary or community.title,
        size=len(community.member_ids),
        score=round(score, 6),
        similarity=round(similarity, 6),
        chunk_ids=list(community.chunk_ids),
    )
