"""Graph analysis on a real embedded store: PageRank ranks, Louvain communities, summaries."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag.analyze import AnalysisReport, analyze_graph, parse_key_sentences
from graphrag.analyze.graph_analysis import (
    SUMMARY_PREFIX,
    build_graph,
    community_id,
    rank_and_cluster,
)
from graphrag.errors import ConfigError, EmbeddingError
from graphrag.models import Relation, RelationKind
from graphrag.stores.embedded import EmbeddedGraphStore
from graphrag.stores.embedded.schema import SCHEMA_VERSION
from tests.contract.builder import CHAIN, CORPUS, Doc, build_all, cid, did, eid

pytestmark = pytest.mark.asyncio(loop_scope="session")

COOCCURRING = Doc(
    source="corpus/cooc.txt",
    chunks=["Oslo and Bergen and Tromso."],
    mentions=[["Oslo", "Bergen", "Tromso"]],
    relations=[
        ("Oslo", "co_occurs_with", "Bergen", 0, 2.0),
        ("Bergen", "co_occurs_with", "Tromso", 0, 2.0),
    ],
)


@pytest.fixture
async def store(tmp_path: Path, hash_embedder: Any) -> Any:
    store = EmbeddedGraphStore(tmp_path / "graph.db")
    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    yield store
    await store.close()


@pytest.fixture
async def graph_store(store: Any, hash_embedder: Any) -> Any:
    """The contract corpus (Curies, Einstein) plus a disconnected chain and hub-and-spokes."""
    await store.upsert_documents(await build_all(hash_embedder, [*CORPUS, CHAIN]))
    return store


def relation(source: str, target: str, weight: float, predicate: str = "meet") -> Relation:
    return Relation(
        id=f"r_{source}_{predicate}_{target}",
        source_id=source,
        target_id=target,
        predicate=predicate,
        kind=RelationKind.SVO,
        weight=weight,
    )


def group_of(communities: list[Any], entity_id: str) -> Any:
    [found] = [c for c in communities if entity_id in c.member_ids]
    return found


async def test_ranks_every_related_entity(graph_store: Any) -> None:
    report = await analyze_graph(graph_store)

    assert isinstance(report, AnalysisReport)
    assert (report.entities, report.relations) == (17, 14)  # Sceaux has no relation
    assert report.seconds > 0
    names = ["Marie Curie", "Paris", "Hub", "Spoke1", "Spoke4", "Sceaux"]
    ranks = {e.name: e.rank for e in await graph_store.get_entities([eid(n) for n in names])}
    assert ranks["Sceaux"] is None
    assert ranks["Marie Curie"] > ranks["Paris"]
    assert ranks["Hub"] > ranks["Spoke4"] > ranks["Spoke1"]  # heavier spokes rank higher


async def test_ranks_sum_to_one(graph_store: Any) -> None:
    await analyze_graph(graph_store)
    related = {r.source_id for r in await graph_store.all_relations()}
    related |= {r.target_id for r in await graph_store.all_relations()}

    ranks = [e.rank for e in await graph_store.get_entities(sorted(related))]

    assert sum(r for r in ranks if r is not None) == pytest.approx(1.0)
    assert all(r is not None and r > 0 for r in ranks)


async def test_communities_follow_the_graph_structure(graph_store: Any) -> None:
    report = await analyze_graph(graph_store)

    communities = await graph_store.list_communities()
    assert report.communities == len(communities) >= 3
    hub = group_of(communities, eid("Hub"))
    assert {eid(f"Spoke{i}") for i in range(1, 5)} <= set(hub.member_ids)
    curie = group_of(communities, eid("Marie Curie"))
    assert not set(curie.member_ids) & set(hub.member_ids)  # disconnected parts never mix
    assert eid("Sceaux") not in {m for c in communities for m in c.member_ids}
    sizes = [len(c.member_ids) for c in communities]
    assert sizes == sorted(sizes, reverse=True)
    assert [c.ordinal for c in communities] == list(range(len(communities)))
    assert {c.level for c in communities} == {0}


async def test_ids_titles_and_members_are_ordered_by_rank(graph_store: Any) -> None:
    await analyze_graph(graph_store)

    for community in await graph_store.list_communities():
        members = await graph_store.get_entities(community.member_ids)
        ranks = [m.rank for m in members]
        assert ranks == sorted(ranks, reverse=True)
        assert community.title == ", ".join(m.name for m in members[:3])
        assert community.id == community_id(0, community.ordinal, community.member_ids)


async def test_summary_names_top_members_with_types_relations_and_cited_sentences(
    graph_store: Any,
) -> None:
    await analyze_graph(graph_store)

    hub = group_of(await graph_store.list_communities(), eid("Hub"))

    assert hub.summary is not None
    assert hub.summary.startswith(f"{SUMMARY_PREFIX} 5 entities: Hub (ENTITY), Spoke4 (ENTITY), ")
    assert "Key relations: Hub –meet→ Spoke4, Hub –meet→ Spoke3, Hub –meet→ Spoke2." in hub.summary
    spokes = cid(CHAIN.source, 3)
    assert hub.chunk_ids == [spokes]
    quoted = parse_key_sentences(hub.summary)
    assert quoted == [("Hub met Spoke4.", spokes), ("Hub met Spoke3.", spokes)]  # 2 per chunk


async def test_supporting_chunks_connect_the_most_members_first(graph_store: Any) -> None:
    await analyze_graph(graph_store)

    curie = group_of(await graph_store.list_communities(), eid("Marie Curie"))

    assert curie.chunk_ids
    assert set(curie.chunk_ids) <= {cid(d.source, i) for d in CORPUS for i in range(2)}
    chunks = {c.id: c for c in await graph_store.get_chunks(curie.chunk_ids)}
    for chunk_id, sentence in [(c, s) for s, c in parse_key_sentences(curie.summary)]:
        assert sentence in chunks[chunk_id].text  # quoted verbatim from a supporting chunk


async def test_cooccurrence_only_community_says_so(store: Any, hash_embedder: Any) -> None:
    await store.upsert_documents(await build_all(hash_embedder, [COOCCURRING]))

    await analyze_graph(store)

    [only] = await store.list_communities()
    assert only.summary is not None
    assert "Key relations: none found." in only.summary
    assert parse_key_sentences(only.summary) == [
        ("Oslo and Bergen and Tromso.", cid(COOCCURRING.source, 0))
    ]
    assert set(only.member_ids) == {eid("Oslo"), eid("Bergen"), eid("Tromso")}


async def test_with_an_embedder_every_summary_is_embedded(
    graph_store: Any, hash_embedder: Any
) -> None:
    report = await analyze_graph(graph_store, embedder=hash_embedder)

    communities = await graph_store.list_communities()
    assert report.embedded == report.communities == len(communities) >= 3
    for community in communities:
        assert community.embedding is not None
        assert community.embedding.shape == (hash_embedder.dim,)
        assert np.linalg.norm(community.embedding) == pytest.approx(1.0, abs=1e-5)
    assert set(report.timings) == {"read", "cluster", "summarize", "embed", "save"}
    state = await graph_store.analysis_state()
    assert (state.communities, state.embedded, state.stale) == (len(communities),) * 2 + (False,)


async def test_without_an_embedder_summaries_are_saved_unembedded(graph_store: Any) -> None:
    report = await analyze_graph(graph_store)

    assert report.embedded == 0
    assert "embed" not in report.timings
    assert all(c.embedding is None for c in await graph_store.list_communities())
    assert (await graph_store.analysis_state()).embedded == 0


async def test_a_failing_embedder_saves_nothing(graph_store: Any) -> None:
    class Broken:
        model_name, dim = "broken", 32

        async def embed(self, texts: Any, *, kind: str = "passage") -> Any:
            raise EmbeddingError("the model is gone")

    with pytest.raises(EmbeddingError, match="gone"):
        await analyze_graph(graph_store, embedder=Broken())

    assert await graph_store.list_communities() == []
    assert await graph_store.analysis_state() is None


async def test_same_graph_and_seed_give_the_same_communities(graph_store: Any) -> None:
    await analyze_graph(graph_store, seed=7)
    first = [(c.id, c.member_ids) for c in await graph_store.list_communities()]

    await analyze_graph(graph_store, seed=7)

    assert [(c.id, c.member_ids) for c in await graph_store.list_communities()] == first


async def test_min_community_size_drops_small_groups_and_old_results(graph_store: Any) -> None:
    await analyze_graph(graph_store)
    assert await graph_store.list_communities()

    report = await analyze_graph(graph_store, min_community_size=100)

    assert report.communities == 0
    assert await graph_store.list_communities() == []
    [curie] = await graph_store.get_entities([eid("Marie Curie")])
    assert curie.rank is not None


async def test_communities_of_deleted_entities_go_with_the_next_analysis(
    graph_store: Any,
) -> None:
    await analyze_graph(graph_store)
    await graph_store.delete_document(did(CHAIN.source))
    hub_gone = [c for c in await graph_store.list_communities() if not c.member_ids]
    assert hub_gone  # the chain's communities lost every member

    await analyze_graph(graph_store)

    communities = await graph_store.list_communities()
    assert all(c.member_ids for c in communities)
    assert eid("Hub") not in {m for c in communities for m in c.member_ids}


async def test_an_empty_store_gives_an_empty_report(store: Any) -> None:
    report = await analyze_graph(store)

    assert (report.entities, report.relations, report.communities) == (0, 0, 0)
    assert await store.list_communities() == []


@pytest.mark.parametrize(
    ("options", "problem"),
    [({"resolution": 0.0}, "resolution"), ({"min_community_size": 0}, "min_community_size")],
)
async def test_invalid_options_are_config_errors(
    graph_store: Any, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigError, match=problem):
        await analyze_graph(graph_store, **options)

    assert await graph_store.list_communities() == []


async def test_parallel_relations_add_up_and_self_loops_add_no_edge() -> None:
    built = build_graph(
        [
            relation("a", "b", 1.0),
            relation("b", "a", 2.0, "know"),
            relation("c", "c", 5.0),
            relation("d", "a", 0.0),
        ]
    )

    assert built.ids == ["a", "b", "c", "d"]
    assert sorted(built.graph.nodes) == [0, 1, 2, 3]
    assert built.graph[0][1]["weight"] == 3.0
    assert built.graph.number_of_edges() == 1


async def test_relation_order_does_not_change_the_result() -> None:
    rng = random.Random(3)
    relations = [
        relation(f"n{rng.randrange(60)}", f"n{rng.randrange(60)}", rng.uniform(0.5, 3.0))
        for _ in range(300)
    ]
    shuffled = list(relations)
    rng.shuffle(shuffled)

    first = rank_and_cluster(relations, resolution=1.0, seed=42, min_community_size=2)
    second = rank_and_cluster(shuffled, resolution=1.0, seed=42, min_community_size=2)

    assert first.groups == second.groups
    assert first.ranks == pytest.approx(second.ranks)


async def test_run_analysis_uses_the_components_store(
    settings: Any, hash_embedder: Any, extractor: Any
) -> None:
    from graphrag.runtime import open_components
    from pipelines.analyze_job import run_analysis

    components = await open_components(settings, embedder=hash_embedder, extractor=extractor)
    try:
        await components.store.upsert_documents(await build_all(hash_embedder, [CHAIN]))

        report = await run_analysis(components)

        assert report.relations == 7
        assert report.communities == len(await components.store.list_communities()) >= 2
        assert report.embedded == report.communities  # the components' embedder is used
    finally:
        await components.close()


async def test_a_version_1_store_is_migrated_and_keeps_its_data(
    tmp_path: Path, hash_embedder: Any
) -> None:
    path = tmp_path / "old.db"
    old = EmbeddedGraphStore(path)
    await old.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    await old.upsert_documents(await build_all(hash_embedder, CORPUS))
    await old.close()
    with sqlite3.connect(path) as conn:  # what version 1 looked like: no community tables
        conn.execute("DROP TABLE community_members")
        conn.execute("DROP TABLE communities")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    conn.close()

    store = EmbeddedGraphStore(path)
    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    try:
        stats = await store.stats()
        assert (stats.schema_version, stats.entities, stats.communities) == (SCHEMA_VERSION, 9, 0)
        report = await analyze_graph(store)
        assert report.communities == len(await store.list_communities()) >= 1
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    conn.close()
    assert version == (str(SCHEMA_VERSION),)


async def test_a_version_4_store_gains_community_chunk_ids(
    tmp_path: Path, hash_embedder: Any
) -> None:
    path = tmp_path / "v4.db"
    old = EmbeddedGraphStore(path)
    await old.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    await old.upsert_documents(await build_all(hash_embedder, [CHAIN]))
    await analyze_graph(old, embedder=hash_embedder)
    before = {c.id: c for c in await old.list_communities()}
    await old.close()
    with sqlite3.connect(path) as conn:  # what version 4 looked like: no chunk_ids, no index
        conn.execute("DROP INDEX community_members_order")
        conn.execute("ALTER TABLE communities DROP COLUMN chunk_ids")
        conn.execute("UPDATE meta SET value = '4' WHERE key = 'schema_version'")
    conn.close()

    store = EmbeddedGraphStore(path)
    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    try:
        assert (await store.stats()).schema_version == SCHEMA_VERSION == 5
        kept = await store.list_communities()
        assert {c.id for c in kept} == set(before)
        for community in kept:
            assert community.chunk_ids == []  # saved before version 5
            assert community.member_ids == before[community.id].member_ids
            assert np.allclose(community.embedding, before[community.id].embedding)
        await analyze_graph(store, embedder=hash_embedder)
        assert all(c.chunk_ids for c in await store.list_communities())
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        index = conn.execute(
            "SELECT name FROM sqlite_master WHERE name = 'community_members_order'"
        ).fetchone()
    conn.close()
    assert (version, index) == (("5",), ("community_members_order",))
