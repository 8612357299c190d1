"""Contract: merges and undo, export/migration round trip, schema checks, stats."""

from __future__ import annotations

from typing import Any

import pytest

from graphrag.errors import NotFoundError, SchemaError
from graphrag.models import DocumentStatus
from tests.contract.builder import (
    CORPUS,
    CORPUS_COUNTS,
    CURIE,
    EINSTEIN,
    build,
    counts,
    did,
    document,
    eid,
    merge,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_merges_listed_and_undone(filled: Any, hash_embedder: Any) -> None:
    [record] = await filled.merges()
    assert record.canonical_id == eid("Marie Curie")
    assert record.undone_at is None
    assert [m.id for m in await filled.merges(alias_ids=[record.alias_id])] == [record.id]
    assert await filled.merges(alias_ids=["e_other"]) == []

    undone = await filled.mark_merge_undone(record.id)
    assert undone.id == record.id
    assert undone.undone_at is not None
    again = await filled.mark_merge_undone(record.id)
    assert again.undone_at == undone.undone_at  # idempotent
    [listed] = await filled.merges()
    assert listed.undone_at == undone.undone_at

    # re-writing the document neither duplicates nor revives the merge
    await filled.upsert_documents([await build(hash_embedder, CURIE)])
    [kept] = await filled.merges()
    assert kept.undone_at == undone.undone_at


async def test_undo_unknown_merge_raises_not_found(store: Any) -> None:
    with pytest.raises(NotFoundError, match="x_missing"):
        await store.mark_merge_undone("x_missing")


async def test_new_merges_are_counted(filled: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, EINSTEIN)
    graph.merges = [merge("A. Einstein", "PERSON", "Albert Einstein")]

    report = await filled.upsert_documents([graph])

    assert report.merges == 1
    assert (await filled.stats()).merges == 2
    alias_ids = [m.alias_id for m in graph.merges]
    assert [m.canonical_id for m in await filled.merges(alias_ids=alias_ids)] == [
        eid("Albert Einstein")
    ]


async def test_document_graphs_rebuild_an_equal_store(
    filled: Any, store_factory: Any, hash_embedder: Any
) -> None:
    await filled.set_document_status(
        document(EINSTEIN).model_copy(update={"id": "d_failed", "source": "corpus/failed.txt"}),
        DocumentStatus.FAILED,
        error="could not parse",
    )
    target = await store_factory()

    graphs = [g async for g in filled.iter_document_graphs()]
    for graph in graphs:
        await target.upsert_documents([graph])

    assert sorted(g.document.source for g in graphs) == sorted(d.source for d in CORPUS)
    assert sum(len(g.merges) for g in graphs) == 1
    assert counts(await target.stats()) == CORPUS_COUNTS
    [query] = await hash_embedder.embed(["physics in Paris"], kind="query")
    for text in ["Radium Institute", "born in Ulm", "married"]:
        assert await target.keyword_search(text, 5) == await filled.keyword_search(text, 5)
    assert await target.vector_search("chunks", query, 5) == await filled.vector_search(
        "chunks", query, 5
    )
    assert await target.vector_search("entities", query, 5) == await filled.vector_search(
        "entities", query, 5
    )
    assert _relations(await target.all_relations()) == _relations(await filled.all_relations())
    ids = [eid(n) for n in ["Marie Curie", "Paris", "Sceaux", "Radium Institute"]]
    assert _entities(await target.get_entities(ids)) == _entities(await filled.get_entities(ids))
    assert await target.merges() == await filled.merges()


async def test_document_graph_relations_carry_only_their_evidence(filled: Any) -> None:
    graphs = {g.document.source: g async for g in filled.iter_document_graphs()}

    for source, graph in graphs.items():
        chunk_ids = {c.id for c in graph.chunks}
        entity_ids = {e.id for e in graph.entities}
        assert all(c.embedding is not None for c in graph.chunks)
        assert all(e.embedding is not None for e in graph.entities)
        for relation in graph.relations:
            assert relation.evidence
            assert {e.chunk_id for e in relation.evidence} <= chunk_ids, source
            assert {relation.source_id, relation.target_id} <= entity_ids
        assert {m.entity_id for m in graph.mentions} <= entity_ids
    assert graphs[CURIE.source].document.id == did(CURIE.source)


async def test_all_relations_have_weights_and_chunks(filled: Any) -> None:
    relations = await filled.all_relations()

    assert len(relations) == 7
    by_predicate = {(r.predicate, r.source_id): r for r in relations}
    studied = by_predicate[("study in", eid("Marie Curie"))]
    assert studied.weight == pytest.approx(2.0)
    assert len(studied.source_chunk_ids) == 2


async def test_schema_mismatch_is_refused(store: Any, hash_embedder: Any) -> None:
    await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=hash_embedder.dim)

    with pytest.raises(SchemaError, match="other-model"):
        await store.ensure_schema(embedding_model="other-model", dim=hash_embedder.dim)
    with pytest.raises(SchemaError, match="dim"):
        await store.ensure_schema(embedding_model=hash_embedder.model_name, dim=7)


async def test_stats_and_location(filled: Any) -> None:
    stats = await filled.stats()

    assert stats.backend in {"embedded", "arango"}
    assert stats.location == filled.location
    assert stats.schema_version >= 1
    assert "password" not in filled.location.lower()


def _relations(relations: list[Any]) -> dict[str, tuple[Any, ...]]:
    return {
        r.id: (r.source_id, r.target_id, r.predicate, r.kind, round(r.weight, 6),
               frozenset(r.source_chunk_ids))
        for r in relations
    }  # fmt: skip


def _entities(entities: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (e.id, e.name, e.type, frozenset(e.aliases), frozenset(e.source_chunk_ids),
         e.mention_count, tuple(round(float(x), 6) for x in e.embedding))
        for e in entities
    ]  # fmt: skip
