"""The ArangoDB store behaves like the embedded store (needs a real ArangoDB 3.12).

Runs when ``GRAPHRAG_ARANGO__URL`` is set (``GRAPHRAG_ARANGO__PASSWORD``: the root password),
e.g. after ``docker compose up -d arangodb``; each test gets its own throw-away database.
The same graphs go into both stores and every read is compared.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from graphrag.errors import NotFoundError, SchemaError
from graphrag.models import CandidateRequest, Document, DocumentStatus, Hit
from graphrag.stores.arango import ArangoGraphStore
from graphrag.stores.arango.testing import SKIP_REASON
from graphrag.stores.embedded import EmbeddedGraphStore
from tests.sample_graphs import (
    DIM,
    ENTITIES,
    MODEL,
    TEXTS,
    document_graph,
    sample_graphs,
    snapshot,
)

URL = os.environ.get("GRAPHRAG_ARANGO__URL")
ROOT_PASSWORD = os.environ.get("GRAPHRAG_ARANGO__PASSWORD", "")
pytestmark = [
    pytest.mark.arango,
    pytest.mark.skipif(
        not URL,
        reason=SKIP_REASON,
    ),
]


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[tuple[ArangoGraphStore, EmbeddedGraphStore]]:
    from graphrag.stores.arango.testing import arango_test_store

    assert URL is not None
    embedded = EmbeddedGraphStore(tmp_path / "graph.db")
    await embedded.ensure_schema(embedding_model=MODEL, dim=DIM)
    async with arango_test_store(URL, ROOT_PASSWORD, MODEL, DIM) as arango:
        for store in (arango, embedded):
            await store.upsert_documents(sample_graphs())
        yield arango, embedded
    await embedded.close()


async def _eventually_bm25(store: ArangoGraphStore, text: str, k: int) -> list[Hit]:
    """ArangoSearch views are eventually consistent: wait up to ~10 s for a commit."""
    for _ in range(40):
        found = await store.keyword_search(text, k)
        if found:
            return found
        await asyncio.sleep(0.25)
    return []


async def test_written_graph_reads_back_like_the_embedded_store(
    stores: tuple[ArangoGraphStore, EmbeddedGraphStore],
) -> None:
    arango, embedded = stores
    assert await snapshot(arango, bm25=False) == await snapshot(embedded, bm25=False)
    stats = await arango.stats()
    assert (stats.backend, stats.documents, stats.chunks) == ("arango", 3, 6)
    assert stats.location == arango.location
    names = ["marie curie", "madame curie", "nobody"]
    assert await arango.find_entities(names) == await embedded.find_entities(names)


async def test_search_and_retrieval_match_the_embedded_store(
    stores: tuple[ArangoGraphStore, EmbeddedGraphStore],
) -> None:
    arango, embedded = stores
    probe = sample_graphs()[1].chunks[0].embedding
    assert probe is not None
    for target in ("chunks", "entities"):
        ours = await arango.vector_search(target, probe, 3)  # type: ignore[arg-type]
        theirs = await embedded.vector_search(target, probe, 3)  # type: ignore[arg-type]
        assert [h.id for h in ours] == [h.id for h in theirs]
        assert [h.score for h in ours] == pytest.approx([h.score for h in theirs], abs=1e-5)
    bm25 = await _eventually_bm25(arango, "radium institute", 10)
    expected = await embedded.keyword_search("radium institute", 10)
    assert {h.id for h in bm25} == {h.id for h in expected}
    seed = [Hit(id=ENTITIES["Marie Curie"].id, score=1.0)]
    ours_x = await arango.expand(seed, hops=2, degree_cap=5, max_entities=10)
    theirs_x = await embedded.expand(seed, hops=2, degree_cap=5, max_entities=10)
    # Equal scores are ordered by id here, by insertion order in the embedded store.
    assert sorted((h.id, round(h.score, 6)) for h in ours_x.entities) == sorted(
        (h.id, round(h.score, 6)) for h in theirs_x.entities
    )
    assert [h.score for h in ours_x.entities] == sorted(
        (h.score for h in ours_x.entities), reverse=True
    )
    assert sorted(r.id for r in ours_x.relations) == sorted(r.id for r in theirs_x.relations)
    # Paths may take another parent when two are equally short; their ends and lengths agree.
    assert sorted((p[0], p[-1], len(p)) for p in ours_x.paths) == sorted(
        (p[0], p[-1], len(p)) for p in theirs_x.paths
    )


async def test_candidates_and_subgraph_match_the_embedded_store(
    stores: tuple[ArangoGraphStore, EmbeddedGraphStore],
) -> None:
    arango, embedded = stores
    probe = sample_graphs()[0].chunks[0].embedding
    request = CandidateRequest(
        query_vector=probe,
        query_text="Who founded the Radium Institute?",
        seed_entity_ids=[ENTITIES["Paris"].id, "e_unknown"],
        k_chunks=10,  # more than the 6 chunks: no cut between equal graph scores
        k_entities=2,
        use_bm25=False,
    )
    ours, theirs = await arango.candidates(request), await embedded.candidates(request)
    assert [h.id for h in ours.vector_chunks] == [h.id for h in theirs.vector_chunks]
    assert [h.id for h in ours.entity_seeds] == [h.id for h in theirs.entity_seeds]
    assert {h.id for h in ours.expansion.entities} == {h.id for h in theirs.expansion.entities}
    assert sorted((h.id, round(h.score, 6)) for h in ours.graph_chunks) == sorted(
        (h.id, round(h.score, 6)) for h in theirs.graph_chunks
    )
    assert {k: sorted(v) for k, v in ours.chunk_entities.items()} == {
        k: sorted(v) for k, v in theirs.chunk_entities.items()
    }
    assert ours.bm25_chunks == []
    chunk_ids = [h.id for h in theirs.vector_chunks]
    entity_ids = [ENTITIES["Marie Curie"].id]
    # degree_cap above every entity's chunk count: ties between equally long mentions are
    # broken differently (chunk id here, insertion order in the embedded store).
    sub_a = await arango.subgraph(chunk_ids[:2], entity_ids, degree_cap=10)
    sub_e = await embedded.subgraph(chunk_ids[:2], entity_ids, degree_cap=10)
    assert sorted(sub_a.chunk_entity) == sorted(sub_e.chunk_entity)
    assert sorted(sub_a.entity_entity) == sorted(sub_e.entity_entity)
    assert sub_a.entity_chunk_counts == sub_e.entity_chunk_counts


async def test_replace_and_delete_retract_exactly_like_the_embedded_store(
    stores: tuple[ArangoGraphStore, EmbeddedGraphStore],
) -> None:
    arango, embedded = stores
    TEXTS["curie.txt"].append("Marie Curie lived in France.")
    try:
        changed = document_graph("curie.txt")
    finally:
        TEXTS["curie.txt"].pop()
    reports = [await s.upsert_documents([changed]) for s in (arango, embedded)]
    assert reports[0] == reports[1]
    assert reports[0].replaced_documents == 1
    assert await snapshot(arango, bm25=False) == await snapshot(embedded, bm25=False)
    victim = sample_graphs()[1].document.id
    deleted = [await s.delete_document(victim) for s in (arango, embedded)]
    assert deleted[0] == deleted[1]
    assert deleted[0].chunks == 2
    assert await snapshot(arango, bm25=False) == await snapshot(embedded, bm25=False)
    with pytest.raises(NotFoundError, match=victim):
        await arango.delete_document(victim)
    assert await arango.get_document(victim) is None


async def test_status_stubs_and_merges_behave_like_the_embedded_store(
    stores: tuple[ArangoGraphStore, EmbeddedGraphStore],
) -> None:
    arango, embedded = stores
    stub = Document(
        id="d_stub", source="bad.pdf", title="bad", mime="application/pdf", content_hash="h"
    )
    for store in (arango, embedded):
        await store.set_document_status(stub, DocumentStatus.FAILED, error="unreadable")
    failed = await arango.list_documents(status=DocumentStatus.FAILED)
    assert [(d.id, d.error) for d in failed] == [("d_stub", "unreadable")]
    assert (await arango.stats()).failed_documents == 1
    (merge,) = await arango.merges()
    undone = await arango.mark_merge_undone(merge.id)
    again = await arango.mark_merge_undone(merge.id)
    assert undone.undone_at is not None
    assert again.undone_at == undone.undone_at
    assert await arango.merges(alias_ids=[merge.alias_id]) == [undone]
    with pytest.raises(NotFoundError):
        await arango.mark_merge_undone("x_missing")


async def test_schema_is_idempotent_and_rejects_another_model(
    stores: tuple[ArangoGraphStore, EmbeddedGraphStore],
) -> None:
    arango, _ = stores
    await arango.ensure_schema(embedding_model=MODEL, dim=DIM)
    assert (await arango.stats()).documents == 3
    with pytest.raises(SchemaError, match="was built with embedding model"):
        await arango.ensure_schema(embedding_model="other-model", dim=DIM + 1)
