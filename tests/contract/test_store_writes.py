"""Contract: document writes, replacement, exact retraction, atomicity, status tracking."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from graphrag.errors import NotFoundError, StoreQueryError
from graphrag.models import DocumentStatus, Mention
from tests.contract.builder import (
    CORPUS,
    CORPUS_COUNTS,
    CURIE,
    CURIE_V2,
    EINSTEIN,
    PIERRE,
    build,
    build_all,
    cid,
    counts,
    did,
    document,
    eid,
    rid,
)

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_write_reports_and_counts(store: Any, hash_embedder: Any) -> None:
    report = await store.upsert_documents(await build_all(hash_embedder, CORPUS))

    assert report.documents == 3
    assert report.chunks == 5
    assert report.entities_new == 9
    assert report.relations_new == 7
    assert report.mentions == 16
    assert report.merges == 1
    assert report.replaced_documents == 0
    assert counts(await store.stats()) == CORPUS_COUNTS
    doc = await store.get_document(did(CURIE.source))
    assert doc is not None
    assert doc.status is DocumentStatus.DONE
    assert doc.chunk_count == 2
    assert doc.content_hash == document(CURIE).content_hash
    assert doc.metadata == {"origin": "contract-test"}


async def test_same_graphs_twice_is_idempotent(filled: Any, hash_embedder: Any) -> None:
    report = await filled.upsert_documents(await build_all(hash_embedder, CORPUS))

    assert counts(await filled.stats()) == CORPUS_COUNTS
    assert report.replaced_documents == 3
    assert report.entities_new == 0
    assert report.relations_new == 0
    assert report.merges == 0
    [curie] = await filled.get_entities([eid("Marie Curie")])
    assert sorted(curie.aliases) == ["Madame Curie", "Maria Sklodowska"]
    assert curie.mention_count == 4


async def test_changed_document_replaces_its_old_version(store: Any, hash_embedder: Any) -> None:
    await store.upsert_documents(await build_all(hash_embedder, [CURIE, EINSTEIN]))

    report = await store.upsert_documents([await build(hash_embedder, CURIE_V2)])

    assert report.replaced_documents == 1
    assert report.entities_new == 0
    stats = await store.stats()
    assert (stats.documents, stats.chunks, stats.entities, stats.relations, stats.mentions) == (
        2, 3, 6, 4, 8,
    )  # fmt: skip
    assert await store.get_chunks([cid(CURIE.source, 1)]) == []
    # only the old version mentioned the Radium Institute: gone with its relation
    assert await store.get_entities([eid("Radium Institute")]) == []
    relation_ids = {r.id for r in await store.all_relations()}
    assert rid("Marie Curie", "found", "Radium Institute") not in relation_ids
    assert rid("Marie Curie", "study in", "Paris") not in relation_ids
    # Paris is still mentioned by Einstein's document: kept, with provenance updated
    [paris] = await store.get_entities([eid("Paris")])
    assert paris.source_chunk_ids == [cid(EINSTEIN.source, 1)]
    doc = await store.get_document(did(CURIE.source))
    assert doc is not None
    assert doc.chunk_count == 1
    assert doc.content_hash == document(CURIE_V2).content_hash


async def test_delete_retracts_exactly_what_only_it_supported(filled: Any) -> None:
    report = await filled.delete_document(did(CURIE.source))

    assert report.document_id == did(CURIE.source)
    assert (report.chunks, report.mentions) == (2, 6)
    assert (report.entities_removed, report.entities_updated) == (2, 2)
    assert (report.relations_removed, report.relations_updated) == (2, 1)
    stats = await filled.stats()
    assert (stats.documents, stats.chunks, stats.entities, stats.relations, stats.mentions) == (
        2, 3, 7, 5, 10,
    )  # fmt: skip
    assert await filled.get_document(did(CURIE.source)) is None
    assert await filled.get_entities([eid("Warsaw"), eid("Radium Institute")]) == []
    [marie] = await filled.get_entities([eid("Marie Curie")])
    assert set(marie.source_chunk_ids) == {cid(EINSTEIN.source, 1), cid(PIERRE.source, 0)}
    assert marie.mention_count == 2
    relations = {r.id: r for r in await filled.all_relations()}
    studied = relations[rid("Marie Curie", "study in", "Paris")]
    assert studied.weight == pytest.approx(1.0)
    assert studied.source_chunk_ids == [cid(PIERRE.source, 0)]
    entity_ids = {e.id for e in await filled.get_entities([eid(n) for n in _all_names()])}
    for relation in relations.values():  # no dangling relation
        assert {relation.source_id, relation.target_id} <= entity_ids
    assert await filled.keyword_search("Radium", 5) == []


async def test_delete_everything_leaves_an_empty_store(filled: Any) -> None:
    for doc in CORPUS:
        await filled.delete_document(did(doc.source))

    stats = counts(await filled.stats())
    assert stats == {**dict.fromkeys(CORPUS_COUNTS, 0), "merges": 1}
    assert await filled.all_relations() == []


async def test_delete_unknown_document_raises_not_found(store: Any) -> None:
    with pytest.raises(NotFoundError, match="d_missing"):
        await store.delete_document("d_missing")


async def test_invalid_graph_leaves_the_store_unchanged(filled: Any, hash_embedder: Any) -> None:
    before = counts(await filled.stats())
    graph = await build(hash_embedder, CURIE_V2)
    graph.mentions.append(
        Mention(chunk_id=graph.chunks[0].id, entity_id="e_unknown", surface_forms=["x"])
    )

    with pytest.raises(StoreQueryError, match="curie"):
        await filled.upsert_documents([graph])

    assert counts(await filled.stats()) == before
    old = await filled.get_chunks([cid(CURIE.source, 0), cid(CURIE.source, 1)])
    assert [c.text for c in old] == CURIE.chunks
    assert await filled.get_entities([eid("Radium Institute")]) != []


async def test_wrong_embedding_dimension_is_refused(store: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, EINSTEIN)
    graph.chunks[1].embedding = np.ones(hash_embedder.dim + 1, dtype=np.float32)

    with pytest.raises(StoreQueryError, match="einstein"):
        await store.upsert_documents([graph])

    assert (await store.stats()).documents == 0
    assert await store.get_document(did(EINSTEIN.source)) is None


async def test_chunk_of_another_document_is_refused(store: Any, hash_embedder: Any) -> None:
    graph = await build(hash_embedder, EINSTEIN)
    graph.chunks.append((await build(hash_embedder, PIERRE)).chunks[0])

    with pytest.raises(StoreQueryError, match="einstein"):
        await store.upsert_documents([graph])

    assert counts(await store.stats())["chunks"] == 0


async def test_batch_keeps_valid_documents_before_an_invalid_one(
    store: Any, hash_embedder: Any
) -> None:
    good, bad = await build_all(hash_embedder, [EINSTEIN, PIERRE])
    bad.mentions[0] = bad.mentions[0].model_copy(update={"entity_id": "e_nowhere"})

    with pytest.raises(StoreQueryError, match="pierre"):
        await store.upsert_documents([good, bad])

    assert await store.get_document(did(EINSTEIN.source)) is not None
    assert await store.get_document(did(PIERRE.source)) is None
    stats = await store.stats()
    assert (stats.documents, stats.chunks, stats.mentions) == (1, 2, 6)
    assert await store.get_entities([eid("Pierre Curie"), eid("Sceaux")]) == []


async def test_status_tracking(store: Any, hash_embedder: Any) -> None:
    doc = document(EINSTEIN)
    await store.set_document_status(doc, DocumentStatus.PROCESSING)

    stored = await store.get_document(doc.id)
    assert stored is not None
    assert stored.status is DocumentStatus.PROCESSING
    assert stored.content_hash == doc.content_hash
    assert [d.id for d in await store.list_documents(status=DocumentStatus.PROCESSING)] == [doc.id]

    await store.set_document_status(doc, DocumentStatus.FAILED, error="spaCy crashed")
    failed = await store.get_document(doc.id)
    assert failed is not None
    assert (failed.status, failed.error) == (DocumentStatus.FAILED, "spaCy crashed")
    assert (await store.stats()).failed_documents == 1

    await store.upsert_documents([await build(hash_embedder, EINSTEIN)])
    done = await store.get_document(doc.id)
    assert done is not None
    assert (done.status, done.error, done.chunk_count) == (DocumentStatus.DONE, None, 2)
    assert (await store.stats()).failed_documents == 0


async def test_status_change_keeps_written_chunks(filled: Any) -> None:
    doc = document(PIERRE)
    await filled.set_document_status(doc, DocumentStatus.FAILED, error="re-run failed")

    stored = await filled.get_document(doc.id)
    assert stored is not None
    assert stored.status is DocumentStatus.FAILED
    assert stored.chunk_count == 1
    assert len(await filled.get_chunks([cid(PIERRE.source, 0)])) == 1


async def test_list_documents_newest_first_with_limit(store: Any, hash_embedder: Any) -> None:
    for doc in CORPUS:
        await store.upsert_documents([await build(hash_embedder, doc)])

    listed = await store.list_documents()
    assert [d.source for d in listed] == [d.source for d in reversed(CORPUS)]
    assert [d.source for d in await store.list_documents(limit=1)] == [PIERRE.source]
    assert await store.list_documents(status=DocumentStatus.FAILED) == []


async def test_get_documents_in_order_skipping_unknown(filled: Any) -> None:
    wanted = [did(PIERRE.source), "d_unknown", did(CURIE.source)]

    found = await filled.get_documents(wanted)

    assert [d.id for d in found] == [did(PIERRE.source), did(CURIE.source)]
    assert await filled.get_document("d_unknown") is None


def _all_names() -> list[str]:
    return list(dict.fromkeys(n for doc in CORPUS for names in doc.mentions for n in names))
