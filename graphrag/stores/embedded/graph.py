"""Graph algorithms over a :class:`~graphrag.stores.embedded.index.GraphIndex`.

Everything works on integer positions with numpy, so a two-hop expansion over a
20k-entity / 200k-relation graph takes a few milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from graphrag.models import Hit, Subgraph
from graphrag.stores.embedded.index import FloatArray, GraphIndex, IntArray, gather


@dataclass(frozen=True)
class Reach:
    """The result of :func:`expand` in positions.

    Attributes:
        entities: Kept entity positions, best score first.
        scores: Their scores.
        paths: One seed-to-entity position path per kept entity.
        relations: Relation positions with both endpoints kept, heaviest first.
    """

    entities: IntArray
    scores: FloatArray
    paths: list[list[int]]
    relations: IntArray


def _seed_positions(index: GraphIndex, seeds: Sequence[Hit]) -> list[tuple[int, float]]:
    best: dict[int, float] = {}
    for hit in seeds:
        pos = index.entity_pos.get(hit.id)
        if pos is not None and (pos not in best or hit.score > best[pos]):
            best[pos] = hit.score
    return sorted(best.items(), key=lambda item: (-item[1], item[0]))


def _ranked(nodes: IntArray, scores: FloatArray) -> IntArray:
    """Order positions by score (descending), then position."""
    return nodes[np.lexsort((nodes, -scores[nodes]))]


def _bfs(
    index: GraphIndex, start: int, hops: int, degree_cap: int
) -> tuple[list[tuple[int, IntArray]], IntArray]:
    """Breadth-first levels from ``start`` and each reached node's parent."""
    n = len(index.entity_ids)
    parent = np.full(n, -1, dtype=np.int64)
    seen = np.zeros(n, dtype=bool)
    seen[start] = True
    frontier = np.array([start], dtype=np.int64)
    levels: list[tuple[int, IntArray]] = []
    for depth in range(1, hops + 1):
        positions, owners = gather(index.adj_ptr, frontier, degree_cap)
        nbrs = index.adj_nbr[positions]
        fresh = ~seen[nbrs]
        nbrs, owners = nbrs[fresh], owners[fresh]
        if nbrs.size == 0:
            break
        nbrs, first = np.unique(nbrs, return_index=True)
        seen[nbrs] = True
        parent[nbrs] = owners[first]
        levels.append((depth, nbrs))
        frontier = nbrs
    return levels, parent


def expand(
    index: GraphIndex, seeds: Sequence[Hit], *, hops: int, degree_cap: int, max_entities: int
) -> Reach:
    """Bounded BFS from seed entities over relations (both directions).

    Each node follows at most ``degree_cap`` neighbours, heaviest relations first. A reached
    entity scores ``max over seeds of seed.score / (1 + distance)``. Known seeds are always
    kept (best first); the rest of the ``max_entities`` slots go to the best reached entities.

    Args:
        index: The graph index.
        seeds: Seed entity ids with scores (unknown ids ignored, duplicates use the max).
        hops: Maximum distance from a seed.
        degree_cap: Neighbours followed per node.
        max_entities: Entities kept, seeds included.

    Returns:
        Kept entities, scores, paths and the relations among them.
    """
    n = len(index.entity_ids)
    best = np.full(n, -np.inf)
    owner = np.full(n, -1, dtype=np.int64)
    seed_list = _seed_positions(index, seeds)
    parents: list[IntArray] = []
    for si, (pos, score) in enumerate(seed_list):
        if score > best[pos]:
            best[pos], owner[pos] = score, si
        levels, parent = _bfs(index, pos, max(hops, 0), max(degree_cap, 0))
        parents.append(parent)
        for depth, nodes in levels:
            value = score / (1 + depth)
            better = nodes[value > best[nodes]]
            best[better], owner[better] = value, si
    seed_pos = np.array([p for p, _ in seed_list], dtype=np.int64)
    reached = np.flatnonzero(owner >= 0)
    is_seed = np.zeros(n, dtype=bool)
    is_seed[seed_pos] = True
    others = reached[~is_seed[reached]]
    limit = max(max_entities, 0)
    chosen = _ranked(seed_pos, best)[:limit]
    chosen = np.concatenate([chosen, _ranked(others, best)[: limit - chosen.size]])
    kept = _ranked(chosen.astype(np.int64), best)
    paths = [_path(int(x), seed_list, parents, int(owner[x])) for x in kept.tolist()]
    return Reach(kept, best[kept], paths, relations_among(index, kept))


def _path(
    node: int, seed_list: list[tuple[int, float]], parents: list[IntArray], si: int
) -> list[int]:
    path = [node]
    start = seed_list[si][0]
    parent = parents[si]
    while path[-1] != start:
        path.append(int(parent[path[-1]]))
    return path[::-1]


