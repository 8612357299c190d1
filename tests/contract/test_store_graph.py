"""Contract: traversal (expand), candidate collection and the entity-chunk subgraph."""

from __future__ import annotations

from typing import Any

import pytest

from graphrag.models import CandidateRequest, Hit
from tests.contract.builder import CHAIN, CURIE, EINSTEIN, PIERRE, build, cid, eid, rid

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def chain(store: Any, hash_embedder: Any) -> Any:
    await store.upsert_documents([await build(hash_embedder, CHAIN)])
    return store


def _scores(expansion: Any) -> dict[str, float]:
    return {h.id: h.score for h in expansion.entities}


async def test_expand_scores_decay_with_hops(chain: Any) -> None:
    one = await chain.expand([Hit(id=eid("Alpha"), score=1.0)], hops=1, degree_cap=10,
                             max_entities=10)  # fmt: skip
    two = await chain.expand([Hit(id=eid("Alpha"), score=1.0)], hops=2, degree_cap=10,
                             max_entities=10)  # fmt: skip

    assert _scores(one) == pytest.approx({eid("Alpha"): 1.0, eid("Beta"): 0.5})
    assert _scores(two) == pytest.approx({eid("Alpha"): 1.0, eid("Beta"): 0.5, eid("Gamma"): 1 / 3})
    assert [h.id for h in two.entities] == [eid("Alpha"), eid("Beta"), eid("Gamma")]
    paths = {p[-1]: p for p in two.paths}
    assert paths[eid("Gamma")] == [eid("Alpha"), eid("Beta"), eid("Gamma")]
    assert paths[eid("Alpha")] == [eid("Alpha")]
    assert len(two.paths) == len(two.entities)
    # relations among the kept entities, heaviest first
    assert [r.id for r in two.relations] == [
        rid("Alpha", "meet", "Beta"),
        rid("Beta", "meet", "Gamma"),
    ]
    assert two.relations[0].weight == pytest.approx(3.0)
    assert two.relations[0].source_chunk_ids == [cid(CHAIN.source, 0)]


async def test_expand_follows_relations_in_both_directions(chain: Any) -> None:
    found = await chain.expand([Hit(id=eid("Delta"), score=0.9)], hops=3, degree_cap=10,
                               max_entities=10)  # fmt: skip

    assert _scores(found) == pytest.approx(
        {eid("Delta"): 0.9, eid("Gamma"): 0.45, eid("Beta"): 0.3, eid("Alpha"): 0.225}
    )


async def test_expand_score_is_max_over_seeds(chain: Any) -> None:
    seeds = [Hit(id=eid("Alpha"), score=1.0), Hit(id=eid("Delta"), score=0.9)]

    found = await chain.expand(seeds, hops=2, degree_cap=10, max_entities=10)

    scores = _scores(found)
    assert scores[eid("Beta")] == pytest.approx(0.5)  # from Alpha (1/2) beats Delta (0.9/3)
    assert scores[eid("Gamma")] == pytest.approx(0.45)  # from Delta (0.9/2) beats Alpha (1/3)
    paths = {p[-1]: p for p in found.paths}
    assert paths[eid("Gamma")] == [eid("Delta"), eid("Gamma")]


async def test_expand_degree_cap_follows_heaviest_relations(chain: Any) -> None:
    found = await chain.expand([Hit(id=eid("Hub"), score=1.0)], hops=1, degree_cap=2,
                               max_entities=10)  # fmt: skip

    assert set(_scores(found)) == {eid("Hub"), eid("Spoke4"), eid("Spoke3")}


async def test_expand_max_entities_counts_seeds(chain: Any) -> None:
    found = await chain.expand([Hit(id=eid("Hub"), score=1.0)], hops=1, degree_cap=10,
                               max_entities=3)  # fmt: skip

    assert len(found.entities) == 3
    assert found.entities[0].id == eid("Hub")
    assert {r.source_id for r in found.relations} == {eid("Hub")}
    kept = {h.id for h in found.entities}
    assert all({r.source_id, r.target_id} <= kept for r in found.relations)


async def test_expand_ignores_unknown_seeds(chain: Any) -> None:
    found = await chain.expand([Hit(id="e_unknown", score=1.0)], hops=2, degree_cap=5,
                               max_entities=5)  # fmt: skip

    assert (found.entities, found.relations, found.paths) == ([], [], [])


