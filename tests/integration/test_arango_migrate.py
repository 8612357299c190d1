"""Migration between stores: embedded -> embedded here, through ArangoDB when a server is set.

``sample_graphs`` (three documents sharing entities, with relations and a merge) is also used
by the other ArangoDB tests.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from graphrag.errors import ConfigError
from graphrag.ids import (
    chunk_id,
    content_hash,
    document_id,
    entity_id,
    merge_id,
    normalize_name,
    relation_id,
)
from graphrag.models import (
    Chunk,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Evidence,
    Mention,
    MergeRecord,
    Relation,
    RelationKind,
)
from graphrag.ports import GraphStore
from graphrag.stores.embedded import EmbeddedGraphStore
from pipelines.migrate import migrate

DIM = 8
MODEL = "hash-test"
URL = os.environ.get("GRAPHRAG_ARANGO__URL")
ROOT_PASSWORD = os.environ.get("GRAPHRAG_ARANGO__PASSWORD", "")

TEXTS = {
    "curie.txt": [
        "Marie Curie founded the Radium Institute in Paris.",
        "The Radium Institute trained many physicists.",
    ],
    "pierre.txt": [
        "Pierre Curie worked with Marie Curie in Paris.",
        "Pierre Curie studied crystals.",
    ],
    "paris.txt": ["Paris hosts the Radium Institute.", "Paris is the capital of France."],
}


def _vec(text: str) -> np.ndarray:
    seed = int(content_hash(text)[:8], 16)
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


def _entity(name: str, etype: str, aliases: list[str] | None = None) -> Entity:
    return Entity(
        id=entity_id(normalize_name(name), etype),
        name=name,
        type=etype,
        aliases=aliases or [],
        embedding=_vec(name),
    )


ENTITIES = {
    "Marie Curie": _entity("Marie Curie", "PERSON", ["Madame Curie"]),
    "Pierre Curie": _entity("Pierre Curie", "PERSON"),
    "Radium Institute": _entity("Radium Institute", "ORG"),
    "Paris": _entity("Paris", "GPE"),
    "France": _entity("France", "GPE"),
}


def _relation(src: str, predicate: str, dst: str, chunk: Chunk, sentence: str) -> Relation:
    a, b = ENTITIES[src].id, ENTITIES[dst].id
    return Relation(
        id=relation_id(a, predicate, b),
        source_id=a,
        target_id=b,
        predicate=predicate,
        kind=RelationKind.SVO,
        weight=1.0,
        evidence=[Evidence(chunk_id=chunk.id, sentence=sentence, weight=1.0)],
    )


def _graph(source: str) -> DocumentGraph:
    doc_id = document_id(source)
    chunks, mentions, relations, used = [], [], [], {}
    offset = 0
    for ordinal, text in enumerate(TEXTS[source]):
        chunk = Chunk(
            id=chunk_id(doc_id, ordinal),
            document_id=doc_id,
            ordinal=ordinal,
            text=text,
            start=offset,
            end=offset + len(text),
            token_count=len(text.split()),
            embedding=_vec(text),
        )
        offset += len(text) + 1
        chunks.append(chunk)
        found = [n for n in ENTITIES if n in text]
        for name in found:
            used[name] = ENTITIES[name]
            at = text.index(name)
            mentions.append(
                Mention(
                    chunk_id=chunk.id,
                    entity_id=ENTITIES[name].id,
                    surface_forms=[name],
                    spans=[(at, at + len(name))],
                )
            )
        for a, b in itertools.pairwise(found):
            relations.append(_relation(a, "relate to", b, chunk, text))
    text = " ".join(TEXTS[source])
    document = Document(
        id=doc_id,
        source=source,
        title=source.removesuffix(".txt"),
        mime="text/plain",
        content_hash=content_hash(text),
        status=DocumentStatus.DONE,
    )
    return DocumentGraph(
        document=document,
        chunks=chunks,
        entities=list(used.values()),
        mentions=mentions,
        relations=relations,
    )


def sample_graphs() -> list[DocumentGraph]:
    """Three document graphs sharing entities; the first carries a merge record."""
    graphs = [_graph(source) for source in TEXTS]
    marie = ENTITIES["Marie Curie"]
    graphs[0].merges = [
        MergeRecord(
            id=merge_id(entity_id("madame curie", "PERSON"), marie.id),
            alias_id=entity_id("madame curie", "PERSON"),
            alias_name="Madame Curie",
            alias_type="PERSON",
            canonical_id=marie.id,
            score=0.96,
            method="embedding",
        )
    ]
    return graphs


async def _open(path: Path) -> EmbeddedGraphStore:
    store = EmbeddedGraphStore(path)
    await store.ensure_schema(embedding_model=MODEL, dim=DIM)
    return store


class FinalizingStore(EmbeddedGraphStore):
    """An embedded store that also has the optional ``finalize_load`` hook."""

    finalized = 0

    async def finalize_load(self) -> None:
        self.finalized += 1


async def snapshot(store: GraphStore, *, bm25: bool = True) -> dict[str, object]:
    """What a user can observe of a store's graph (BM25 order differs between backends)."""
    graphs = [g async for g in store.iter_document_graphs()]
    entity_ids = sorted({e.id for g in graphs for e in g.entities})
    entities = await store.get_entities(entity_ids)
    chunk_ids = sorted(c.id for g in graphs for c in g.chunks)
    chunks = await store.get_chunks(chunk_ids)
    relations = sorted(await store.all_relations(), key=lambda r: r.id)
    stats = await store.stats()
    return {
        "documents": sorted(g.document.id for g in graphs),
        "entities": [
            (e.id, e.name, sorted(e.aliases), sorted(e.source_chunk_ids), e.mention_count)
            for e in entities
        ],
        "embeddings": [
            np.round(c.embedding, 5).tolist() for c in chunks if c.embedding is not None
        ],
        "texts": [c.text for c in chunks],
        "relations": [(r.id, r.weight, sorted(r.source_chunk_ids)) for r in relations],
        "merges": [mr.model_dump() for mr in await store.merges()],
        "counts": (stats.entities, stats.relations, stats.mentions, stats.merges),
        "bm25": [h.id for h in await store.keyword_search("radium institute", 3)] if bm25 else [],
    }


