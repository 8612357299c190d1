from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from graphrag.config import ResolutionSettings
from graphrag.errors import NotFoundError
from graphrag.ids import (
    chunk_id,
    content_hash,
    document_id,
    entity_id,
    merge_id,
    normalize_name,
)
from graphrag.models import (
    Chunk,
    Document,
    DocumentGraph,
    Entity,
    Hit,
    Mention,
    MergeRecord,
    RawMention,
    StoreStats,
)
from graphrag.resolve import (
    Candidate,
    EntityResolver,
    Resolution,
    build_candidates,
    initials,
    undo_merge,
)
from graphrag.testing import HashEmbedder

EMBEDDER = HashEmbedder(dim=256)


def key(name: str, kind: str) -> str:
    return entity_id(normalize_name(name), kind)


def cand(name: str, kind: str, count: int = 1, docs: Sequence[str] = ("d1",)) -> Candidate:
    return Candidate(
        key=key(name, kind),
        name=name,
        norm=normalize_name(name),
        type=kind,
        count=count,
        document_ids=frozenset(docs),
    )


def stored(name: str, kind: str, count: int = 1, aliases: Sequence[str] = ()) -> Entity:
    return Entity(
        id=key(name, kind),
        name=name,
        type=kind,
        aliases=list(aliases),
        source_chunk_ids=[f"c{i}" for i in range(count)],
        mention_count=count,
        embedding=EMBEDDER.embed_sync([name])[0],
    )


def record(alias: Candidate, canonical: str, *, undone: bool = False) -> MergeRecord:
    return MergeRecord(
        id=merge_id(alias.key, canonical),
        alias_id=alias.key,
        alias_name=alias.name,
        alias_type=alias.type,
        canonical_id=canonical,
        score=0.97,
        method="embedding",
        undone_at=datetime.now(UTC) if undone else None,
    )