async def test_candidates_collects_every_list(filled: Any, hash_embedder: Any) -> None:
    [query] = await hash_embedder.embed(["Radium Institute"])
    request = CandidateRequest(
        query_vector=query,
        query_text="Who founded the Radium Institute?",
        seed_entity_ids=[eid("Ulm"), "e_unknown"],
        k_chunks=3,
        k_entities=2,
        hops=1,
        degree_cap=10,
        max_entities=10,
        max_relations=2,
    )

    found = await filled.candidates(request)

    assert len(found.vector_chunks) == 3
    assert found.bm25_chunks[0].id == cid(CURIE.source, 1)
    seeds = {h.id: h.score for h in found.entity_seeds}
    assert eid("Radium Institute") in seeds
    assert seeds[eid("Ulm")] == pytest.approx(1.0)
    assert "e_unknown" not in seeds
    expanded = {h.id: h.score for h in found.expansion.entities}
    assert eid("Marie Curie") in expanded  # one hop from the Radium Institute
    assert eid("Albert Einstein") in expanded  # one hop from Ulm
    assert len(found.expansion.relations) <= 2
    assert 0 < len(found.graph_chunks) <= 3
    assert [h.score for h in found.graph_chunks] == sorted(
        (h.score for h in found.graph_chunks), reverse=True
    )
    for hit in found.graph_chunks:
        mentioned = found.chunk_entities[hit.id]
        assert hit.score == pytest.approx(sum(expanded[e] for e in mentioned))
    assert set(found.chunk_entities) == {h.id for h in found.graph_chunks}


async def test_candidates_without_bm25(filled: Any, hash_embedder: Any) -> None:
    [query] = await hash_embedder.embed(["Marie Curie"])
    request = CandidateRequest(query_vector=query, query_text="Marie Curie", use_bm25=False)

    found = await filled.candidates(request)

    assert found.bm25_chunks == []
    assert found.entity_seeds[0].id == eid("Marie Curie")
    assert found.graph_chunks


async def test_subgraph_two_hops_around_a_chunk(filled: Any) -> None:
    graph = await filled.subgraph([cid(PIERRE.source, 0)], [], degree_cap=50)

    chunks = {c for c, _, _ in graph.chunk_entity}
    entities = {e for _, e, _ in graph.chunk_entity}
    assert chunks == {
        cid(PIERRE.source, 0), cid(CURIE.source, 0), cid(CURIE.source, 1), cid(EINSTEIN.source, 1),
    }  # fmt: skip
    names = ["Pierre Curie", "Marie Curie", "Sceaux", "Paris", "Warsaw", "Radium Institute",
             "Albert Einstein"]  # fmt: skip
    assert entities == {eid(n) for n in names}
    weights = {(c, e): w for c, e, w in graph.chunk_entity}
    assert weights[(cid(PIERRE.source, 0), eid("Marie Curie"))] == pytest.approx(2.0)
    assert weights[(cid(PIERRE.source, 0), eid("Sceaux"))] == pytest.approx(1.0)
    relation_edges = {(s, t): w for s, t, w in graph.entity_entity}
    assert relation_edges[(eid("Marie Curie"), eid("Paris"))] == pytest.approx(2.0)
    assert (eid("Albert Einstein"), eid("Ulm")) not in relation_edges
    assert len(relation_edges) == 5
    assert graph.entity_chunk_counts[eid("Marie Curie")] == 4
    assert graph.entity_chunk_counts[eid("Sceaux")] == 1
    assert set(graph.entity_chunk_counts) == entities


async def test_subgraph_from_entities_and_degree_cap(filled: Any) -> None:
    capped = await filled.subgraph([], [eid("Ulm")], degree_cap=1)
    wide = await filled.subgraph([], [eid("Paris")], degree_cap=50)
    narrow = await filled.subgraph([], [eid("Paris")], degree_cap=1)

    assert {c for c, _, _ in capped.chunk_entity} == {cid(EINSTEIN.source, 0)}
    assert {e for _, e, _ in capped.chunk_entity} == {
        eid("Albert Einstein"), eid("Ulm"), eid("Bern"),
    }  # fmt: skip
    assert len({c for c, _, _ in wide.chunk_entity}) == 4
    assert len({c for c, _, _ in narrow.chunk_entity}) == 1
    assert narrow.entity_chunk_counts[eid("Paris")] == 4


async def test_subgraph_of_unknown_nodes_is_empty(filled: Any) -> None:
    graph = await filled.subgraph(["c_unknown"], ["e_unknown"], degree_cap=10)

    assert (graph.chunk_entity, graph.entity_entity, graph.entity_chunk_counts) == ([], [], {})


async def test_subgraph_without_relations_keeps_mentions(filled: Any) -> None:
    full = await filled.subgraph([cid(PIERRE.source, 0)], [], degree_cap=50)
    lean = await filled.subgraph(
        [cid(PIERRE.source, 0)], [], degree_cap=50, include_relations=False
    )

    assert full.entity_entity  # the fixture has relations among these entities
    assert lean.entity_entity == []
    assert sorted(lean.chunk_entity) == sorted(full.chunk_entity)
    assert lean.entity_chunk_counts == full.entity_chunk_counts