async def test_migrate_copies_every_written_document_between_embedded_stores(
    tmp_path: Path,
) -> None:
    source = await _open(tmp_path / "source.db")
    await source.upsert_documents(sample_graphs())
    stub = Document(
        id="d_failed", source="bad.pdf", title="bad", mime="application/pdf", content_hash="x"
    )
    await source.set_document_status(stub, DocumentStatus.FAILED, error="unreadable")
    target = FinalizingStore(tmp_path / "target.db")
    await target.ensure_schema(embedding_model=MODEL, dim=DIM)
    seen: list[int] = []

    report = await migrate(source, target, batch_size=2, progress=seen.append)

    assert (report.documents, report.chunks, report.batches, report.merges) == (3, 6, 2, 1)
    assert seen == [2, 3]
    assert report.finalized
    assert target.finalized == 1
    assert report.source == source.location
    assert report.target == target.location
    assert await snapshot(target) == await snapshot(source)
    assert await target.get_document("d_failed") is None  # only written documents move
    await source.close()
    await target.close()


async def test_migrate_twice_replaces_instead_of_duplicating(tmp_path: Path) -> None:
    source = await _open(tmp_path / "source.db")
    await source.upsert_documents(sample_graphs())
    target = await _open(tmp_path / "target.db")
    first = await migrate(source, target)
    again = await migrate(source, target)
    assert not first.finalized  # the embedded store has no finalize_load
    assert (again.documents, again.entities_new, again.merges) == (3, 0, 0)
    assert first.entities_new == len(ENTITIES)
    assert await snapshot(target) == await snapshot(source)
    await source.close()
    await target.close()


async def test_migrate_rejects_bad_arguments(tmp_path: Path) -> None:
    store = await _open(tmp_path / "one.db")
    other = await _open(tmp_path / "two.db")
    with pytest.raises(ConfigError, match="same store"):
        await migrate(store, store)
    with pytest.raises(ConfigError, match="batch_size must be at least 1"):
        await migrate(store, other, batch_size=0)
    await store.close()
    await other.close()


@pytest.mark.skipif(
    not URL,
    reason="needs ArangoDB 3.12: set GRAPHRAG_ARANGO__URL and GRAPHRAG_ARANGO__PASSWORD (root)",
)
async def test_migrate_round_trip_through_arango_keeps_the_graph(tmp_path: Path) -> None:
    from graphrag.stores.arango.testing import arango_test_store

    assert URL is not None
    source = await _open(tmp_path / "source.db")
    await source.upsert_documents(sample_graphs())
    back = await _open(tmp_path / "back.db")
    async with arango_test_store(URL, ROOT_PASSWORD, MODEL, DIM) as arango:
        there = await migrate(source, arango, batch_size=2)
        assert there.finalized  # the vector indexes were (re)built
        assert (await arango.stats()).documents == 3
        home = await migrate(arango, back)
        assert home.documents == 3
    assert await snapshot(back) == await snapshot(source)
    await source.close()
    await back.close()