class FakeStore:
    """The store methods the resolver uses, over dicts (vector search by brute force)."""

    def __init__(
        self,
        entities: Sequence[Entity] = (),
        merges: Sequence[MergeRecord] = (),
        chunks: Sequence[Chunk] = (),
    ) -> None:
        self.entities = {e.id: e for e in entities}
        self.records = {m.id: m for m in merges}
        self.chunks = {c.id: c for c in chunks}
        self.vector_searches = 0

    async def merges(self, *, alias_ids: Sequence[str] | None = None) -> list[MergeRecord]:
        wanted = None if alias_ids is None else set(alias_ids)
        return [m for m in self.records.values() if wanted is None or m.alias_id in wanted]

    async def get_entities(self, ids: Sequence[str]) -> list[Entity]:
        return [self.entities[i].model_copy(deep=True) for i in ids if i in self.entities]

    async def find_entities(self, normalized_names: Sequence[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for norm in normalized_names:
            ids = [
                e.id
                for e in self.entities.values()
                if norm in {normalize_name(n) for n in [e.name, *e.aliases]}
            ]
            if ids:
                found[norm] = ids
        return found

    async def stats(self) -> StoreStats:
        return StoreStats(
            backend="fake",
            location="memory",
            documents=0,
            chunks=len(self.chunks),
            entities=len(self.entities),
            relations=0,
            mentions=0,
            merges=len(self.records),
        )

    async def vector_search(self, target: str, vector: np.ndarray, k: int) -> list[Hit]:
        assert target == "entities"
        self.vector_searches += 1
        scored = [(float(e.embedding @ vector), e.id) for e in self.entities.values()]
        scored.sort(reverse=True)
        return [Hit(id=i, score=s) for s, i in scored[:k]]

    async def vector_search_many(self, target: str, vectors: np.ndarray, k: int) -> list[list[Hit]]:
        return [await self.vector_search(target, v, k) for v in vectors]

    async def mark_merge_undone(self, merge_id: str) -> MergeRecord:
        if merge_id not in self.records:
            raise NotFoundError(f"no merge {merge_id}")
        self.records[merge_id].undone_at = datetime.now(UTC)
        return self.records[merge_id]

    async def get_chunks(self, ids: Sequence[str]) -> list[Chunk]:
        return [self.chunks[i] for i in ids if i in self.chunks]


async def resolve(
    candidates: Sequence[Candidate], store: Any = None, **settings: Any
) -> Resolution:
    resolver = EntityResolver(ResolutionSettings(**settings), store or FakeStore(), EMBEDDER)
    return await resolver.resolve(candidates)


def cosine(a: str, b: str) -> float:
    va, vb = EMBEDDER.embed_sync([a, b])
    return float(va @ vb)


# --------------------------------------------------------------------------- candidates


def test_build_candidates_groups_by_normalised_name_and_type() -> None:
    items = [
        ("d1", RawMention(surface="Marie Curie", type="PERSON", start=0, end=11)),
        ("d1", RawMention(surface="Marie Curie's", type="PERSON", start=20, end=33)),
        ("d2", RawMention(surface="marie curie", type="PERSON", start=0, end=11)),
        ("d2", RawMention(surface="Marie Curie", type="PERSON", start=40, end=51)),
        ("d2", RawMention(surface="Marie Curie", type="TITLE", start=0, end=11)),
        ("d3", RawMention(surface="...", type="ENTITY", start=0, end=3)),
    ]
    candidates = build_candidates(items)
    assert [(c.name, c.type, c.count) for c in candidates] == [
        ("Marie Curie", "PERSON", 4),
        ("Marie Curie", "TITLE", 1),
    ]
    person = candidates[0]
    assert person.key == key("Marie Curie", "PERSON")
    assert person.norm == "marie curie"
    assert person.document_ids == frozenset({"d1", "d2"})


def test_initials_skip_function_words() -> None:
    assert initials("National Aeronautics and Space Administration") == "NASA"
    assert initials("Bank of England") == "BE"
    assert initials("Paris") is None


# --------------------------------------------------------------------------- new entities


async def test_new_candidates_become_entities_with_embeddings() -> None:
    resolution = await resolve([cand("Warsaw", "GPE"), cand("Marie Curie", "PERSON")])
    assert resolution.merges == []
    warsaw = resolution.canonical[key("Warsaw", "GPE")]
    assert (warsaw.id, warsaw.name, warsaw.type) == (key("Warsaw", "GPE"), "Warsaw", "GPE")
    assert warsaw.embedding is not None
    np.testing.assert_allclose(warsaw.embedding, EMBEDDER.embed_sync(["Warsaw"])[0], atol=1e-6)


async def test_empty_batch_resolves_to_nothing() -> None:
    resolution = await resolve([])
    assert resolution.canonical == {}
    assert resolution.merges == []


async def test_embeddings_are_set_even_when_resolution_is_disabled() -> None:
    a, b = cand("Radium Institute", "ORG"), cand("Institute Radium", "ORG")
    resolution = await resolve([a, b], enabled=False)
    assert resolution.merges == []
    assert all(e.embedding is not None for e in resolution.canonical.values())
    assert resolution.canonical[a.key].id != resolution.canonical[b.key].id


# --------------------------------------------------------------------------- rules 1 and 2


async def test_existing_entity_with_the_same_key_is_reused() -> None:
    existing = stored("Warsaw", "GPE", count=3, aliases=["Varsovie"])
    store = FakeStore([existing])
    resolution = await resolve([cand("warsaw", "GPE")], store)
    entity = resolution.canonical[existing.id]
    assert (entity.id, entity.name, entity.aliases) == (existing.id, "Warsaw", ["Varsovie"])
    assert resolution.merges == []


async def test_active_store_merge_maps_alias_to_its_canonical() -> None:
    canonical = stored("Radium Institute", "ORG")
    alias = cand("Curie Institute", "ORG")
    store = FakeStore([canonical], [record(alias, canonical.id)])
    resolution = await resolve([alias], store)
    entity = resolution.canonical[alias.key]
    assert entity.id == canonical.id
    assert "Curie Institute" in entity.aliases
    assert resolution.merges == []  # already recorded in the store


async def test_undone_merge_blocks_the_pair_forever() -> None:
    typed = stored("Marie Curie", "PERSON")
    generic = cand("Marie Curie", "ENTITY")
    store = FakeStore([typed], [record(generic, typed.id, undone=True)])
    resolution = await resolve([generic], store, similarity_threshold=0.5)
    assert resolution.canonical[generic.key].id == generic.key
    assert resolution.merges == []


# --------------------------------------------------------------------------- rule 3


async def test_generic_candidate_adopts_the_most_mentioned_typed_one() -> None:
    person = cand("Jordan", "PERSON", count=5)
    country = cand("Jordan", "GPE", count=2)
    generic = cand("JORDAN", "ENTITY", count=1)
    resolution = await resolve([country, generic, person], enabled=False)
    assert resolution.canonical[generic.key].id == person.key
    assert resolution.canonical[country.key].id == country.key  # incompatible types stay apart
    [merge] = resolution.merges
    assert (merge.alias_id, merge.canonical_id) == (generic.key, person.key)
    assert (merge.method, merge.score, merge.alias_type) == ("type", 1.0, "ENTITY")
    assert merge.id == merge_id(generic.key, person.key)
    assert resolution.canonical[person.key].aliases == ["JORDAN"]


async def test_generic_candidate_adopts_a_stored_typed_entity() -> None:
    existing = stored("Radium Institute", "ORG", count=4)
    generic = cand("the Radium Institute", "ENTITY")
    resolution = await resolve([generic], FakeStore([existing]), enabled=False)
    assert resolution.canonical[generic.key].id == existing.id
    assert resolution.merges[0].method == "type"
    assert "the Radium Institute" in resolution.canonical[generic.key].aliases


async def test_title_never_absorbs_a_typed_entity() -> None:
    title = cand("Marie Curie", "TITLE", count=10)
    person = cand("Marie Curie", "PERSON", count=1)
    resolution = await resolve([title, person])
    assert resolution.canonical[title.key].id == person.key
    assert resolution.canonical[person.key].type == "PERSON"
    assert resolution.canonical[person.key].aliases == []  # same surface is not an alias


async def test_stored_generic_entity_does_not_absorb_a_typed_candidate() -> None:
    existing = stored("Marie Curie", "ENTITY", count=9)
    person = cand("Marie Curie", "PERSON")
    resolution = await resolve([person], FakeStore([existing]), similarity_threshold=0.5)
    assert resolution.canonical[person.key].id == person.key
    assert resolution.merges == []


# --------------------------------------------------------------------------- rule 4


async def test_acronym_joins_its_long_form_in_the_same_document() -> None:
    long_form = cand("National Aeronautics and Space Administration", "ORG", count=1)
    acronym = cand("NASA", "ORG", count=7)
    resolution = await resolve([acronym, long_form], enabled=False)
    assert resolution.canonical[acronym.key].id == long_form.key
    [merge] = resolution.merges
    assert (merge.method, merge.alias_name) == ("acronym", "NASA")
    assert resolution.canonical[long_form.key].aliases == ["NASA"]


async def test_acronym_needs_a_shared_document_and_the_setting() -> None:
    long_form = cand("National Aeronautics and Space Administration", "ORG", docs=["d1"])
    elsewhere = cand("NASA", "ORG", docs=["d2"])
    resolution = await resolve([elsewhere, long_form], enabled=False)
    assert resolution.canonical[elsewhere.key].id == elsewhere.key
    same_doc = cand("NASA", "ORG", docs=["d1"])
    resolution = await resolve([same_doc, long_form], enabled=False, acronyms=False)
    assert resolution.canonical[same_doc.key].id == same_doc.key


# --------------------------------------------------------------------------- rule 5


async def test_similar_names_in_a_batch_merge_into_the_more_mentioned() -> None:
    a, b = cand("Radium Institute", "ORG", count=2), cand("Institute Radium", "ORG", count=5)
    assert cosine(a.name, b.name) >= 0.9
    resolution = await resolve([a, b], similarity_threshold=0.9)
    assert resolution.canonical[a.key].id == b.key
    [merge] = resolution.merges
    assert merge.method == "embedding"
    assert merge.score == pytest.approx(cosine(a.name, b.name), abs=1e-5)


async def test_similarity_ties_go_to_the_smaller_key() -> None:
    a, b = cand("Radium Institute", "ORG"), cand("Institute Radium", "ORG")
    resolution = await resolve([a, b], similarity_threshold=0.9)
    winner = min(a.key, b.key)
    assert {resolution.canonical[a.key].id, resolution.canonical[b.key].id} == {winner}


async def test_similarity_below_threshold_or_incompatible_types_do_not_merge() -> None:
    a, b = cand("Radium Institute", "ORG"), cand("Institute Radium", "ORG")
    resolution = await resolve([a, b], similarity_threshold=0.99)
    assert resolution.merges == []
    person, place = cand("Paris", "PERSON"), cand("paris", "GPE")  # cosine 1.0
    resolution = await resolve([person, place], similarity_threshold=0.5)
    assert resolution.merges == []


async def test_generic_and_typed_similar_names_merge_into_the_typed_one() -> None:
    generic = cand("Institute Radium", "ENTITY", count=10)
    title = cand("Institute Radium", "TITLE", count=3)
    typed = cand("Radium Institute", "ORG", count=1)
    resolution = await resolve([generic, title, typed], similarity_threshold=0.9)
    for c in (generic, title, typed):
        assert resolution.canonical[c.key].id == typed.key
    assert resolution.canonical[typed.key].aliases == ["Institute Radium"]
    assert {m.method for m in resolution.merges} == {"embedding"}


class ConstantEmbedder(HashEmbedder):
    """Every text gets the same vector, as MiniLM does for scripts it cannot read."""

    def embed_sync(self, texts: Sequence[str], *, kind: str = "passage") -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        vectors[:, 0] = 1.0
        return vectors


async def test_embedding_merges_need_a_shared_trigram() -> None:
    unreadable = [cand("วิกฤตต้มยำกุ้ง", "ENTITY"), cand("ᏔᎾᏏ", "ENTITY")]
    related = [cand("Radium Institute", "ORG"), cand("Radium Institutes", "ORG")]
    existing = Entity(
        id=key("Marie Curie", "PERSON"), name="Marie Curie", type="PERSON",
        mention_count=1, embedding=ConstantEmbedder(dim=8).embed_sync(["x"])[0],
    )  # fmt: skip
    resolver = EntityResolver(ResolutionSettings(), FakeStore([existing]), ConstantEmbedder(dim=8))
    resolution = await resolver.resolve([*unreadable, *related, cand("Pierre Curie", "PERSON")])
    assert [resolution.canonical[c.key].id for c in unreadable] == [c.key for c in unreadable]
    assert len({resolution.canonical[c.key].id for c in related}) == 1
    assert resolution.canonical[key("Pierre Curie", "PERSON")].id == existing.id  # "curie"


async def test_new_candidate_joins_a_similar_stored_entity() -> None:
    existing = stored("Radium Institute", "ORG", count=1)
    new = cand("Institute Radium", "ORG", count=50)
    store = FakeStore([existing])
    resolution = await resolve([new], store, similarity_threshold=0.9)
    assert resolution.canonical[new.key].id == existing.id
    assert resolution.canonical[new.key].name == "Radium Institute"  # stored name kept
    assert resolution.merges[0].score == pytest.approx(cosine(new.name, existing.name), abs=1e-5)
    assert store.vector_searches == 1


async def test_empty_store_is_not_searched() -> None:
    store = FakeStore()
    await resolve([cand("Warsaw", "GPE"), cand("Paris", "GPE")], store)
    assert store.vector_searches == 0


async def test_chains_resolve_to_one_final_canonical() -> None:
    a = cand("Radium Institute", "ORG", count=1)
    b = cand("Radium Institute Paris", "ORG", count=2)
    c = cand("Curie Radium Institute Paris", "ORG", count=9)
    threshold = 0.8
    assert cosine(a.name, b.name) >= threshold
    assert cosine(b.name, c.name) >= threshold
    assert cosine(a.name, c.name) < threshold  # a reaches c only through b
    resolution = await resolve([a, b, c], similarity_threshold=threshold)
    assert {resolution.canonical[x.key].id for x in (a, b, c)} == {c.key}
    assert {m.alias_id: m.canonical_id for m in resolution.merges} == {a.key: c.key, b.key: c.key}
    assert sorted(resolution.canonical[c.key].aliases) == sorted([a.name, b.name])


async def test_many_candidates_resolve_quickly() -> None:
    names = [f"Entity {i} {chr(65 + i % 26)}{i * 7919 % 1000}" for i in range(3000)]
    candidates = [cand(n, "ORG" if i % 2 else "ENTITY") for i, n in enumerate(names)]
    started = time.perf_counter()
    resolution = await resolve(candidates, similarity_threshold=0.999)
    assert time.perf_counter() - started < 10
    assert len(resolution.canonical) == 3000


# --------------------------------------------------------------------------- undo


def _graph(source: str, text: str, entity: Entity, surfaces: list[str]) -> DocumentGraph:
    doc_id = document_id(source)
    chunk = Chunk(
        id=chunk_id(doc_id, 0),
        document_id=doc_id,
        ordinal=0,
        text=text,
        start=0,
        end=len(text),
        token_count=len(text.split()),
        embedding=EMBEDDER.embed_sync([text])[0],
    )
    spans = [(text.index(s), text.index(s) + len(s)) for s in surfaces]
    return DocumentGraph(
        document=Document(
            id=doc_id,
            source=source,
            title=source,
            mime="text/plain",
            content_hash=content_hash(text),
            text=text,
        ),
        chunks=[chunk],
        entities=[entity],
        mentions=[
            Mention(chunk_id=chunk.id, entity_id=entity.id, surface_forms=surfaces, spans=spans)
        ],
    )


async def test_undo_merge_returns_documents_mentioning_the_alias(tmp_path: Path) -> None:
    from graphrag.stores.embedded import EmbeddedGraphStore

    store = EmbeddedGraphStore(tmp_path / "graph.db")
    await store.ensure_schema(embedding_model=EMBEDDER.model_name, dim=EMBEDDER.dim)
    try:
        alias = cand("Curie Institute", "ORG")
        canonical = stored("Radium Institute", "ORG", aliases=["Curie Institute"])
        merge = record(alias, canonical.id)
        with_alias = _graph(
            "a.txt", "The Curie Institute opened in 1909.", canonical, ["Curie Institute"]
        )
        with_alias.merges = [merge]
        without = _graph(
            "b.txt", "The Radium Institute is in Paris.", canonical, ["Radium Institute"]
        )
        await store.upsert_documents([with_alias, without])

        # while the merge is active, the alias resolves to the canonical entity
        resolution = await resolve([alias], store)
        assert resolution.canonical[alias.key].id == canonical.id

        assert await undo_merge(store, merge.id) == [document_id("a.txt")]
        [after] = await store.merges(alias_ids=[alias.key])
        assert after.undone_at is not None

        # re-processing: the pair stays apart even when the names are similar enough
        resolution = await resolve([alias], store, similarity_threshold=0.1)
        assert resolution.canonical[alias.key].id == alias.key
        assert resolution.merges == []
    finally:
        await store.close()


async def test_undo_merge_of_an_unknown_merge_raises_not_found() -> None:
    with pytest.raises(NotFoundError):
        await undo_merge(FakeStore(), "x_missing")  # type: ignore[arg-type]


async def test_undo_merge_when_the_canonical_entity_is_gone_returns_nothing() -> None:
    alias = cand("Curie Institute", "ORG")
    store = FakeStore(merges=[record(alias, key("Radium Institute", "ORG"))])
    assert await undo_merge(store, merge_id(alias.key, key("Radium Institute", "ORG"))) == []  # type: ignore[arg-type]
