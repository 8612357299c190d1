"""Entity resolution over a store: the graph depends only on the stored documents.

Every test runs on each store backend (see conftest). Documents are annotated by hand (see
``resolution_kit``), so the tests exercise resolution and the store, not an extractor.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from graphrag.config import ResolutionSettings
from graphrag.errors import NotFoundError, StoreQueryError
from graphrag.ids import document_id, entity_id
from graphrag.resolution.actions import delete_document, finish_pending, undo_merge
from graphrag.resolution.reconcile import Reconciler
from graphrag.testing.fakes import HashEmbedder
from tests.contract.resolution_kit import Spec, ingest, raw_graph, snapshot

SETTINGS = ResolutionSettings(similarity_threshold=0.55)

CORPUS: list[Spec] = [
    ("curie.txt", ["[Marie Curie|PERSON] was born in [Warsaw|GPE].",
                   "[Marie Curie|PERSON] ~found~ the [Radium Institute|ORG] in [Paris|GPE]."]),
    ("institute.txt", ["The [Radium Institute|ENTITY] opened in [Paris|GPE] in 1914."]),
    ("ferries.txt", ["[Gullwing Ferries|ORG] ~run~ boats to [Velmora|GPE]."]),
    ("harbour.txt", ["[Gullwing Ferries|ENTITY] sails at dawn from [Velmora|GPE]."]),
    ("nasa.txt", ["The [National Aeronautics and Space Administration|ORG] ([NASA|ORG]) "
                  "sent probes."]),
    ("probe.txt", ["[NASA|ORG] ~launch~ [Voyager|PRODUCT]."]),
    ("institutes.txt", ["The [Radium Institutes|ORG] grew.", "[Radium Institutes|ORG] hired.",
                        "[Radium Institutes|ORG] built a lab in [Warsaw|GPE]."]),
    ("warsaw.txt", ["[Warsaw|ENTITY] and [Warszawa|GPE] are one city."]),
]  # fmt: skip


@pytest.fixture
def hash_embedder() -> Any:
    """A wider hash embedder: "Radium Institute(s)" have cosine 0.61, other names below 0.35."""
    return HashEmbedder(dim=256)


def key(name: str, kind: str) -> str:
    return entity_id(name.lower(), kind)


async def built(store_factory: Any, embedder: Any, specs: list[Spec], **kw: Any) -> Any:
    store = await store_factory()
    await ingest(store, embedder, specs, settings=SETTINGS, **kw)
    return store


async def test_batch_size_and_order_do_not_change_the_graph(
    store_factory: Any, hash_embedder: Any
) -> None:
    one_batch = await snapshot(await built(store_factory, hash_embedder, CORPUS))
    reverse = await snapshot(await built(store_factory, hash_embedder, CORPUS[::-1], batch=1))
    shuffled = list(CORPUS)
    random.Random(7).shuffle(shuffled)
    threes = await snapshot(await built(store_factory, hash_embedder, shuffled, batch=3))

    assert reverse == one_batch
    assert threes == one_batch
    assert one_batch["backlog"] == (0, 0)


async def test_rules_group_names_as_documented(store_factory: Any, hash_embedder: Any) -> None:
    store = await built(store_factory, hash_embedder, CORPUS)
    state = await snapshot(store)
    merges = {(a, c): m for a, c, m, _, _ in state["merges"]}

    institutes = key("radium institutes", "ORG")  # 3 chunks beat 1: the canonical
    assert state["entities"][institutes][:2] == ("Radium Institutes", "ORG")
    assert merges[(key("radium institute", "ORG"), institutes)] == "embedding"
    # its own direct evidence to the canonical key names the method (not the type adoption
    # of "Radium Institute" ORG it came through)
    assert merges[(key("radium institute", "ENTITY"), institutes)] == "embedding"
    # the acronym is in two chunks, the long form in one: the acronym is canonical
    long_form = key("national aeronautics and space administration", "ORG")
    assert merges[(long_form, key("nasa", "ORG"))] == "acronym"
    assert merges[(key("gullwing ferries", "ENTITY"), key("gullwing ferries", "ORG"))] == "type"
    assert merges[(key("warsaw", "ENTITY"), key("warsaw", "GPE"))] == "type"
    assert key("warszawa", "GPE") in state["entities"]  # different names stay apart
    assert "Radium Institute" in state["entities"][institutes][2]  # aliases


async def test_delete_leaves_the_graph_of_a_fresh_ingest_of_the_rest(
    store_factory: Any, hash_embedder: Any
) -> None:
    for gone in ("ferries.txt", "nasa.txt", "institutes.txt", "curie.txt"):
        store = await built(store_factory, hash_embedder, CORPUS)
        reconciler = Reconciler(store, hash_embedder, SETTINGS)
        report, _ = await delete_document(store, reconciler, document_id(gone))
        assert report.chunks >= 1
        rest = [s for s in CORPUS if s[0] != gone]
        fresh = await built(store_factory, hash_embedder, rest)
        assert await snapshot(store) == await snapshot(fresh), gone


async def test_delete_drops_a_type_only_the_deleted_document_gave(
    store_factory: Any, hash_embedder: Any
) -> None:
    store = await built(store_factory, hash_embedder, CORPUS)
    reconciler = Reconciler(store, hash_embedder, SETTINGS)
    await delete_document(store, reconciler, document_id("ferries.txt"))
    state = await snapshot(store)
    generic = key("gullwing ferries", "ENTITY")
    assert state["entities"][generic][:2] == ("Gullwing Ferries", "ENTITY")
    assert key("gullwing ferries", "ORG") not in state["entities"]
    assert not [m for m in state["merges"] if generic in m[:2]]
    with pytest.raises(NotFoundError):
        await delete_document(store, reconciler, document_id("ferries.txt"))


async def test_undo_keeps_the_pair_apart_for_good(store_factory: Any, hash_embedder: Any) -> None:
    store = await built(store_factory, hash_embedder, CORPUS)
    reconciler = Reconciler(store, hash_embedder, SETTINGS)
    alias, canonical = key("warsaw", "ENTITY"), key("warsaw", "GPE")
    [record] = [m for m in await store.merges() if m.alias_id == alias]

    undone, outcome = await undo_merge(store, reconciler, record.id)

    assert undone.undone_at is not None
    assert outcome.documents >= 1
    state = await snapshot(store)
    assert state["entities"][alias][:2] == ("Warsaw", "ENTITY")
    assert (alias, canonical, "type", 1.0, True) in state["merges"]
    chunk_entities = {(c, e) for c, e, _, _ in state["mentions"]}
    warsaw_chunk = next(c for c, e, _, _ in state["mentions"] if e == alias)
    assert (warsaw_chunk, canonical) not in chunk_entities
    assert (warsaw_chunk, key("warszawa", "GPE")) in chunk_entities
    await ingest(store, hash_embedder, CORPUS, settings=SETTINGS)  # a rerun keeps it undone
    assert await snapshot(store) == state
    with pytest.raises(NotFoundError):
        await undo_merge(store, reconciler, "x_missing")


class FailingRederive:
    """A store whose next ``rederive_documents`` fails (as a crash mid-pass would)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.failures = 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    async def rederive_documents(self, graphs: Any) -> Any:
        if self.failures:
            self.failures -= 1
            raise StoreQueryError("simulated failure while deriving documents")
        return await self._store.rederive_documents(graphs)


