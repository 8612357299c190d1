"""The ``ppr`` mode: HippoRAG-style personalised PageRank over the passage-entity graph.

Recipe (the ``retrieval.ppr_*`` defaults were tuned on the dev sets, see docs/evaluation.md):

1. dense candidates: ``vector_search("chunks", question, ppr_dense_candidates)``;
2. seeds: question entities linked by exact normalised name, else nearest entity by cosine,
   each weighted by ``link score / number of chunks mentioning it``;
3. ``store.subgraph(candidates, seeds)``: mention edges around the dense candidates that hold
   ``ppr_expand_mass`` of the dense softmax and the seeds (relation edges only when
   ``ppr_relation_weight > 0``);
4. reset = ``ppr_dense_weight * softmax(dense / ppr_temperature)`` over the candidates
   ``+ (1 - ppr_dense_weight) * normalised seeds`` (all dense if there are no seeds);
5. power iteration with ``ppr_damping`` (probability of following an edge), at most
   ``ppr_max_iterations`` steps;
6. chunks ranked by PageRank mass times a relevance factor ``exp((r - best) /
   ppr_rerank_temperature)``, ``r`` the better of the chunk's cosine with the question (the
   dense candidates) and with the question's rest, the question without its entity names
   (``ppr_rerank_candidates`` chunks of a second vector search): the walk finds the chunks
   around the question's entities and first-hop passages, the factor picks among them those
   that answer what is asked about the entities (the second hop), not only mention them;
7. the ``ppr_context_entities`` entities with the most mass give the context.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

import numpy as np

from graphrag.config import RetrievalSettings
from graphrag.models import Hit, Relation, Subgraph
from graphrag.ports import GraphStore
from graphrag.retrieve.base import (
    Ranking,
    StageTimer,
    entity_context,
    path_names,
    relations_among,
)
from graphrag.retrieve.ppr import (
    PPRGraph,
    build_graph,
    build_reset,
    entity_paths,
    personalized_pagerank,
    relevance_factor,
    softmax,
)
from graphrag.retrieve.seeds import QuestionSeeds

__all__ = ["expansion_candidates", "rank_ppr", "seed_weights"]

logger = logging.getLogger(__name__)


def seed_weights(
    link_scores: Mapping[str, float], chunk_counts: Mapping[str, int]
) -> dict[str, float]:
    """Weight each seed by its link score over the number of chunks mentioning it.

    Rare entities are specific and get more reset mass; an entity missing from
    ``chunk_counts`` (or with count 0) counts as mentioned once.
    """
    return {
        entity: score / max(int(chunk_counts.get(entity, 1)), 1)
        for entity, score in link_scores.items()
        if score > 0
    }


async def rank_ppr(
    seeds: QuestionSeeds,
    *,
    store: GraphStore,
    settings: RetrievalSettings,
    top_k: int,
    timer: StageTimer,
) -> Ranking:
    """Rank chunks by personalised PageRank (see the module docstring).

    Args:
        seeds: The question vector and its linked entities.
        store: The graph store.
        settings: Retrieval settings (``ppr_*``, ``degree_cap``, ``hops``).
        top_k: Chunks to return.
        timer: Receives the ``store`` and ``rank`` stages.

    Returns:
        The ranking with context entities, relations among them and seed-to-entity paths.
    """
    with timer.stage("store"):
        dense = await store.vector_search("chunks", seeds.vector, settings.ppr_dense_candidates)
        rest: list[Hit] = []
        if seeds.residual is not None and settings.ppr_rerank_temperature > 0:
            rest = await store.vector_search(
                "chunks", seeds.residual, settings.ppr_rerank_candidates
            )
        expand = expansion_candidates(dense, settings.ppr_temperature, settings.ppr_expand_mass)
        # by default the walk follows mention edges only (relation edges measured worse on
        # both dev sets), so relations are not even read
        subgraph = await store.subgraph(
            expand,
            seeds.entity_ids,
            degree_cap=settings.degree_cap,
            include_relations=settings.ppr_relation_weight > 0,
        )
    with timer.stage("rank"):
        weights = seed_weights(seeds.seed_scores(), subgraph.entity_chunk_counts)
        # the walk is CPU work: off the event loop (a server keeps answering meanwhile)
        graph, mass, iterations = await asyncio.to_thread(_walk, dense, subgraph, weights, settings)
        scores = _rerank(graph, mass, dense, rest, settings.ppr_rerank_temperature)
        hits = _top(graph, scores, range(graph.n_chunks), top_k)
        entities = range(graph.n_chunks, graph.size)
        top_entities = _top(graph, mass, entities, settings.ppr_context_entities)
    logger.debug("ppr: %d nodes, %d seeds, %d iterations", graph.size, len(weights), iterations)
    if not hits:
        return Ranking(hits=[])
    ranking = Ranking(hits=hits)
    await _add_context(ranking, top_entities, subgraph, list(weights), store, settings, timer)
    return ranking


def expansion_candidates(dense: Sequence[Hit], temperature: float, share: float) -> list[str]:
    """Return the best dense candidates holding ``share`` of the dense softmax mass.

    Args:
        dense: Dense hits, best first.
        temperature: The reset softmax temperature.
        share: Cumulative share of the softmax to cover (``1.0`` keeps every candidate).

    Returns:
        Chunk ids, best first (at least one if ``dense`` is not empty).
    """
    if not dense:
        return []
    probs = softmax([h.score for h in dense], temperature)
    order = np.argsort(-probs, kind="stable")
    covered = np.cumsum(probs[order])
    count = int(np.searchsorted(covered, min(share, 1.0) - 1e-12)) + 1
    return [dense[int(i)].id for i in order[: min(count, len(dense))]]


def _walk(
    dense: Sequence[Hit],
    subgraph: Subgraph,
    weights: Mapping[str, float],
    settings: RetrievalSettings,
) -> tuple[PPRGraph, np.ndarray, int]:
    graph = build_graph(
        [h.id for h in dense],
        subgraph,
        entity_ids=list(weights),
        relation_weight=settings.ppr_relation_weight,
    )
    reset = build_reset(
        graph,
        dense,
        weights,
        dense_weight=settings.ppr_dense_weight,
        temperature=settings.ppr_temperature,
    )
    mass, iterations = personalized_pagerank(
        graph, reset, damping=settings.ppr_damping, max_iter=settings.ppr_max_iterations
    )
    return graph, mass, iterations


def _rerank(
    graph: PPRGraph,
    mass: np.ndarray,
    dense: Sequence[Hit],
    rest: Sequence[Hit],
    temperature: float,
) -> np.ndarray:
    """Chunk mass times the better relevance factor of the question and its rest (step 6)."""
    if temperature <= 0 or not (dense or rest):
        return mass
    factor = relevance_factor(graph, dense, temperature)
    if rest:
        factor = np.maximum(factor, relevance_factor(graph, rest, temperature))
    scores = mass.copy()
    scores[: graph.n_chunks] *= factor
    return scores


def _top(graph: PPRGraph, mass: np.ndarray, indexes: range, k: int) -> list[Hit]:
    """Return the ``k`` nodes of ``indexes`` with the most mass (positive mass only)."""
    if len(indexes) == 0 or k <= 0:
        return []
    part = mass[indexes.start : indexes.stop]
    order = np.argsort(-part, kind="stable")[:k]
    return [
        Hit(id=graph.nodes[indexes.start + int(i)], score=float(part[i]))
        for i in order
        if part[i] > 0
    ]


async def _add_context(
    ranking: Ranking,
    top_entities: list[Hit],
    subgraph: Subgraph,
    seed_ids: list[str],
    store: GraphStore,
    settings: RetrievalSettings,
    timer: StageTimer,
) -> None:
    """Fill the context entities, the relations among them and seed-to-entity paths.

    One round trip each for the entity rows and the relations among the top entities and the
    question's seeds; paths run over those relations (the walk's subgraph has none).
    """
    top_ids = [h.id for h in top_entities]
    if not top_ids:
        return
    linked = [*top_entities, *(Hit(id=i, score=0.0) for i in seed_ids if i not in set(top_ids))]
    with timer.stage("store"):
        rows, relations = await asyncio.gather(
            store.get_entities([h.id for h in linked], provenance=False),
            _relations(store, linked, settings),
        )
    with timer.stage("rank"):
        edges = [(r.source_id, r.target_id, r.weight) for r in relations]
        paths = entity_paths(edges, seed_ids, top_ids, settings.hops)
    ranking.entities, names = entity_context(top_entities, rows)
    ranking.relations = relations_among(relations, set(top_ids))
    ranking.paths = path_names(paths, names)


async def _relations(
    store: GraphStore, top_entities: list[Hit], settings: RetrievalSettings
) -> list[Relation]:
    if len(top_entities) < 2:
        return []
    # hops=0: no traversal, only the relations among the given entities
    expansion = await store.expand(
        top_entities, hops=0, degree_cap=settings.degree_cap, max_entities=len(top_entities)
    )
    return expansion.relations
