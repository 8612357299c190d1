from __future__ import annotations

import numpy as np
import pytest

from graphrag.models import Hit, Subgraph
from graphrag.retrieve.ppr import (
    build_graph,
    build_reset,
    entity_paths,
    personalized_pagerank,
    relevance_factor,
    softmax,
)
from graphrag.retrieve.ppr_retriever import expansion_candidates, seed_weights


def bridge_subgraph() -> Subgraph:
    """q1 mentions A; the bridge passage mentions A and B; p2 mentions only B; noise mentions C."""
    return Subgraph(
        chunk_entity=[
            ("c_q1", "e_A", 1.0),
            ("c_bridge", "e_A", 1.0),
            ("c_bridge", "e_B", 1.0),
            ("c_p2", "e_B", 1.0),
            ("c_noise", "e_C", 1.0),
        ],
        entity_entity=[("e_A", "e_B", 1.0)],
        entity_chunk_counts={"e_A": 2, "e_B": 2, "e_C": 1},
    )


def test_graph_is_row_stochastic_with_chunks_first() -> None:
    graph = build_graph(["c_q1", "c_iso"], bridge_subgraph())
    assert graph.chunk_ids() == ["c_q1", "c_iso", "c_bridge", "c_p2", "c_noise"]
    assert set(graph.entity_ids()) == {"e_A", "e_B", "e_C"}
    p = graph.transition_t.T.toarray()
    sums = p.sum(axis=1)
    iso = graph.index["c_iso"]
    assert graph.dangling[iso]
    assert sums[iso] == 0.0
    assert np.allclose(np.delete(sums, iso), 1.0)
    # symmetric structure: A links to q1, bridge and B
    a = graph.index["e_A"]
    assert np.isclose(p[a, graph.index["c_q1"]], 1 / 3)
    b = graph.index["e_B"]
    assert np.isclose(p[a, b], 1 / 3)  # the relation edge
    assert np.isclose(p[b, a], 1 / 3)


def test_relation_weight_scales_or_drops_entity_edges() -> None:
    walk = build_graph([], bridge_subgraph(), relation_weight=0.0)
    p = walk.transition_t.T.toarray()
    a, b = walk.index["e_A"], walk.index["e_B"]
    assert p[a, b] == 0.0  # mention edges only: a bipartite passage-entity graph
    assert np.isclose(p[a, walk.index["c_q1"]], 1 / 2)
    light = build_graph([], bridge_subgraph(), relation_weight=0.5).transition_t.T.toarray()
    assert np.isclose(light[a, b], 0.5 / 2.5)


def test_mass_flows_from_the_seed_to_the_bridge_passage() -> None:
    graph = build_graph([], bridge_subgraph())
    reset = build_reset(graph, [], {"e_A": 1.0}, dense_weight=0.5, temperature=0.02)
    mass, iterations = personalized_pagerank(graph, reset, damping=0.5)
    assert mass.sum() == pytest.approx(1.0)
    assert 1 < iterations <= 30
    chunk_mass = {c: mass[graph.index[c]] for c in graph.chunk_ids()}
    ranked = sorted(chunk_mass, key=lambda c: -chunk_mass[c])
    # the bridge passage (two hops of evidence) beats the passage that only shares A
    assert ranked[0] == "c_bridge"
    assert chunk_mass["c_p2"] > 0.0  # second hop reached through B
    assert chunk_mass["c_noise"] == 0.0  # disconnected component gets nothing


def test_dense_reset_alone_ranks_by_dense_then_spreads() -> None:
    graph = build_graph(["c_q1", "c_noise"], bridge_subgraph())
    dense = [Hit(id="c_q1", score=0.80), Hit(id="c_noise", score=0.70)]
    reset = build_reset(graph, dense, {}, dense_weight=0.5, temperature=0.02)
    # no seeds: all mass on the softmax of the dense part
    assert reset.sum() == pytest.approx(1.0)
    assert reset[graph.index["c_q1"]] == pytest.approx(softmax([0.8, 0.7], 0.02)[0])
    mass, _ = personalized_pagerank(graph, reset, damping=0.5)
    assert mass[graph.index["c_q1"]] > mass[graph.index["c_noise"]]
    assert mass[graph.index["c_bridge"]] > 0.0


def test_reset_mixes_dense_and_seed_halves() -> None:
    graph = build_graph(["c_q1"], bridge_subgraph())
    reset = build_reset(
        graph,
        [Hit(id="c_q1", score=0.5)],
        {"e_A": 2.0, "e_B": 2.0, "e_unknown": 5.0},
        dense_weight=0.5,
        temperature=0.02,
    )
    assert reset[graph.index["c_q1"]] == pytest.approx(0.5)
    assert reset[graph.index["e_A"]] == pytest.approx(0.25)
    assert reset[graph.index["e_B"]] == pytest.approx(0.25)


