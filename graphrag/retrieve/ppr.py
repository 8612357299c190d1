"""Personalised PageRank over a passage-entity graph (HippoRAG-style), pure math.

The graph has one node per chunk and per entity; chunk-entity mention edges and entity-entity
relation edges are made symmetric and row-normalised into a transition matrix ``P``. The walk
follows an edge with probability ``damping`` (HippoRAG's convention: 0.5) and jumps back to the
reset vector otherwise; the mass of dangling nodes (no edges) also returns to the reset vector,
so the total mass stays 1.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from graphrag.errors import InvalidArgumentError
from graphrag.models import Hit, Subgraph

__all__ = [
    "PPRGraph",
    "build_graph",
    "build_reset",
    "entity_paths",
    "personalized_pagerank",
    "relevance_factor",
    "softmax",
]


@dataclass(frozen=True)
class PPRGraph:
    """A row-stochastic passage-entity graph.

    Attributes:
        nodes: Node ids, chunks first (``nodes[:n_chunks]``), then entities.
        index: Node id to row index.
        n_chunks: Number of chunk nodes.
        transition_t: The transpose of the row-normalised transition matrix (CSR), ready for
            ``p_next = transition_t @ p``.
        dangling: Boolean mask of nodes without edges.
    """

    nodes: list[str]
    index: dict[str, int]
    n_chunks: int
    transition_t: sp.csr_matrix
    dangling: np.ndarray

    @property
    def size(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    def chunk_ids(self) -> list[str]:
        """Return the chunk node ids."""
        return self.nodes[: self.n_chunks]

    def entity_ids(self) -> list[str]:
        """Return the entity node ids."""
        return self.nodes[self.n_chunks :]


def _edge_arrays(
    edges: Sequence[tuple[str, str, float]], index: Mapping[str, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map ``(a, b, w)`` edges to index arrays, dropping self loops and weights <= 0."""
    if not edges:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype=np.float64)
    a_ids, b_ids, ws = zip(*edges, strict=True)
    a = np.fromiter((index[x] for x in a_ids), dtype=np.int64, count=len(edges))
    b = np.fromiter((index[x] for x in b_ids), dtype=np.int64, count=len(edges))
    w = np.asarray(ws, dtype=np.float64)
    keep = (a != b) & (w > 0)
    return a[keep], b[keep], w[keep]


def _symmetric(a: np.ndarray, b: np.ndarray, w: np.ndarray, n: int) -> sp.csr_matrix:
    """Symmetric sparse adjacency with parallel edges summed."""
    rows = np.concatenate([a, b])
    cols = np.concatenate([b, a])
    vals = np.concatenate([w, w])
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.float64)


def build_graph(
    chunk_ids: Sequence[str],
    subgraph: Subgraph,
    *,
    entity_ids: Sequence[str] = (),
    relation_weight: float = 1.0,
) -> PPRGraph:
    """Build the transition matrix of the passage-entity graph.

    Args:
        chunk_ids: Chunks that must be nodes even without edges (e.g. dense candidates).
        subgraph: Mention edges ``(chunk, entity, w)`` and relation edges ``(entity, entity, w)``;
            parallel edges add up, self loops and non-positive weights are ignored.
        entity_ids: Entities that must be nodes even without edges (e.g. seeds).
        relation_weight: Factor on relation (entity-entity) edge weights; ``0`` walks only
            over mention edges (a bipartite passage-entity graph).

    Returns:
        The graph; nodes with no edges are marked dangling.
    """
    ce = subgraph.chunk_entity
    ee = subgraph.entity_entity if relation_weight > 0 else []
    index = dict.fromkeys(chunk_ids, 0)
    index.update(dict.fromkeys((c for c, _, _ in ce), 0))
    n_chunks = len(index)
    for node in [*entity_ids, *(e for _, e, _ in ce), *(x for a, b, _ in ee for x in (a, b))]:
        index.setdefault(node, 0)
    nodes = list(index)
    index = {node: i for i, node in enumerate(nodes)}
    n = len(nodes)
    adj = _symmetric(*_edge_arrays(ce, index), n)
    if ee:
        ea, eb, ew = _edge_arrays(ee, index)
        adj = adj + _symmetric(ea, eb, ew * relation_weight, n)
    out = np.asarray(adj.sum(axis=1)).ravel()
    dangling = out <= 0
    inv = np.zeros(n, dtype=np.float64)
    inv[~dangling] = 1.0 / out[~dangling]
    transition = sp.diags(inv) @ adj
    return PPRGraph(
        nodes=nodes,
        index=index,
        n_chunks=n_chunks,
        transition_t=sp.csr_matrix(transition.T),
        dangling=dangling,
    )


