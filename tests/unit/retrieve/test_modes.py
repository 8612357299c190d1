"""Every retrieval mode end to end against the real embedded store.

The corpus is built by hand (documents, chunks, entities, mentions, relations) so the graph is
known exactly: a three-hop chain Marie Curie -> Warsaw -> Poland -> Polish plus distractors.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from graphrag.answer.extractive import NO_PASSAGES_TEXT, ExtractiveAnswerer
from graphrag.config import ExtractionSettings, RetrievalSettings
from graphrag.errors import InvalidQueryError
from graphrag.ids import chunk_id, content_hash, document_id, entity_id, normalize_name, relation_id
from graphrag.models import (
    Chunk,
    Document,
    DocumentGraph,
    DocumentStatus,
    Entity,
    Evidence,
    Mention,
    Relation,
    RelationKind,
    RetrievalMode,
)
from graphrag.ports import Retriever
from graphrag.retrieve.base import DocumentCache, StageTimer
from graphrag.retrieve.modes import RetrievalService, parse_mode
from graphrag.retrieve.question import QuestionAnalyzer
from graphrag.retrieve.seeds import analyze_question, residual_text
from graphrag.stores.embedded import EmbeddedGraphStore

# title, text, entities (name, type), relations (source, predicate, target)
CORPUS: list[tuple[str, str, list[tuple[str, str]], list[tuple[str, str, str]]]] = [
    (
        "Marie Curie",
        "Marie Curie was a physicist and chemist born in Warsaw. "
        "She won the Nobel Prize in Physics and the Nobel Prize in Chemistry.",
        [("Marie Curie", "PERSON"), ("Warsaw", "GPE"), ("Nobel Prize", "WORK_OF_ART")],
        [("Marie Curie", "bear in", "Warsaw"), ("Marie Curie", "win", "Nobel Prize")],
    ),
    (
        "Warsaw",
        "Warsaw is the capital and largest city of Poland. The city stands on the Vistula river.",
        [("Warsaw", "GPE"), ("Poland", "GPE"), ("Vistula", "LOC")],
        [("Warsaw", "be capital of", "Poland"), ("Warsaw", "co_occurs_with", "Vistula")],
    ),
    (
        "Poland",
        "Poland is a country in Central Europe. Its official language is Polish.",
        [("Poland", "GPE"), ("Central Europe", "LOC"), ("Polish", "LANGUAGE")],
        [("Poland", "co_occurs_with", "Central Europe"), ("Poland", "have language", "Polish")],
    ),
    (
        "Bananas",
        "Bananas are rich in potassium. Banana plants grow in tropical climates.",
        [("Bananas", "TITLE")],
        [],
    ),
    (
        "Albert Einstein",
        "Albert Einstein developed the theory of relativity while working in Bern.",
        [("Albert Einstein", "PERSON"), ("Bern", "GPE")],
        [("Albert Einstein", "work in", "Bern")],
    ),
    (
        "Pierre Curie",
        "Pierre Curie was a French physicist. He married Marie Curie in Paris.",
        [("Pierre Curie", "PERSON"), ("Marie Curie", "PERSON"), ("Paris", "GPE")],
        [("Pierre Curie", "marry", "Marie Curie"), ("Pierre Curie", "co_occurs_with", "Paris")],
    ),
]
CHAIN_QUESTION = "What is the official language of the country where Marie Curie was born?"


def eid(name: str, types: dict[str, str]) -> str:
    return entity_id(normalize_name(name), types[name])


async def build_graphs(embedder: Any) -> list[DocumentGraph]:
    types = {name: kind for _, _, ents, _ in CORPUS for name, kind in ents}
    names = list(types)
    name_vecs = dict(zip(names, await embedder.embed(names, kind="passage"), strict=True))
    texts = [f"{title}\n{text}" for title, text, _, _ in CORPUS]
    chunk_vecs = await embedder.embed(texts, kind="passage")
    graphs = []
    for (title, _, ents, rels), text, vec in zip(CORPUS, texts, chunk_vecs, strict=True):
        source = f"/corpus/{title.lower().replace(' ', '_')}.txt"
        doc_id = document_id(source)
        cid = chunk_id(doc_id, 0)
        document = Document(
            id=doc_id,
            source=source,
            title=title,
            mime="text/plain",
            content_hash=content_hash(text),
            text=text,
            status=DocumentStatus.DONE,
            chunk_count=1,
        )
        chunk = Chunk(
            id=cid,
            document_id=doc_id,
            ordinal=0,
            text=text,
            start=0,
            end=len(text),
            token_count=len(text.split()),
            embedding=vec,
        )
        entities = [
            Entity(id=eid(n, types), name=n, type=types[n], embedding=name_vecs[n]) for n, _ in ents
        ]
        mentions = [
            Mention(
                chunk_id=cid,
                entity_id=eid(n, types),
                surface_forms=[n],
                spans=[(text.index(n), text.index(n) + len(n))],
            )
            for n, _ in ents
        ]
        relations = [
            Relation(
                id=relation_id(eid(s, types), p, eid(t, types)),
                source_id=eid(s, types),
                target_id=eid(t, types),
                predicate=p,
                kind=RelationKind.COOCCURRENCE if p == "co_occurs_with" else RelationKind.SVO,
                evidence=[Evidence(chunk_id=cid, sentence=text)],
            )
            for s, p, t in rels
        ]
        graphs.append(
            DocumentGraph(
                document=document,
                chunks=[chunk],
                entities=entities,
                mentions=mentions,
                relations=relations,
            )
        )
    return graphs


async def open_store(path: Path, embedder: Any, *, fill: bool = True) -> EmbeddedGraphStore:
    store = EmbeddedGraphStore(path)
    await store.ensure_schema(embedding_model=embedder.model_name, dim=embedder.dim)
    if fill:
        await store.upsert_documents(await build_graphs(embedder))
    return store


@pytest.fixture(scope="module")
def analyzer() -> QuestionAnalyzer:
    return QuestionAnalyzer(ExtractionSettings(processes=1))


@pytest.fixture
async def store(tmp_path: Path, hash_embedder: Any) -> AsyncIterator[EmbeddedGraphStore]:
    store = await open_store(tmp_path / "graph.db", hash_embedder)
    yield store
    await store.close()


def titles(context: Any) -> list[str]:
    return [c.title for c in context.chunks]


# ----------------------------------------------------------------------------- linking


@pytest.mark.slow
async def test_question_entities_link_by_name_else_by_embedding_in_one_call(
    store: Any, hash_embedder: Any, analyzer: QuestionAnalyzer
) -> None:
    question = "Did Albert Einsteins ever meet Marie Curie in Zanzibar?"
    timer = StageTimer()
    seeds = await analyze_question(
        question, store=store, embedder=hash_embedder, analyzer=analyzer, timer=timer
    )
    assert seeds.surfaces == ["Albert Einsteins", "Marie Curie", "Zanzibar"]
    # the question and the two unmatched surfaces are embedded together, once
    assert hash_embedder.calls[-1] == [question, "Albert Einsteins", "Zanzibar"]
    by_surface = {link.surface: link for link in seeds.linked}
    curie = by_surface["Marie Curie"]
    assert curie.exact
    assert curie.score == 1.0
    assert curie.entity_id == entity_id("marie curie", "PERSON")
    typo = by_surface["Albert Einsteins"]
    assert not typo.exact
    assert typo.entity_id == entity_id("albert einstein", "PERSON")
    assert typo.score >= 0.6
    assert "Zanzibar" not in by_surface  # nothing similar enough in the graph
    assert seeds.vector.shape == (hash_embedder.dim,)
    assert {"analyze", "store", "embed"} <= set(timer.timings)


def test_residual_text_drops_the_surfaces_longest_first() -> None:
    question = "Was Marie Curie born in Warsaw, like Marie?"
    assert residual_text(question, ["Marie", "Marie Curie", "Warsaw"]) == "Was born in , like ?"
    assert residual_text("Marie Curie?", ["Marie Curie"]) == ""  # nothing but the entity
    assert residual_text("Who was she?", []) == "Who was she?"


# ----------------------------------------------------------------------------- plain modes


async def test_naive_finds_the_identical_passage(store: Any, hash_embedder: Any) -> None:
    service = RetrievalService(store, hash_embedder, RetrievalSettings(), None)
    question = f"Bananas\n{CORPUS[3][1]}"
    context = await service.retrieve(question, mode="naive", top_k=3)
    assert context.mode is RetrievalMode.NAIVE
    assert titles(context)[0] == "Bananas"
    assert len(context.chunks) == 3
    first = context.chunks[0]
    assert first.source == "/corpus/bananas.txt"
    assert first.document_id == document_id("/corpus/bananas.txt")
    assert first.text == question
    assert {"embed", "store", "total"} <= set(context.timings)
    assert context.token_count == sum(c.token_count for c in context.chunks)


async def test_bm25_ranks_keyword_matches(store: Any, hash_embedder: Any) -> None:
    service = RetrievalService(store, hash_embedder, RetrievalSettings(), None)
    context = await service.retrieve("potassium tropical", mode=RetrievalMode.BM25)
    assert titles(context) == ["Bananas"]
    assert "embed" not in context.timings


async def test_top_k_budget_and_dedup(store: Any, hash_embedder: Any) -> None:
    question = "Curie physicist Warsaw Poland capital Einstein"
    unlimited = RetrievalService(store, hash_embedder, RetrievalSettings(token_budget=10_000), None)
    full = await unlimited.retrieve(question, mode="bm25", top_k=5)
    assert len(full.chunks) == 5
    assert not full.truncated
    tokens = [c.token_count for c in full.chunks]
    budget = sum(tokens[:4])  # exactly the first four chunks fit
    assert budget >= 64  # the smallest budget the settings accept
    service = RetrievalService(store, hash_embedder, RetrievalSettings(token_budget=budget), None)
    context = await service.retrieve(question, mode="bm25", top_k=5)
    assert [c.id for c in context.chunks] == [c.id for c in full.chunks[:4]]
    assert context.token_count == budget
    assert context.truncated
    assert len({c.id for c in context.chunks}) == len(context.chunks)
    narrow = await service.retrieve(question, mode="bm25", top_k=2)
    assert [c.id for c in narrow.chunks] == [c.id for c in full.chunks[:2]]
    assert not narrow.truncated


async def test_warm_up_runs_every_mode(store: Any, hash_embedder: Any) -> None:
    service = RetrievalService(store, hash_embedder, RetrievalSettings(), None)
    await service.warm_up()
    assert len(hash_embedder.calls) > 2  # the graph modes and naive embedded the question


# ----------------------------------------------------------------------------- graph modes


@pytest.mark.slow
async def test_local_follows_the_chain_from_the_question_entity(
    store: Any, hash_embedder: Any, analyzer: QuestionAnalyzer
) -> None:
    settings = RetrievalSettings(k_entities=1)
    service = RetrievalService(store, hash_embedder, settings, analyzer)
    context = await service.retrieve(CHAIN_QUESTION, mode="local", top_k=4)
    # half of each chunk's score is the hash embedder's (arbitrary) cosine; the graph half
    # puts the seed's own passage near the top
    assert "Marie Curie" in titles(context)
    names = [e.name for e in context.entities]
    assert names[0] == "Marie Curie"  # the linked seed scores highest
    assert "Poland" in names  # two hops away
    assert ["Marie Curie", "Warsaw", "Poland"] in context.paths
    predicates = {r.predicate for r in context.relations}
    assert {"bear in", "be capital of"} <= predicates
    assert {"analyze", "embed", "store", "rank", "total"} <= set(context.timings)


@pytest.mark.slow
async def test_hybrid_fuses_bm25_dense_and_graph(
    store: Any, hash_embedder: Any, analyzer: QuestionAnalyzer
) -> None:
    service = RetrievalService(store, hash_embedder, RetrievalSettings(k_entities=1), analyzer)
    context = await service.retrieve("Where did Albert Einstein work?", mode="hybrid", top_k=3)
    assert titles(context)[0] == "Albert Einstein"  # first in BM25 and graph lists
    assert "Bern" in [e.name for e in context.entities]
    settings = RetrievalSettings(k_entities=1, hybrid_fusion="rrf")
    rrf = RetrievalService(store, hash_embedder, settings, analyzer)
    other = await rrf.retrieve("Where did Albert Einstein work?", mode="hybrid", top_k=3)
    assert titles(other)[0] == "Albert Einstein"


@pytest.mark.slow
async def test_ppr_walks_from_the_seed_to_the_bridge_passages(
    store: Any, hash_embedder: Any, analyzer: QuestionAnalyzer
) -> None:
    # all reset mass on the question entity: the hash embedder's dense scores are noise
    settings = RetrievalSettings(ppr_dense_weight=0.0)
    service = RetrievalService(store, hash_embedder, settings, analyzer)
    context = await service.retrieve(CHAIN_QUESTION, mode="ppr", top_k=4)
    found = titles(context)
    # both passages mentioning the seed first (a tie), then the bridge passage
    assert set(found[:2]) == {"Marie Curie", "Pierre Curie"}
    assert found[2] == "Warsaw"
    assert "Bananas" not in found  # no path from the seed, no dense mass
    assert context.entities[0].name == "Marie Curie"
    assert ["Marie Curie", "Warsaw"] in context.paths
    assert "bear in" in {r.predicate for r in context.relations}
    scores = [c.score for c in context.chunks]
    assert scores == sorted(scores, reverse=True)


@pytest.mark.slow
async def test_ppr_rerank_prefers_the_passage_that_answers_the_rest_of_the_question(
    store: Any, hash_embedder: Any, analyzer: QuestionAnalyzer
) -> None:
    def ranked(context: Any) -> list[str]:
        return [c.title for c in context.chunks if c.score > 0]

    plain = RetrievalService(
        store, hash_embedder, RetrievalSettings(ppr_rerank_temperature=0.0), analyzer
    )
    walk_only = ranked(await plain.retrieve(CHAIN_QUESTION, mode="ppr", top_k=6))
    assert hash_embedder.calls[-1] == [CHAIN_QUESTION]  # no second text without the rerank
    service = RetrievalService(store, hash_embedder, RetrievalSettings(), analyzer)
    context = await service.retrieve(CHAIN_QUESTION, mode="ppr", top_k=6)
    # the question and its rest (without "Marie Curie") are embedded in one batch
    rest = "What is the official language of the country where was born?"
    assert hash_embedder.calls[-1] == [CHAIN_QUESTION, rest]
    reranked = ranked(context)
    assert set(reranked) == set(walk_only)  # the same passages, reordered
    # Pierre Curie only shares the question's entity; Poland answers the rest (the language)
    assert walk_only.index("Pierre Curie") < walk_only.index("Poland")
    assert reranked.index("Poland") < reranked.index("Pierre Curie")
    assert reranked[0] == "Marie Curie"


async def test_graph_modes_work_without_an_analyzer(store: Any, hash_embedder: Any) -> None:
    service = RetrievalService(store, hash_embedder, RetrievalSettings(), None)
    for mode in ("local", "hybrid", "ppr"):
        context = await service.retrieve(CHAIN_QUESTION, mode=mode, top_k=3)
        assert 1 <= len(context.chunks) <= 3
        assert "analyze" not in context.timings


async def test_empty_store_returns_no_chunks(tmp_path: Path, hash_embedder: Any) -> None:
    store = await open_store(tmp_path / "empty.db", hash_embedder, fill=False)
    try:
        service = RetrievalService(store, hash_embedder, RetrievalSettings(), None)
        for mode in RetrievalMode:
            context = await service.retrieve("anything at all?", mode=mode)
            assert context.chunks == []
            assert context.token_count == 0
        answer = await ExtractiveAnswerer(hash_embedder).answer("anything at all?", context)
        assert answer.text == NO_PASSAGES_TEXT
    finally:
        await store.close()


# ----------------------------------------------------------------------------- errors


async def test_invalid_requests_are_rejected(store: Any, hash_embedder: Any) -> None:
    service = RetrievalService(store, hash_embedder, RetrievalSettings(), None)
    with pytest.raises(InvalidQueryError, match="naive, bm25, local, hybrid, ppr, global"):
        await service.retrieve("Who?", mode="telepathy")
    with pytest.raises(InvalidQueryError, match="question is empty"):
        await service.retrieve("   ", mode="naive")
    with pytest.raises(InvalidQueryError, match="MAX_QUESTION_CHARS"):
        await service.retrieve("x" * 2001, mode="naive")
    with pytest.raises(InvalidQueryError, match="top_k"):
        await service.retrieve("Who?", mode="naive", top_k=0)
    bad_default = RetrievalService(store, hash_embedder, RetrievalSettings(mode="nope"), None)
    with pytest.raises(InvalidQueryError, match="unknown retrieval mode 'nope'"):
        await bad_default.retrieve("Who?")


async def test_mode_retriever_implements_the_port(store: Any, hash_embedder: Any) -> None:
    service = RetrievalService(store, hash_embedder, RetrievalSettings(), None)
    retriever = service.retriever("BM25")
    assert isinstance(retriever, Retriever)
    assert retriever.mode is RetrievalMode.BM25
    context = await retriever.retrieve("potassium", top_k=1)
    assert titles(context) == ["Bananas"]
    with pytest.raises(InvalidQueryError, match="unknown retrieval mode"):
        service.retriever("graph")


def test_parse_mode_is_case_insensitive() -> None:
    assert parse_mode(" PPR ") is RetrievalMode.PPR
    assert parse_mode(RetrievalMode.BM25) is RetrievalMode.BM25


async def test_default_mode_and_top_k_come_from_settings(store: Any, hash_embedder: Any) -> None:
    service = RetrievalService(store, hash_embedder, RetrievalSettings(mode="bm25", top_k=1), None)
    context = await service.retrieve("Curie physicist")
    assert context.mode is RetrievalMode.BM25
    assert len(context.chunks) == 1
    assert service.default_mode is RetrievalMode.BM25


# ----------------------------------------------------------------------------- cache


async def test_document_cache_reads_once_and_expires(store: Any) -> None:
    doc_id = document_id("/corpus/warsaw.txt")
    cache = DocumentCache(max_size=1, ttl_seconds=60)
    first = await cache.fetch(store, [doc_id, doc_id, "d_missing"])
    assert list(first) == [doc_id]
    assert first[doc_id].title == "Warsaw"
    assert cache.get(doc_id) is first[doc_id]
    await cache.fetch(store, [document_id("/corpus/poland.txt")])
    assert cache.get(doc_id) is None  # evicted: max_size=1
    expired = DocumentCache(ttl_seconds=0.0)
    await expired.fetch(store, [doc_id])
    assert expired.get(doc_id) is None


# ----------------------------------------------------------------------------- real model


@pytest.mark.slow
async def test_real_minilm_ppr_and_extractive_answer(
    tmp_path: Path, embedder: Any, analyzer: QuestionAnalyzer
) -> None:
    store = await open_store(tmp_path / "minilm.db", embedder)
    try:
        service = RetrievalService(store, embedder, RetrievalSettings(), analyzer)
        context = await service.retrieve(CHAIN_QUESTION, mode="ppr", top_k=4)
        found = titles(context)
        assert {"Marie Curie", "Warsaw", "Poland"} <= set(found[:4])
        naive = await service.retrieve("Which fruit is rich in potassium?", mode="naive", top_k=1)
        assert titles(naive) == ["Bananas"]
        answer = await ExtractiveAnswerer(embedder, max_sentences=2).answer(
            "Who did Pierre Curie marry?", await service.retrieve("Who did Pierre Curie marry?")
        )
        assert "He married Marie Curie in Paris." in answer.text
        stored = {c.id: c for c in await store.get_chunks([c.chunk_id for c in answer.citations])}
        for citation in answer.citations:
            chunk = stored[citation.chunk_id]  # a real chunk of the store
            assert citation.document_id == chunk.document_id
            assert citation.quote in chunk.text
            document = await store.get_document(citation.document_id)
            assert document is not None
            assert (citation.source, citation.title) == (document.source, document.title)
    finally:
        await store.close()
