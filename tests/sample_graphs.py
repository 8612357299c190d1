"""A small known graph for the store and migration tests (no model needed).

``sample_graphs`` gives three documents sharing entities, with relations and a merge record;
``snapshot`` is what a user can observe of a store. Used by tests/unit/pipelines/test_migrate.py
and by the ArangoDB tests of tests/integration/.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np

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

DIM = 8
MODEL = "hash-test"

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


def document_graph(source: str) -> DocumentGraph:
    """The graph of one of the ``TEXTS`` (chunks, mentions, co-occurrence relations)."""
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
    graphs = [document_graph(source) for source in TEXTS]
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


async def open_embedded(path: Path) -> EmbeddedGraphStore:
    """An embedded store at ``path`` with the schema of the sample graphs."""
    store = EmbeddedGraphStore(path)
    await store.ensure_schema(embedding_model=MODEL, dim=DIM)
    return store


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