async def test_an_interrupted_pass_is_finished_by_the_next_writer(
    store_factory: Any, hash_embedder: Any
) -> None:
    expected = await snapshot(await built(store_factory, hash_embedder, CORPUS))
    store = await store_factory()
    # raw facts written, then the process dies before resolving
    graphs = [await raw_graph(hash_embedder, s) for s in CORPUS]
    await store.upsert_documents(graphs, derived=False)
    stats = await store.stats()
    assert stats.dirty_keys > 0
    assert stats.pending_documents == len(CORPUS)
    # the next writer fails half-way through its pass
    flaky = FailingRederive(store)
    with pytest.raises(StoreQueryError):
        await finish_pending(flaky, Reconciler(flaky, hash_embedder, SETTINGS))
    await finish_pending(store, Reconciler(store, hash_embedder, SETTINGS))
    assert await snapshot(store) == expected


async def test_two_concurrent_writers_end_as_one_sequential_run(
    store_factory: Any, hash_embedder: Any
) -> None:
    import asyncio

    expected = await snapshot(await built(store_factory, hash_embedder, CORPUS))
    store = await store_factory()
    half = len(CORPUS) // 2
    await asyncio.gather(
        ingest(store, hash_embedder, CORPUS[:half], batch=1, settings=SETTINGS),
        ingest(store, hash_embedder, CORPUS[half:], batch=1, settings=SETTINGS),
    )
    assert await snapshot(store) == expected


async def test_changed_document_is_resolved_again(store_factory: Any, hash_embedder: Any) -> None:
    store = await built(store_factory, hash_embedder, CORPUS)
    edited = [(s, c) if s != "institutes.txt" else (s, ["The [Radium Institutes|ORG] grew."])
              for s, c in CORPUS]  # fmt: skip
    await ingest(store, hash_embedder, [s for s in edited if s[0] == "institutes.txt"],
                 settings=SETTINGS)  # fmt: skip
    fresh = await built(store_factory, hash_embedder, edited)
    assert await snapshot(store) == await snapshot(fresh)