def relations_among(index: GraphIndex, entities: IntArray) -> IntArray:
    """Return relation positions whose both endpoints are in ``entities``, heaviest first."""
    inside = np.zeros(len(index.entity_ids), dtype=bool)
    inside[entities] = True
    positions, _ = gather(index.inc_ptr, entities)
    found = np.unique(index.inc_rel[positions])
    found = found[inside[index.rel_src[found]] & inside[index.rel_dst[found]]]
    return found[np.lexsort((found, -index.rel_weight[found]))]


def graph_chunks(
    index: GraphIndex, entities: IntArray, scores: FloatArray, k: int, cap: int
) -> tuple[list[Hit], dict[str, list[str]]]:
    """Score chunks by the summed scores of the given entities they mention.

    Each entity contributes at most ``cap`` chunks: its strongest mentions (most spans), then
    by chunk id, as ``aql/fragments/candidates.aql`` reads them; a hub entity mentioned in
    many chunks adds ``cap`` of them.

    Args:
        index: The graph index.
        entities: Entity positions (e.g. an expansion), in score order.
        scores: Their scores.
        k: Chunks to return.
        cap: Chunks read per entity (``degree_cap``).

    Returns:
        The top ``k`` chunk hits (ties by chunk id) and, for each, the given entity ids it
        was read for (best first).
    """
    positions, owners = gather(index.ent_ptr, entities, max(cap, 0))
    if positions.size == 0 or k <= 0:
        return [], {}
    score_of = np.zeros(len(index.entity_ids))
    score_of[entities] = scores
    rank_of = np.zeros(len(index.entity_ids), dtype=np.int64)
    rank_of[entities] = np.arange(entities.size)
    chunks = index.ent_chunk[positions]
    unique, inverse = np.unique(chunks, return_inverse=True)
    sums = np.bincount(inverse, weights=score_of[owners])
    top = np.lexsort((unique, -sums))[:k]
    selected = np.zeros(unique.size, dtype=bool)
    selected[top] = True
    pick = selected[inverse]
    pair_chunks, pair_ents = chunks[pick], owners[pick]
    order = np.lexsort((rank_of[pair_ents], pair_chunks))
    chunk_entities: dict[str, list[str]] = {}
    for c, e in zip(pair_chunks[order].tolist(), pair_ents[order].tolist(), strict=True):
        chunk_entities.setdefault(index.chunk_ids[c], []).append(index.entity_ids[e])
    hits = [Hit(id=index.chunk_ids[unique[i]], score=float(sums[i])) for i in top.tolist()]
    return hits, chunk_entities


def subgraph(
    index: GraphIndex,
    chunk_ids: Sequence[str],
    entity_ids: Sequence[str],
    degree_cap: int,
    *,
    include_relations: bool = True,
) -> Subgraph:
    """The entity-chunk graph two hops around the given chunks and entities.

    Nodes: the given chunks and entities, the entities those chunks mention, up to
    ``degree_cap`` chunks per such entity (most spans first), and every entity those chunks
    mention. Edges: all mentions of the node chunks (weight = spans, at least 1) and the
    relations among node entities (weight = relation weight).

    Returns:
        The subgraph with each node entity's chunk count over the whole store.
    """
    c0 = index.chunk_positions(list(chunk_ids))
    given = index.entity_positions(list(entity_ids))
    positions, _ = gather(index.chk_ptr, c0)
    e0 = np.unique(np.concatenate([given, index.chk_ent[positions]]))
    positions, _ = gather(index.ent_ptr, e0, max(degree_cap, 0))
    node_chunks = np.unique(np.concatenate([c0, index.ent_chunk[positions]]))
    positions, owners = gather(index.chk_ptr, node_chunks)
    ents, weights = index.chk_ent[positions], index.chk_w[positions]
    node_entities = np.unique(np.concatenate([e0, ents]))
    rels = relations_among(index, node_entities) if include_relations else np.zeros(0, np.int64)
    cids, eids = index.chunk_ids, index.entity_ids
    counts = index.mention_counts(node_entities)
    # built from arrays this module owns: skip re-validating tens of thousands of tuples
    return Subgraph.model_construct(
        chunk_entity=[
            (cids[c], eids[e], w)
            for c, e, w in zip(owners.tolist(), ents.tolist(), weights.tolist(), strict=True)
        ],
        entity_entity=[
            (eids[s], eids[t], w)
            for s, t, w in zip(
                index.rel_src[rels].tolist(),
                index.rel_dst[rels].tolist(),
                index.rel_weight[rels].tolist(),
                strict=True,
            )
        ],
        entity_chunk_counts=dict(
            zip([eids[e] for e in node_entities.tolist()], counts.tolist(), strict=True)
        ),
    )
