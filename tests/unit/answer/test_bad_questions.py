"""Bad questions get a normal answer from the dense fallback, with a note, in every chunk mode.

Questions that are only stop words, only punctuation, in another script, or that name no
entity of the graph give the keyword and graph modes nothing to go on. With chunks in the
store they must still get a context (dense search) and an answer, never an error or an
empty context, and a note saying the passages come from dense search. Checked on the sample
corpus with the real models, through the retrieval service, the answerer, ``graphrag query``
and the HTTP API.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from graphrag.answer.extractive import abstained
from graphrag.models import Answer, RetrievalMode, RetrievedContext
from graphrag.retrieve.modes import DENSE_FALLBACK_NOTE

ROOT = Path(__file__).resolve().parents[3]
SAMPLES = ROOT / "samples" / "corpus"

BAD_QUESTIONS = [
    "the of and",
    "?!...",
    "Кто основал компанию?",
    "谁创立了公司",
    "what is it about",
]
"""Stop words, punctuation, two other scripts, and a question naming nothing at all."""

UNKNOWN_ENTITY = "Who founded the Qwertzuiop Xylophagy Consortium?"
"""Names an entity the sample graph does not hold."""

CHUNK_MODES = [m for m in RetrievalMode if m is not RetrievalMode.GLOBAL]
FALLBACK_MODES = [RetrievalMode.BM25, RetrievalMode.LOCAL, RetrievalMode.HYBRID, RetrievalMode.PPR]

pytestmark = pytest.mark.slow
in_session_loop = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def components(
    tmp_path_factory: pytest.TempPathFactory, embedder: Any, extractor: Any
) -> AsyncIterator[Any]:
    """The sample corpus in an embedded store, with the default (extractive) answerer."""
    from graphrag.config import ExtractionSettings, load_settings
    from graphrag.ingest.loaders import load_file
    from graphrag.retrieve.question import QuestionAnalyzer
    from graphrag.runtime import open_components

    db = tmp_path_factory.mktemp("bad-questions") / "graph.db"
    settings = load_settings(embedded={"path": db})
    opened = await open_components(
        settings,
        embedder=embedder,
        extractor=extractor,
        analyzer=QuestionAnalyzer(ExtractionSettings(processes=1)),
    )
    documents = [d for p in sorted(SAMPLES.iterdir()) for d in load_file(p, settings.ingest)]
    report = await opened.builder.ingest(documents)
    assert not report.failed
    yield opened
    await opened.close()


def assert_dense_fallback(
    context: RetrievedContext, mode: RetrievalMode, *, keywords: bool
) -> None:
    """Chunks always; the note unless the mode is dense anyway (or bm25 found keywords)."""
    assert context.chunks, (mode, context.question)
    fallback = any(DENSE_FALLBACK_NOTE in note for note in context.notes)
    if mode is RetrievalMode.NAIVE or (keywords and mode is RetrievalMode.BM25):
        assert not fallback, (mode, context.notes)
    else:
        assert fallback, (mode, context.notes)


def assert_normal_answer(answer: Answer, context: RetrievedContext) -> None:
    assert answer.context is not None
    assert answer.context.chunks
    # the context's note reaches the answer (abstaining or not)
    for note in context.notes:
        assert note in answer.notes, (answer.notes, context.notes)
    if not abstained(answer):
        assert answer.citations


@in_session_loop
@pytest.mark.parametrize("question", [*BAD_QUESTIONS, UNKNOWN_ENTITY])
async def test_bad_questions_fall_back_to_dense_search_with_a_note(
    components: Any, question: str
) -> None:
    keywords = question == UNKNOWN_ENTITY  # "founded" is a keyword of the corpus
    for mode in CHUNK_MODES:
        context = await components.retrieval.retrieve(question, mode=mode)
        assert_dense_fallback(context, mode, keywords=keywords)
        answer = await components.answerer.answer(question, context)
        assert_normal_answer(answer, context)


@in_session_loop
async def test_the_dense_fallback_ranks_like_dense_search(components: Any) -> None:
    question = "Кто основал компанию?"
    dense = await components.retrieval.retrieve(question, mode=RetrievalMode.NAIVE)
    for mode in FALLBACK_MODES:
        context = await components.retrieval.retrieve(question, mode=mode)
        assert [c.id for c in context.chunks] == [c.id for c in dense.chunks], mode


@in_session_loop
async def test_a_question_naming_graph_entities_gets_no_fallback_note(components: Any) -> None:
    question = "Who designed the cable system of the Lantern Bridge?"
    for mode in FALLBACK_MODES:
        context = await components.retrieval.retrieve(question, mode=mode)
        assert context.chunks
        assert not any(DENSE_FALLBACK_NOTE in note for note in context.notes), mode


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def client(
    tmp_path_factory: pytest.TempPathFactory, components: Any, embedder: Any, extractor: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """The HTTP API over a copy of the sample store, with a reader's token."""
    from api.app import create_app
    from api.security import Role, mint_token
    from graphrag.config import ExtractionSettings
    from graphrag.retrieve.question import QuestionAnalyzer
    from graphrag.workspaces import WorkspaceManager
    from tests.api.conftest import api_settings

    tmp = tmp_path_factory.mktemp("bad-questions-api")
    store = tmp / "default.db"
    shutil.copy(components.settings.embedded.path, store)
    settings = api_settings(tmp, store, rate_limit="100000/minute")
    analyzer = QuestionAnalyzer(ExtractionSettings(processes=1))
    manager = WorkspaceManager(settings, embedder=embedder, extractor=extractor, analyzer=analyzer)
    app = create_app(settings, workspaces=manager)
    token = mint_token(
        settings, subject="test", role=Role.READER, workspace=settings.api.default_workspace
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            yield http, {"Authorization": f"Bearer {token}"}


@in_session_loop
@pytest.mark.parametrize("question", BAD_QUESTIONS)
async def test_the_api_answers_bad_questions_from_the_dense_fallback(
    client: tuple[httpx.AsyncClient, dict[str, str]], question: str
) -> None:
    http, headers = client
    for mode in ("bm25", "ppr"):
        reply = await http.post(
            "/v1/query", json={"question": question, "mode": mode}, headers=headers
        )
        assert reply.status_code == 200, reply.text
        data = reply.json()
        assert data["context"]["chunks"], (mode, question)
        assert any(DENSE_FALLBACK_NOTE in note for note in data["notes"]), data["notes"]
        assert "short_answer" in data


def test_graphrag_query_answers_bad_questions_from_the_dense_fallback(
    components: Any, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    db = str(tmp_path / "graph.db")
    shutil.copy(components.settings.embedded.path, db)
    for question in ("the of and", "谁创立了公司"):
        result = CliRunner().invoke(
            app, ["query", question, "--mode", "bm25", "--db", db, "--json"]
        )
        assert result.exit_code == 0, result.output
        data = json.loads(result.stdout)
        assert data["context"]["chunks"]
        assert any(DENSE_FALLBACK_NOTE in note for note in data["notes"]), data["notes"]
