"""Embedded store write validation, provenance rules and the FTS query builder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag.errors import StoreQueryError
from graphrag.models import Evidence, Hit
from graphrag.stores.embedded import EmbeddedGraphStore
from tests.contract.builder import CHAIN, CURIE, EINSTEIN, PIERRE, Doc, build, cid, did, eid

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def store(tmp_path: Path, hash_embedder: Any) -> Any:
    store = EmbeddedGraphStore(tmp_path / "graph.db")
    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)
    yield store
    await store.close()


async def test_relation_without_evidence_uses_its_chunks(store: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, CURIE)
    relation = graph.relations[0]
    relation.evidence = []
    relation.weight = 4.0
    relation.source_chunk_ids = [graph.chunks[0].id, graph.chunks[1].id]

    await store.upsert_documents([graph])

    stored = {r.id: r for r in await store.all_relations()}[relation.id]
    assert stored.weight == pytest.approx(4.0)
    assert set(stored.source_chunk_ids) == {graph.chunks[0].id, graph.chunks[1].id}


async def test_relation_without_any_provenance_is_refused(store: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, CURIE)
    graph.relations[0].evidence = []

    with pytest.raises(StoreQueryError, match="no evidence"):
        await store.upsert_documents([graph])
    assert (await store.stats()).documents == 0


async def test_relation_citing_a_foreign_chunk_is_refused(store: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, CURIE)
    graph.relations[0].evidence = [Evidence(chunk_id="c_elsewhere", sentence="x")]

    with pytest.raises(StoreQueryError, match="c_elsewhere"):
        await store.upsert_documents([graph])


async def test_mention_of_a_foreign_chunk_is_refused(store: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, CURIE)
    graph.mentions[0] = graph.mentions[0].model_copy(update={"chunk_id": "c_elsewhere"})

    with pytest.raises(StoreQueryError, match="c_elsewhere"):
        await store.upsert_documents([graph])


async def test_duplicate_chunk_and_bad_entity_vector_are_refused(
    store: Any, hash_embedder: Any
) -> None:
    graph = await build(hash_embedder, CURIE)
    graph.chunks.append(graph.chunks[0])
    with pytest.raises(StoreQueryError, match="appears twice"):
        await store.upsert_documents([graph])

    graph = await build(hash_embedder, CURIE)
    graph.entities[0].embedding = np.ones(5, dtype=np.float32)
    with pytest.raises(StoreQueryError, match="5-d"):
        await store.upsert_documents([graph])

    graph = await build(hash_embedder, CURIE)
    graph.document.source = ""
    with pytest.raises(StoreQueryError, match="non-empty"):
        await store.upsert_documents([graph])
    assert (await store.stats()).documents == 0


async def test_database_constraint_failure_rolls_back(store: Any, hash_embedder: Any) -> None:
    await store.upsert_documents([await build(hash_embedder, CURIE)])
    graph = await build(hash_embedder, EINSTEIN)
    graph.document = graph.document.model_copy(update={"source": CURIE.source})

    with pytest.raises(StoreQueryError, match="UNIQUE"):
        await store.upsert_documents([graph])

    stats = await store.stats()
    assert (stats.documents, stats.chunks, stats.entities) == (1, 2, 4)
    assert await store.get_document(did(EINSTEIN.source)) is None


async def test_entity_gains_embedding_and_duplicates_merge(store: Any, hash_embedder: Any) -> None:
    first = await build(hash_embedder, CURIE)
    for entity in first.entities:
        entity.embedding = None
    await store.upsert_documents([first])
    [query] = await hash_embedder.embed(["Marie Curie"])
    assert await store.vector_search("entities", query, 5) == []

    second = await build(hash_embedder, PIERRE)
    marie = next(e for e in second.entities if e.id == eid("Marie Curie"))
    second.entities.append(marie.model_copy(update={"name": "Mme Curie", "aliases": ["MC"]}))
    await store.upsert_documents([second])

    [stored] = await store.get_entities([eid("Marie Curie")])
    assert stored.embedding is not None
    assert {"Mme Curie", "MC"} <= set(stored.aliases)
    assert (await store.vector_search("entities", query, 1))[0].id == eid("Marie Curie")


async def test_unreferenced_entities_are_not_stored(store: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, EINSTEIN)
    extra = graph.entities[0].model_copy(update={"id": "e_lonely", "name": "Lonely"})
    graph.entities.append(extra)

    await store.upsert_documents([graph])

    assert await store.get_entities(["e_lonely"]) == []


async def test_mentions_of_the_same_pair_are_merged(store: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, PIERRE)
    first = graph.mentions[1]
    graph.mentions.append(first.model_copy(update={"surface_forms": ["Mme Curie"]}))

    report = await store.upsert_documents([graph])

    assert report.mentions == 4
    [doc_graph] = [g async for g in store.iter_document_graphs()]
    merged = next(m for m in doc_graph.mentions if m.entity_id == first.entity_id)
    assert merged.surface_forms == ["Marie Curie", "Mme Curie"]
    assert len(merged.spans) == 2


async def test_expand_edge_cases(store: Any, hash_embedder: Any) -> None:
    await store.upsert_documents([await build(hash_embedder, CHAIN)])
    seed = [Hit(id=eid("Beta"), score=0.8), Hit(id=eid("Beta"), score=0.4)]

    none = await store.expand(seed, hops=0, degree_cap=5, max_entities=5)
    capped = await store.expand(seed, hops=2, degree_cap=0, max_entities=5)
    empty = await store.expand(seed, hops=2, degree_cap=5, max_entities=0)

    assert [(h.id, h.score) for h in none.entities] == [(eid("Beta"), pytest.approx(0.8))]
    assert [h.id for h in capped.entities] == [eid("Beta")]
    assert empty.entities == []
    assert none.relations == []


async def test_seeds_always_kept_before_neighbours(store: Any, hash_embedder: Any) -> None:
    await store.upsert_documents([await build(hash_embedder, CHAIN)])
    seeds = [Hit(id=eid("Hub"), score=1.0), Hit(id=eid("Delta"), score=0.1)]

    found = await store.expand(seeds, hops=1, degree_cap=10, max_entities=3)

    ids = [h.id for h in found.entities]
    spokes = {eid(f"Spoke{i}") for i in range(1, 5)}
    assert len(ids) == 3
    assert (ids[0], ids[-1]) == (eid("Hub"), eid("Delta"))  # Delta (0.1) outranked, yet kept
    assert ids[1] in spokes
    assert [r.source_id for r in found.relations] == [eid("Hub")]


async def test_merges_recorded_once_and_documents_without_entities(
    store: Any, hash_embedder: Any
) -> None:
    graph = await build(hash_embedder, CURIE)
    await store.upsert_documents([graph, graph])

    assert len(await store.merges()) == 1
    assert len(await store.merges(alias_ids=[graph.merges[0].alias_id, "x"])) == 1
    empty = Doc(source="corpus/empty.txt", chunks=["Nothing here."], mentions=[[]])
    report = await store.upsert_documents([await build(hash_embedder, empty)])
    assert (report.documents, report.entities_new, report.mentions) == (1, 0, 0)
    assert [c.id for c in await store.get_chunks([cid(empty.source, 0)])] == [cid(empty.source, 0)]
