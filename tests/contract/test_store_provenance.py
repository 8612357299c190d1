"""Contract: provenance stays exact for hubs with more support than the stored sample.

A hub entity (``Acme``) and a hub relation (``Acme work with Zenith``) are supported by more
chunks than :data:`PROVENANCE_SAMPLE` (what an ArangoDB vertex/edge keeps inline, see
docs/design/provenance.md). Whatever a store keeps on the vertex or edge, the port must return
exact provenance (every chunk, every evidence sentence, the exact weight) and retraction must
stay exact: an entity or relation disappears exactly when its last supporting chunk goes.
"""

from __future__ import annotations

from typing import Any

import pytest

from graphrag.models import Hit
from graphrag.stores.arango.names import PROVENANCE_SAMPLE
from tests.contract.builder import Doc, build, cid, did, eid, rid

pytestmark = pytest.mark.asyncio(loop_scope="session")

HUB, PEER, SOLO = "Acme", "Zenith", "Orbit"
DOCS_N, CHUNKS_N = 6, 4
WORK = rid(HUB, "work with", PEER)


def _doc(d: int, chunks: int = CHUNKS_N) -> Doc:
    texts = [f"Acme works with Zenith on plan {d}-{i}. Acme again." for i in range(chunks)]
    return Doc(
        source=f"corpus/hub{d}.txt",
        chunks=texts,
        mentions=[[HUB, PEER] for _ in texts],
        relations=[(HUB, "work with", PEER, i, 0.5) for i in range(chunks)],
    )


DOCS = [_doc(d) for d in range(DOCS_N)]
ALL_CHUNKS = {cid(doc.source, i) for doc in DOCS for i in range(CHUNKS_N)}


@pytest.fixture
async def hubs(store: Any, hash_embedder: Any) -> Any:
    for doc in DOCS:  # one batch per document: the hub grows batch after batch
        await store.upsert_documents([await build(hash_embedder, doc)])
    return store


async def _relation(store: Any) -> Any:
    expansion = await store.expand([Hit(id=eid(HUB), score=1.0)], hops=1, degree_cap=10,
                                   max_entities=10)  # fmt: skip
    found = [r for r in expansion.relations if r.id == WORK]
    return found[0] if found else None


async def test_the_fixture_exceeds_the_sample() -> None:
    assert len(ALL_CHUNKS) > PROVENANCE_SAMPLE


async def test_hub_entity_provenance_is_exact(hubs: Any) -> None:
    [hub] = await hubs.get_entities([eid(HUB)])

    assert set(hub.source_chunk_ids) == ALL_CHUNKS
    assert len(hub.source_chunk_ids) == len(ALL_CHUNKS)
    assert hub.mention_count == len(ALL_CHUNKS)


async def test_entities_without_provenance_are_the_same_rows_without_chunks(hubs: Any) -> None:
    """``provenance=False`` (retrieval contexts): names and types only, hub or not, in order."""
    ids = [eid(PEER), "e_unknown", eid(HUB)]
    full = await hubs.get_entities(ids)
    bare = await hubs.get_entities(ids, provenance=False)

    assert [e.id for e in bare] == [e.id for e in full] == [eid(PEER), eid(HUB)]
    for with_chunks, without in zip(full, bare, strict=True):
        assert (without.name, without.type, without.aliases, without.rank) == (
            with_chunks.name,
            with_chunks.type,
            with_chunks.aliases,
            with_chunks.rank,
        )
        assert without.source_chunk_ids == []
        assert without.mention_count == 0
        assert without.embedding is None
    assert full[1].mention_count == len(ALL_CHUNKS)
    assert await hubs.get_entities([], provenance=False) == []


async def test_hub_relation_evidence_is_exact(hubs: Any) -> None:
    relation = await _relation(hubs)

    assert relation is not None
    assert len(relation.evidence) == len(ALL_CHUNKS)
    assert {e.chunk_id for e in relation.evidence} == ALL_CHUNKS
    assert set(relation.source_chunk_ids) == ALL_CHUNKS
    assert relation.weight == pytest.approx(0.5 * len(ALL_CHUNKS))
    [listed] = [r for r in await hubs.all_relations() if r.id == WORK]
    assert set(listed.source_chunk_ids) == ALL_CHUNKS
    assert listed.weight == pytest.approx(0.5 * len(ALL_CHUNKS))


async def test_retraction_is_exact_down_to_the_last_chunk(hubs: Any) -> None:
    remaining = set(ALL_CHUNKS)
    for doc in DOCS[:-1]:
        report = await hubs.delete_document(did(doc.source))
        remaining -= {cid(doc.source, i) for i in range(CHUNKS_N)}

        assert (report.entities_removed, report.relations_removed) == (0, 0)
        [hub] = await hubs.get_entities([eid(HUB)])
        assert set(hub.source_chunk_ids) == remaining
        assert hub.mention_count == len(remaining)
        relation = await _relation(hubs)
        assert {e.chunk_id for e in relation.evidence} == remaining
        assert relation.weight == pytest.approx(0.5 * len(remaining))

    report = await hubs.delete_document(did(DOCS[-1].source))

    assert (report.entities_removed, report.relations_removed) == (2, 1)
    assert await hubs.get_entities([eid(HUB), eid(PEER)]) == []
    assert await hubs.all_relations() == []


async def test_reingest_drops_exactly_the_replaced_support(hubs: Any, hash_embedder: Any) -> None:
    changed = Doc(  # the last document again: one chunk left, the relation only there
        source=DOCS[-1].source,
        chunks=["Acme works with Zenith and Orbit, changed."],
        mentions=[[HUB, PEER, SOLO]],
        relations=[(HUB, "work with", PEER, 0, 2.0)],
    )
    await hubs.upsert_documents([await build(hash_embedder, changed)])

    kept = ALL_CHUNKS - {cid(DOCS[-1].source, i) for i in range(CHUNKS_N)}
    new = cid(changed.source, 0)
    [hub, solo] = await hubs.get_entities([eid(HUB), eid(SOLO)])
    assert set(hub.source_chunk_ids) == kept | {new}
    assert hub.mention_count == len(kept) + 1
    assert solo.source_chunk_ids == [new]
    relation = await _relation(hubs)
    assert {e.chunk_id for e in relation.evidence} == kept | {new}
    assert relation.weight == pytest.approx(0.5 * len(kept) + 2.0)

    for doc in DOCS[:-1]:
        await hubs.delete_document(did(doc.source))
    [hub] = await hubs.get_entities([eid(HUB)])
    assert hub.source_chunk_ids == [new]
    relation = await _relation(hubs)
    assert [e.chunk_id for e in relation.evidence] == [new]
    assert relation.weight == pytest.approx(2.0)


async def test_document_graphs_carry_only_their_own_provenance(hubs: Any) -> None:
    graphs = {g.document.source: g async for g in hubs.iter_document_graphs()}

    assert set(graphs) == {doc.source for doc in DOCS}
    for doc in DOCS:
        graph = graphs[doc.source]
        own = {cid(doc.source, i) for i in range(CHUNKS_N)}
        [relation] = graph.relations
        assert {e.chunk_id for e in relation.evidence} == own
        assert relation.weight == pytest.approx(0.5 * CHUNKS_N)
        assert {m.chunk_id for m in graph.mentions} == own
