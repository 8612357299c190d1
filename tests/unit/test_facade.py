"""The GraphRAG facade over real components: the sample corpus, real spaCy and MiniLM."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import graphrag
from graphrag.errors import InvalidArgumentError, InvalidQueryError, NotFoundError
from graphrag.facade import GraphRAG
from graphrag.ids import normalize_name
from graphrag.models import AnswerKind, Document, RetrievalMode

SAMPLES = Path(__file__).resolve().parents[2] / "samples" / "corpus"


@pytest.fixture
async def rag(settings: Any, embedder: Any, extractor: Any) -> AsyncIterator[GraphRAG]:
    opened = await GraphRAG.open(settings, embedder=embedder, extractor=extractor)
    async with opened:
        summary = await opened.ingest([SAMPLES])
        assert summary.ok, summary.failures
        yield opened


def test_package_exports_the_facade() -> None:
    assert graphrag.GraphRAG is GraphRAG
    assert "GraphRAG" in graphrag.__all__
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        _ = graphrag.nothing  # type: ignore[attr-defined]


async def test_ingest_then_answer_with_citations(rag: GraphRAG) -> None:
    stats = await rag.stats()
    assert stats.documents >= 9
    answer = await rag.answer("Who built the Lantern Bridge?", mode="ppr")
    assert answer.kind is AnswerKind.EXTRACTIVE
    assert answer.citations
    assert answer.context is not None
    assert answer.context.mode is RetrievalMode.PPR
    assert any("lantern bridge" in c.quote.casefold() for c in answer.citations)


async def test_retrieve_honours_mode_and_top_k(rag: GraphRAG) -> None:
    context = await rag.retrieve("Kessel Barrier", mode=RetrievalMode.NAIVE, top_k=2)
    assert context.mode is RetrievalMode.NAIVE
    assert 1 <= len(context.chunks) <= 2


async def test_bad_requests_raise_the_projects_errors(rag: GraphRAG) -> None:
    with pytest.raises(InvalidQueryError, match="empty"):
        await rag.answer("   ")
    with pytest.raises(InvalidQueryError, match="unknown retrieval mode"):
        await rag.retrieve("Who?", mode="telepathy")
    with pytest.raises(InvalidArgumentError, match="top_k"):
        await rag.retrieve("Who?", top_k=0)
    with pytest.raises(NotFoundError):
        await rag.document("no-such-document")
    with pytest.raises(NotFoundError):
        await rag.entity("no-such-entity")
    with pytest.raises(NotFoundError):
        await rag.delete("no-such-document")
    with pytest.raises(InvalidArgumentError, match="empty"):
        await rag.search_entities("  ")


async def test_documents_filters_and_chunks(rag: GraphRAG) -> None:
    everything = await rag.documents()
    csv_rows = await rag.documents(pattern="*velmora_timeline.csv#*")
    assert csv_rows
    assert {d.id for d in csv_rows} < {d.id for d in everything}
    museum = await rag.documents(contains="MUSEUM.JSON")
    assert museum
    chunks = await rag.chunks(museum[0].id)
    assert [c.ordinal for c in chunks] == list(range(museum[0].chunk_count))
    assert all(c.document_id == museum[0].id for c in chunks)


async def test_entity_search_neighbourhood_and_paths(rag: GraphRAG) -> None:
    found = await rag.search_entities("Lantern Bridge", limit=5)
    assert found
    assert normalize_name(found[0].name) == normalize_name("Lantern Bridge")
    bridge = found[0]
    around = await rag.neighbourhood(bridge.id, hops=2, limit=30)
    ids = {e.id for e in around.entities}
    assert bridge.id in ids
    assert len(ids) > 1
    assert all(r.source_id in ids and r.target_id in ids for r in around.relations)
    other = next(e for e in around.entities if e.id != bridge.id)
    paths = await rag.paths(bridge.id, other.id, max_hops=2)
    assert paths.paths
    assert all(p[0] == bridge.id and p[-1] == other.id for p in paths.paths)
    assert all(len(p) - 1 <= 2 for p in paths.paths)
    with pytest.raises(InvalidArgumentError, match="hops"):
        await rag.neighbourhood(bridge.id, hops=9)


async def test_ingest_documents_and_delete(rag: GraphRAG) -> None:
    from graphrag.ids import content_hash, document_id

    text = "The Orchid Tower was designed by Mira Sandvik in Velmora."
    doc = Document(
        id=document_id("api:orchid"),
        source="api:orchid",
        title="Orchid",
        mime="text/plain",
        content_hash=content_hash(text),
        text=text,
    )
    before = await rag.stats()
    summary = await rag.ingest_documents([doc])
    assert summary.ok
    assert (await rag.stats()).documents == before.documents + 1
    reports = await rag.delete(doc.id)
    assert [r.document_id for r in reports] == [doc.id]
    assert (await rag.stats()).documents == before.documents


async def test_merges_and_communities_read(rag: GraphRAG) -> None:
    merges = await rag.merges()
    assert all(m.alias_id != m.canonical_id for m in merges)
    assert await rag.communities() == []