def softmax(scores: Sequence[float], temperature: float) -> np.ndarray:
    """Return ``softmax(scores / temperature)`` (numerically stable; empty in, empty out)."""
    x = np.asarray(scores, dtype=np.float64)
    if x.size == 0:
        return x
    z = (x - x.max()) / temperature
    e = np.exp(z)
    result: np.ndarray = e / e.sum()
    return result


def relevance_factor(graph: PPRGraph, hits: Sequence[Hit], temperature: float) -> np.ndarray:
    """Return ``exp((cosine - best) / temperature)`` for each chunk node of ``graph``.

    Args:
        graph: The graph.
        hits: Chunks with their cosine to a query, e.g. a vector search (ids not in the graph
            are ignored); chunks missing from ``hits`` count the lowest cosine given.
        temperature: Above 0; smaller separates the chunks more.

    Returns:
        One factor in ``(0, 1]`` per chunk node (all ones when ``hits`` is empty).

    Example:
        >>> graph = build_graph(["a", "b", "c"], Subgraph(chunk_entity=[], entity_entity=[]))
        >>> relevance_factor(graph, [Hit(id="a", score=0.5), Hit(id="b", score=0.4)], 0.1)
        array([1.        , 0.36787944, 0.36787944])
    """
    if not hits:
        return np.ones(graph.n_chunks, dtype=np.float64)
    scores = [h.score for h in hits]
    cosine = np.full(graph.n_chunks, min(scores), dtype=np.float64)
    for hit in hits:
        i = graph.index.get(hit.id)
        if i is not None and i < graph.n_chunks:
            cosine[i] = max(cosine[i], hit.score)
    result: np.ndarray = np.exp((cosine - max(scores)) / temperature)
    return result


def build_reset(
    graph: PPRGraph,
    dense_hits: Sequence[Hit],
    seed_weights: Mapping[str, float],
    *,
    dense_weight: float,
    temperature: float,
) -> np.ndarray:
    """Build the reset (personalisation) vector of the ``ppr`` mode.

    ``reset = dense_weight * softmax(dense / temperature) + (1 - dense_weight) * seeds / sum``,
    where the softmax runs over the dense candidate passages only. Both parts sum to 1 on
    their own, so the split between them does not depend on how many candidates or seeds
    there are. Without entity seeds all mass goes to the dense part; without dense hits all
    mass goes to the seeds.

    Args:
        graph: The graph (ids not in it are ignored).
        dense_hits: Dense candidate passages with cosine scores.
        seed_weights: Entity id to a positive weight (e.g. 1 / chunks mentioning it).
        dense_weight: Share of the dense part, in ``[0, 1]``.
        temperature: Softmax temperature of the dense part (sharper when small).

    Returns:
        A probability vector over the graph's nodes (all zeros if there is nothing to seed).
    """
    dense = np.zeros(graph.size, dtype=np.float64)
    hits = [h for h in dense_hits if h.id in graph.index]
    if hits:
        probs = softmax([h.score for h in hits], temperature)
        for hit, prob in zip(hits, probs, strict=True):
            dense[graph.index[hit.id]] += prob
    seeds = np.zeros(graph.size, dtype=np.float64)
    for entity, weight in seed_weights.items():
        if entity in graph.index and weight > 0:
            seeds[graph.index[entity]] += weight
    has_dense, has_seeds = dense.sum() > 0, seeds.sum() > 0
    if has_dense and has_seeds:
        reset = dense_weight * dense + (1.0 - dense_weight) * seeds / seeds.sum()
    elif has_dense:
        reset = dense
    elif has_seeds:
        reset = seeds / seeds.sum()
    else:
        return dense
    total = reset.sum()
    result: np.ndarray = reset / total if total > 0 else reset
    return result


