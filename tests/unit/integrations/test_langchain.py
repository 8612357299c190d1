"""GraphRAGRetriever over a real store: metadata, modes, k, sync and async paths, errors."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
import threading
from typing import Any

import pytest

pytest.importorskip("langchain_core", reason="the llm extra (langchain-core) is not installed")

from langchain_core.documents import Document
from langchain_core.runnables import RunnableLambda
from pydantic import ValidationError

from graphrag.config import Settings
from graphrag.errors import InvalidArgumentError, InvalidQueryError, StoreError
from graphrag.facade import GraphRAG
from graphrag.integrations import langchain as integration
from graphrag.integrations.langchain import GraphRAGRetriever
from graphrag.models import RetrievalMode

pytestmark = pytest.mark.slow

QUESTION = "Who built the Lantern Bridge?"
METADATA_KEYS = {
    "chunk_id",
    "document_id",
    "source",
    "title",
    "score",
    "ordinal",
    "entities",
    "mode",
}


@pytest.fixture
def retriever(sample_rag: GraphRAG) -> GraphRAGRetriever:
    return GraphRAGRetriever(rag=sample_rag, k=4)


async def test_documents_carry_the_chunk_and_its_provenance(
    retriever: GraphRAGRetriever, sample_rag: GraphRAG
) -> None:
    docs = await retriever.ainvoke(QUESTION)
    context = await sample_rag.retrieve(QUESTION, top_k=4)

    assert [d.id for d in docs] == [c.id for c in context.chunks]
    assert len(docs) == 4
    for doc, chunk in zip(docs, context.chunks, strict=True):
        assert isinstance(doc, Document)
        assert set(doc.metadata) == METADATA_KEYS
        assert doc.page_content == chunk.text
        assert doc.metadata["chunk_id"] == chunk.id
        assert doc.metadata["document_id"] == chunk.document_id
        assert doc.metadata["source"] == chunk.source
        assert doc.metadata["title"] == chunk.title
        assert doc.metadata["ordinal"] == chunk.ordinal
        assert doc.metadata["score"] == pytest.approx(chunk.score)
        assert doc.metadata["mode"] == RetrievalMode(sample_rag.settings.retrieval.mode).value
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    assert any("Lantern Bridge" in d.page_content for d in docs)


async def test_entities_are_those_of_the_context_that_the_chunk_mentions(
    retriever: GraphRAGRetriever, sample_rag: GraphRAG
) -> None:
    docs = await retriever.ainvoke(QUESTION)
    context = await sample_rag.retrieve(QUESTION, top_k=4)
    stored = await sample_rag.components.store.get_entities([e.id for e in context.entities])
    provenance = {e.id: set(e.source_chunk_ids) for e in stored}
    names = {e.name for e in context.entities}

    assert any(d.metadata["entities"] for d in docs)
    for doc in docs:
        entities = doc.metadata["entities"]
        assert len(entities) == len(set(entities))
        assert set(entities) <= names
        expected = {
            e.name for e in context.entities if doc.metadata["chunk_id"] in provenance[e.id]
        }
        assert set(entities) == expected
    top = docs[0]
    assert "Lantern Bridge" in top.metadata["entities"]  # the best chunk is about the bridge


async def test_modes_without_entities_give_empty_entity_lists(
    sample_rag: GraphRAG,
) -> None:
    retriever = GraphRAGRetriever(rag=sample_rag, mode="naive", k=3)
    docs = await retriever.ainvoke(QUESTION)
    assert len(docs) == 3
    assert all(d.metadata["mode"] == "naive" for d in docs)
    assert all(d.metadata["entities"] == [] for d in docs)


@pytest.mark.parametrize("mode", list(RetrievalMode))
async def test_the_mode_field_reaches_the_facade(sample_rag: GraphRAG, mode: RetrievalMode) -> None:
    by_enum = await GraphRAGRetriever(rag=sample_rag, mode=mode, k=2).ainvoke(QUESTION)
    by_name = await GraphRAGRetriever(rag=sample_rag, mode=mode.value.upper(), k=2).ainvoke(
        QUESTION
    )
    context = await sample_rag.retrieve(QUESTION, mode=mode, top_k=2)
    assert [d.id for d in by_enum] == [d.id for d in by_name] == [c.id for c in context.chunks]
    if mode is RetrievalMode.GLOBAL and not context.chunks:  # before `graphrag analyze`
        assert context.notes
        return
    assert {d.metadata["mode"] for d in by_enum} == {mode.value}


async def test_mode_and_k_per_call_override_the_fields(retriever: GraphRAGRetriever) -> None:
    docs = await retriever.ainvoke(QUESTION, mode="bm25", k=2)
    assert len(docs) == 2
    assert {d.metadata["mode"] for d in docs} == {"bm25"}
    sync_docs = retriever.invoke(QUESTION, mode=RetrievalMode.NAIVE, k=1)
    assert len(sync_docs) == 1
    assert sync_docs[0].metadata["mode"] == "naive"
    assert retriever.mode is None  # the fields are unchanged
    assert retriever.k == 4


def test_default_mode_and_k_come_from_the_settings(sample_rag: GraphRAG) -> None:
    docs = GraphRAGRetriever(rag=sample_rag).invoke(QUESTION)
    retrieval = sample_rag.settings.retrieval
    assert 1 <= len(docs) <= retrieval.top_k
    assert {d.metadata["mode"] for d in docs} == {RetrievalMode(retrieval.mode).value}


async def test_invoke_and_ainvoke_agree(retriever: GraphRAGRetriever) -> None:
    asynchronous = await retriever.ainvoke(QUESTION)
    synchronous = await asyncio.to_thread(retriever.invoke, QUESTION)
    assert [d.id for d in synchronous] == [d.id for d in asynchronous]
    assert [d.metadata for d in synchronous] == [d.metadata for d in asynchronous]


def test_invoke_from_a_plain_thread_without_a_loop(retriever: GraphRAGRetriever) -> None:
    results: list[list[Document]] = []
    worker = threading.Thread(target=lambda: results.append(retriever.invoke(QUESTION)))
    worker.start()
    worker.join(120)
    assert len(results) == 1
    assert len(results[0]) == 4


async def test_invoke_inside_a_running_event_loop(retriever: GraphRAGRetriever) -> None:
    asyncio.get_running_loop()  # this test body runs on an event loop
    docs = retriever.invoke(QUESTION)  # sync call from async code: blocks, but works
    assert len(docs) == 4
    assert all(isinstance(d, Document) for d in docs)


def test_batch_runs_concurrent_sync_calls(retriever: GraphRAGRetriever) -> None:
    questions = [QUESTION, "Kessel Barrier", "Who founded the Velmora Maritime Museum?"]
    results = retriever.batch(questions, config={"max_concurrency": 3})
    assert [len(r) for r in results] == [4, 4, 4]


async def test_abatch_and_a_chain(retriever: GraphRAGRetriever) -> None:
    results = await retriever.abatch([QUESTION, "Kessel Barrier"])
    assert [len(r) for r in results] == [4, 4]
    chain = retriever | RunnableLambda(lambda docs: [d.metadata["chunk_id"] for d in docs])
    assert await chain.ainvoke(QUESTION) == [d.id for d in results[0]]


def test_sync_calls_reuse_one_loop_thread_and_do_not_leak(
    retriever: GraphRAGRetriever, sample_rag: GraphRAG
) -> None:
    retriever.invoke(QUESTION)
    loop_thread = integration._LOOP.thread
    assert loop_thread is not None
    assert loop_thread.is_alive()
    assert loop_thread.daemon
    threads = threading.active_count()
    readers = len(getattr(sample_rag.components.store, "_readers", []))
    for _ in range(12):
        retriever.invoke(QUESTION, k=1)
    assert integration._LOOP.thread is loop_thread
    assert threading.active_count() <= threads + 6  # the loop's executor may add workers
    # white box: the embedded store opens one read connection per worker thread; a new event
    # loop per call would add connections on every call
    assert len(getattr(sample_rag.components.store, "_readers", [])) <= max(readers, 1) + 6
    names = [t.name for t in threading.enumerate()]
    assert names.count("graphrag-langchain-loop") == 1


def test_the_loop_thread_stops_cleanly_and_restarts(retriever: GraphRAGRetriever) -> None:
    retriever.invoke(QUESTION)
    first = integration._LOOP.thread
    assert first is not None
    integration._LOOP.stop()
    assert not first.is_alive()
    assert integration._LOOP.thread is None
    integration._LOOP.stop()  # idempotent
    assert len(retriever.invoke(QUESTION)) == 4  # started again on demand
    second = integration._LOOP.thread
    assert second is not None
    assert second is not first
    assert second.is_alive()


def test_a_sync_call_from_the_private_loop_is_refused(retriever: GraphRAGRetriever) -> None:
    async def nested() -> list[Document]:
        return retriever.invoke(QUESTION)

    with pytest.raises(RuntimeError, match="use ainvoke"):
        integration._LOOP.run(nested())


def test_an_empty_question_raises_invalid_query_error(retriever: GraphRAGRetriever) -> None:
    with pytest.raises(InvalidQueryError, match="question is empty"):
        retriever.invoke("")
    with pytest.raises(InvalidQueryError, match="question is empty"):
        retriever.invoke("   \n")


async def test_an_empty_question_raises_invalid_query_error_async(
    retriever: GraphRAGRetriever,
) -> None:
    with pytest.raises(InvalidQueryError, match="question is empty"):
        await retriever.ainvoke("")


async def test_bad_modes_and_k_raise_the_projects_errors(sample_rag: GraphRAG) -> None:
    with pytest.raises(InvalidQueryError, match="unknown retrieval mode 'telepathy'"):
        GraphRAGRetriever(rag=sample_rag, mode="telepathy")
    with pytest.raises(ValidationError, match="k"):
        GraphRAGRetriever(rag=sample_rag, k=0)
    with pytest.raises(ValidationError, match="rag"):
        GraphRAGRetriever(rag="not a facade")
    retriever = GraphRAGRetriever(rag=sample_rag)
    with pytest.raises(InvalidQueryError, match="unknown retrieval mode"):
        await retriever.ainvoke(QUESTION, mode="telepathy")
    with pytest.raises(InvalidArgumentError, match="top_k must be between 1 and 200"):
        retriever.invoke(QUESTION, k=0)
    with pytest.raises(InvalidArgumentError, match="does not accept top_k"):
        retriever.invoke(QUESTION, top_k=3)
    with pytest.raises(InvalidArgumentError, match="does not accept filter"):
        await retriever.ainvoke(QUESTION, filter={"a": 1})
    assert len(retriever.invoke(QUESTION, verbose=True)) >= 1  # LangChain's own flag


async def test_without_provenance_every_document_lists_all_entities(
    sample_rag: GraphRAG, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    retriever = GraphRAGRetriever(rag=sample_rag, mode="ppr", k=3)
    context = await sample_rag.retrieve(QUESTION, mode="ppr", top_k=3)
    everything = list(dict.fromkeys(e.name for e in context.entities))
    store = sample_rag.components.store
    original = store.get_entities

    async def retrieve(question: str, **kwargs: Any) -> Any:
        return context  # retrieval itself reads entities too; only the lookup is broken

    monkeypatch.setattr(sample_rag, "retrieve", retrieve)

    async def without_provenance(ids: Any) -> Any:
        return [e.model_copy(update={"source_chunk_ids": []}) for e in await original(ids)]

    monkeypatch.setattr(store, "get_entities", without_provenance)
    docs = await retriever.ainvoke(QUESTION)
    assert [d.metadata["entities"] for d in docs] == [everything] * 3

    async def failing(ids: Any) -> Any:
        raise StoreError("the store went away")

    monkeypatch.setattr(store, "get_entities", failing)
    with caplog.at_level(logging.WARNING, logger="graphrag.integrations.langchain"):
        docs = await retriever.ainvoke(QUESTION)
    assert [d.metadata["entities"] for d in docs] == [everything] * 3
    assert "the store went away" in caplog.text


def test_from_settings_owns_and_closes_its_facade(
    sample_store: Settings, embedder: Any, extractor: Any
) -> None:
    with GraphRAGRetriever.from_settings(
        sample_store, embedder=embedder, extractor=extractor, mode="hybrid", k=2
    ) as retriever:
        assert retriever.owns_rag
        assert retriever.mode is RetrievalMode.HYBRID
        docs = retriever.invoke(QUESTION)
        assert len(docs) == 2
        assert {d.metadata["mode"] for d in docs} == {"hybrid"}
    assert not retriever.owns_rag
    retriever.close()  # a second close does nothing


async def test_afrom_settings_owns_and_closes_its_facade(
    sample_store: Settings, embedder: Any, extractor: Any
) -> None:
    async with await GraphRAGRetriever.afrom_settings(
        sample_store, embedder=embedder, extractor=extractor, k=3
    ) as retriever:
        assert retriever.owns_rag
        assert len(await retriever.ainvoke(QUESTION)) == 3
    assert not retriever.owns_rag


async def test_from_settings_closes_the_facade_when_the_fields_are_bad(
    sample_store: Settings, embedder: Any, extractor: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[GraphRAG] = []
    original = GraphRAG.close

    async def close(self: GraphRAG) -> None:
        closed.append(self)
        await original(self)

    monkeypatch.setattr(GraphRAG, "close", close)
    with pytest.raises(InvalidQueryError):
        await GraphRAGRetriever.afrom_settings(
            sample_store, embedder=embedder, extractor=extractor, mode="telepathy"
        )
    with pytest.raises(InvalidQueryError):
        await asyncio.to_thread(
            GraphRAGRetriever.from_settings,
            sample_store,
            embedder=embedder,
            extractor=extractor,
            mode="telepathy",
        )
    assert len(closed) == 2


def test_a_facade_passed_in_stays_open(sample_rag: GraphRAG) -> None:
    retriever = GraphRAGRetriever(rag=sample_rag, k=1)
    assert not retriever.owns_rag
    retriever.close()
    assert len(retriever.invoke(QUESTION)) == 1  # the shared facade still works


def test_import_graphrag_does_not_import_langchain() -> None:
    code = (
        "import sys, graphrag, graphrag.integrations\n"
        "from graphrag import GraphRAG\n"
        "print(sorted(m for m in sys.modules if m.startswith('langchain')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
