"""Contract: vector search, BM25 keyword search, chunk/entity reads, name lookup."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graphrag.errors import StoreQueryError
from graphrag.ids import normalize_name
from tests.contract.builder import CORPUS, CURIE, EINSTEIN, PIERRE, build, cid, did, eid

pytestmark = pytest.mark.asyncio(loop_scope="session")

ALL_CHUNKS = [cid(doc.source, i) for doc in CORPUS for i in range(len(doc.chunks))]


async def test_each_chunk_is_its_own_nearest_neighbour(filled: Any) -> None:
    for chunk in await filled.get_chunks(ALL_CHUNKS):
        hits = await filled.vector_search("chunks", chunk.embedding, 1)
        assert [h.id for h in hits] == [chunk.id]
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)


async def test_each_entity_is_its_own_nearest_neighbour(filled: Any, hash_embedder: Any) -> None:
    names = ["Marie Curie", "Radium Institute", "Ulm", "Sceaux"]
    vectors = await hash_embedder.embed(names)
    for name, vector in zip(names, vectors, strict=True):
        hits = await filled.vector_search("entities", vector, 3)
        assert hits[0].id == eid(name)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


async def test_vector_search_k_larger_than_collection_returns_all(
    filled: Any, hash_embedder: Any
) -> None:
    [query] = await hash_embedder.embed(["physics in Paris"], kind="query")

    hits = await filled.vector_search("chunks", query, 100)

    assert sorted(h.id for h in hits) == sorted(ALL_CHUNKS)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert len(await filled.vector_search("entities", query, 100)) == 9


async def test_vector_search_on_empty_store(store: Any, hash_embedder: Any) -> None:
    [query] = await hash_embedder.embed(["anything"], kind="query")

    assert await store.vector_search("chunks", query, 5) == []
    assert await store.vector_search("entities", query, 5) == []


async def test_vector_of_wrong_dimension_is_refused(filled: Any, hash_embedder: Any) -> None:
    with pytest.raises(StoreQueryError, match=r"dim|shape"):
        await filled.vector_search("chunks", np.ones(hash_embedder.dim + 3, dtype=np.float32), 3)


async def test_keyword_in_one_chunk_ranks_it_first(filled: Any) -> None:
    hits = await filled.keyword_search("Where is the Radium Institute?", 5)

    assert hits[0].id == cid(CURIE.source, 1)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    sceaux = await filled.keyword_search("sceaux", 5)
    assert [h.id for h in sceaux] == [cid(PIERRE.source, 0)]


async def test_keyword_search_matches_any_term(filled: Any) -> None:
    hits = await filled.keyword_search("radium ulm", 10)

    assert {h.id for h in hits} == {cid(CURIE.source, 1), cid(EINSTEIN.source, 0)}
    assert len(await filled.keyword_search("paris", 1)) == 1


async def test_keyword_search_stems_words(filled: Any) -> None:
    hits = await filled.keyword_search("founding", 5)

    assert [h.id for h in hits] == [cid(CURIE.source, 1)]


async def test_stopword_only_query_returns_nothing(filled: Any) -> None:
    assert await filled.keyword_search("what is the", 5) == []
    assert await filled.keyword_search("", 5) == []
    assert await filled.keyword_search("?!", 5) == []


@pytest.mark.parametrize(
    "text",
    ['"AND" OR (*', "NEAR(radium institute)", 'radium" OR "x', "text:radium ^ -* {}", "'\\;--"],
)
async def test_fts_syntax_in_queries_is_harmless(filled: Any, text: str) -> None:
    hits = await filled.keyword_search(text, 5)

    if "radium" in text:
        assert hits[0].id == cid(CURIE.source, 1)
    else:
        assert hits == []


async def test_get_chunks_in_order_skipping_unknown(filled: Any) -> None:
    wanted = [cid(PIERRE.source, 0), "c_unknown", cid(CURIE.source, 1)]

    chunks = await filled.get_chunks(wanted)

    assert [c.id for c in chunks] == [cid(PIERRE.source, 0), cid(CURIE.source, 1)]
    assert chunks[1].text == CURIE.chunks[1]
    assert chunks[1].document_id == did(CURIE.source)
    assert chunks[1].ordinal == 1
    assert chunks[1].embedding is not None


async def test_get_chunks_without_extraction_keeps_text_and_position(filled: Any) -> None:
    """``extraction=False`` (retrieval contexts): the same chunks without the stored
    extraction and the embedding."""
    wanted = [cid(PIERRE.source, 0), "c_unknown", cid(CURIE.source, 1)]
    full = await filled.get_chunks(wanted)

    bare = await filled.get_chunks(wanted, extraction=False)

    assert [c.id for c in bare] == [c.id for c in full]
    for with_all, chunk in zip(full, bare, strict=True):
        assert chunk.model_dump(exclude={"embedding", "extraction"}) == with_all.model_dump(
            exclude={"embedding", "extraction"}
        )
        assert (chunk.embedding, chunk.extraction) == (None, None)
    assert full[1].embedding is not None
    assert await filled.get_chunks([], extraction=False) == []


async def test_get_entities_with_provenance(filled: Any, hash_embedder: Any) -> None:
    entities = await filled.get_entities([eid("Marie Curie"), "e_unknown", eid("Ulm")])

    assert [e.id for e in entities] == [eid("Marie Curie"), eid("Ulm")]
    marie, ulm = entities
    assert marie.name == "Marie Curie"
    assert marie.type == "PERSON"
    assert set(marie.aliases) == {"Madame Curie", "Maria Sklodowska"}
    assert set(marie.source_chunk_ids) == {
        cid(CURIE.source, 0), cid(CURIE.source, 1), cid(EINSTEIN.source, 1), cid(PIERRE.source, 0),
    }  # fmt: skip
    assert marie.mention_count == 4
    [expected] = await hash_embedder.embed(["Marie Curie"])
    assert marie.embedding is not None
    np.testing.assert_allclose(np.asarray(marie.embedding).reshape(-1), expected, atol=1e-6)
    assert ulm.source_chunk_ids == [cid(EINSTEIN.source, 0)]


async def test_find_entities_by_name_and_alias(filled: Any) -> None:
    names = [normalize_name(n) for n in ["Marie Curie", "Madame Curie", "the Paris", "Nobody"]]

    found = await filled.find_entities(names)

    assert found[normalize_name("Marie Curie")] == [eid("Marie Curie")]
    assert found[normalize_name("Madame Curie")] == [eid("Marie Curie")]
    assert found["paris"] == [eid("Paris")]
    assert found.get("nobody", []) == []


async def test_existing_entity_gains_aliases_but_keeps_its_name(
    filled: Any, hash_embedder: Any
) -> None:
    graph = await build(hash_embedder, PIERRE)
    for entity in graph.entities:
        if entity.id == eid("Marie Curie"):
            entity.name = "marie curie"
            entity.aliases = ["Marya Curie"]
            entity.embedding = np.roll(np.asarray(entity.embedding), 1)

    await filled.upsert_documents([graph])

    [marie] = await filled.get_entities([eid("Marie Curie")])
    assert marie.name == "Marie Curie"
    assert "Marya Curie" in marie.aliases
    assert (await filled.find_entities(["marya curie"]))["marya curie"] == [eid("Marie Curie")]
    [expected] = await hash_embedder.embed(["Marie Curie"])
    np.testing.assert_allclose(np.asarray(marie.embedding).reshape(-1), expected, atol=1e-6)


async def test_vector_search_many_matches_single_searches(filled: Any, hash_embedder: Any) -> None:
    texts = ["physics in Paris", "Radium Institute", "Warsaw"]
    queries = await hash_embedder.embed(texts, kind="query")

    batched = await filled.vector_search_many("entities", queries, 3)

    assert len(batched) == len(texts)
    for query, hits in zip(queries, batched, strict=True):
        single = await filled.vector_search("entities", query, 3)
        assert [h.id for h in hits] == [h.id for h in single]
        assert [h.score for h in hits] == pytest.approx([h.score for h in single], abs=1e-5)


async def test_vector_search_many_on_empty_store(store: Any, hash_embedder: Any) -> None:
    queries = await hash_embedder.embed(["anything", "else"], kind="query")
    assert await store.vector_search_many("chunks", queries, 5) == [[], []]


async def test_vector_search_many_edge_cases(filled: Any, hash_embedder: Any) -> None:
    empty = np.zeros((0, hash_embedder.dim), dtype=np.float32)
    assert await filled.vector_search_many("chunks", empty, 5) == []
    with pytest.raises(StoreQueryError, match=r"dim|shape"):
        await filled.vector_search_many("chunks", np.ones((2, hash_embedder.dim + 1)), 3)