def personalized_pagerank(
    graph: PPRGraph,
    reset: np.ndarray,
    *,
    damping: float = 0.5,
    max_iter: int = 30,
    tol: float = 1e-6,
) -> tuple[np.ndarray, int]:
    """Run personalised PageRank by power iteration.

    ``p <- (1 - d) * reset + d * (P^T p) + d * (mass on dangling nodes) * reset``.

    Args:
        graph: The graph.
        reset: The reset (personalisation) vector; normalised here if it does not sum to 1.
        damping: Probability of following an edge (HippoRAG uses 0.5).
        max_iter: Iteration cap.
        tol: Stop when the L1 change between iterations drops below this.

    Returns:
        ``(scores, iterations)``: the stationary distribution (sums to 1, or all zeros if the
        reset vector is all zeros) and the number of iterations run.

    Raises:
        InvalidArgumentError: If ``damping`` is outside ``(0, 1)`` or the reset has the
            wrong shape or negative entries.
    """
    if not 0.0 < damping < 1.0:
        msg = f"ppr damping must be in (0, 1), got {damping}"
        raise InvalidArgumentError(msg)
    if reset.shape != (graph.size,):
        msg = f"reset vector has shape {reset.shape}, expected ({graph.size},)"
        raise InvalidArgumentError(msg)
    if np.any(reset < 0):
        msg = "reset vector has negative entries"
        raise InvalidArgumentError(msg)
    total = float(reset.sum())
    if total <= 0.0:
        return np.zeros(graph.size, dtype=np.float64), 0
    r = reset / total
    p = r.copy()
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - reported to the caller
        leaked = float(p[graph.dangling].sum())
        nxt = (1.0 - damping + damping * leaked) * r + damping * (graph.transition_t @ p)
        change = float(np.abs(nxt - p).sum())
        p = nxt
        if change < tol:
            break
    return p, iterations


def entity_paths(
    edges: Sequence[tuple[str, str, float]],
    sources: Sequence[str],
    targets: Sequence[str],
    max_hops: int,
) -> list[list[str]]:
    """Return one shortest path from any source to each reachable target over relations.

    Multi-source breadth-first search over undirected ``(a, b, w)`` edges, at most
    ``max_hops`` edges. For ``max_hops <= 2`` only edges touching a source or a target can lie
    on a path, so the rest are skipped. Neighbours are visited in sorted order, so the result
    is deterministic. Targets that are sources or unreachable are skipped.

    Args:
        edges: Relation edges (weights are ignored).
        sources: Start entities (e.g. the question's seeds).
        targets: Entities to reach.
        max_hops: Longest path, in edges.

    Returns:
        Paths as lists of entity ids, source first, in the order of ``targets``.
    """
    starts = list(dict.fromkeys(sources))
    if not starts or max_hops < 1:
        return []
    ends = set(targets)
    touch = set(starts) | ends
    adjacency: dict[str, set[str]] = {}
    for a, b, _ in edges:
        if a != b and (max_hops > 2 or a in touch or b in touch):
            adjacency.setdefault(a, set()).add(b)
            adjacency.setdefault(b, set()).add(a)
    parent: dict[str, str | None] = dict.fromkeys(starts)
    depth = dict.fromkeys(starts, 0)
    queue = deque(starts)
    while queue:
        node = queue.popleft()
        if depth[node] >= max_hops:
            continue
        for nxt in sorted(adjacency.get(node, ())):
            if nxt not in parent:
                parent[nxt] = node
                depth[nxt] = depth[node] + 1
                queue.append(nxt)
    paths: list[list[str]] = []
    for target in targets:
        step = parent.get(target)
        if step is None:
            continue
        path = [target]
        while step is not None:
            path.append(step)
            step = parent[step]
        paths.append(path[::-1])
    return paths