def test_dangling_mass_returns_to_the_reset() -> None:
    graph = build_graph(["c_iso"], Subgraph(chunk_entity=[("c_x", "e_X", 1.0)], entity_entity=[]))
    reset = np.zeros(graph.size)
    reset[graph.index["c_iso"]] = 0.5
    reset[graph.index["e_X"]] = 0.5
    mass, _ = personalized_pagerank(graph, reset, damping=0.5)
    assert mass.sum() == pytest.approx(1.0)
    # the isolated node's mass leaks back through the reset (half returns to it):
    # p = (1 - d + d * p) * 0.5 with d = 0.5  ->  p = 1/3; nothing is lost
    assert mass[graph.index["c_iso"]] == pytest.approx(1 / 3, abs=1e-6)
    assert mass[graph.index["c_x"]] > 0.0


def test_no_seeds_and_no_dense_gives_zero_mass() -> None:
    graph = build_graph([], bridge_subgraph())
    reset = build_reset(graph, [], {}, dense_weight=0.5, temperature=0.02)
    assert not reset.any()
    mass, iterations = personalized_pagerank(graph, reset)
    assert not mass.any()
    assert iterations == 0


def test_empty_graph() -> None:
    graph = build_graph([], Subgraph(chunk_entity=[], entity_entity=[]))
    assert graph.size == 0
    mass, _ = personalized_pagerank(graph, np.zeros(0))
    assert mass.shape == (0,)


def test_pagerank_rejects_bad_input() -> None:
    graph = build_graph(["c_a"], Subgraph(chunk_entity=[], entity_entity=[]))
    with pytest.raises(ValueError, match="damping"):
        personalized_pagerank(graph, np.ones(1), damping=1.0)
    with pytest.raises(ValueError, match="shape"):
        personalized_pagerank(graph, np.ones(3))
    with pytest.raises(ValueError, match="negative"):
        personalized_pagerank(graph, -np.ones(1))


def test_softmax_temperature_sharpens() -> None:
    flat = softmax([0.5, 0.4], 1.0)
    sharp = softmax([0.5, 0.4], 0.02)
    assert flat.sum() == pytest.approx(1.0)
    assert sharp[0] > flat[0] > 0.5
    assert softmax([], 0.1).size == 0


def test_seed_weights_favour_rare_entities() -> None:
    weights = seed_weights(
        {"e_rare": 1.0, "e_common": 1.0, "e_new": 0.8}, {"e_rare": 1, "e_common": 10}
    )
    assert weights == {"e_rare": 1.0, "e_common": 0.1, "e_new": 0.8}


def test_entity_paths_follow_relations_from_the_seeds() -> None:
    edges = [("e_a", "e_b", 1.0), ("e_b", "e_c", 1.0), ("e_c", "e_d", 1.0), ("e_x", "e_x", 1.0)]
    paths = entity_paths(edges, ["e_a"], ["e_c", "e_d", "e_a", "e_z"], max_hops=2)
    # e_d is 3 hops away, e_a is the seed, e_z is unknown
    assert paths == [["e_a", "e_b", "e_c"]]
    assert entity_paths(edges, ["e_a"], ["e_d"], max_hops=3) == [["e_a", "e_b", "e_c", "e_d"]]
    assert entity_paths(edges, ["e_a", "e_d"], ["e_c"], max_hops=2) == [["e_d", "e_c"]]
    assert entity_paths(edges, [], ["e_c"], max_hops=2) == []
    assert entity_paths(edges, ["e_a"], ["e_b"], max_hops=0) == []


def test_expansion_candidates_cover_the_softmax_mass() -> None:
    dense = [Hit(id="c1", score=0.80), Hit(id="c2", score=0.79), Hit(id="c3", score=0.50)]
    # at temperature 0.02, c3 holds e^-15 of the mass: not worth expanding
    assert expansion_candidates(dense, 0.02, 0.999) == ["c1", "c2"]
    assert expansion_candidates(dense, 0.02, 1.0) == ["c1", "c2", "c3"]
    assert expansion_candidates(dense, 10.0, 0.999) == ["c1", "c2", "c3"]  # flat softmax
    assert expansion_candidates(dense[:1], 0.02, 0.5) == ["c1"]
    assert expansion_candidates([], 0.02, 0.999) == []


def test_relevance_factor_scales_chunks_by_cosine_with_a_floor() -> None:
    graph = build_graph(["c_q1", "c_iso"], bridge_subgraph())
    hits = [Hit(id="c_bridge", score=0.6), Hit(id="c_q1", score=0.4), Hit(id="c_out", score=0.3)]
    factor = relevance_factor(graph, hits, 0.1)
    assert factor.shape == (graph.n_chunks,)
    by_chunk = dict(zip(graph.chunk_ids(), factor.tolist(), strict=True))
    assert by_chunk["c_bridge"] == pytest.approx(1.0)  # the best cosine
    assert by_chunk["c_q1"] == pytest.approx(np.exp(-2.0))
    # chunks the hits do not score count the lowest cosine given (c_out, not in the graph)
    assert by_chunk["c_p2"] == by_chunk["c_iso"] == pytest.approx(np.exp(-3.0))
    assert relevance_factor(graph, [], 0.1).tolist() == [1.0] * graph.n_chunks
